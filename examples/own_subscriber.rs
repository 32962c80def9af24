//! Bring your own subscriber: a global one with `fmt`, an env filter, `ResourceLayer`, the
//! OpenTelemetry layer, the crate's metrics and Resource on providers you build, and the
//! propagator. README.md embeds this file; `tests/own_subscriber.rs` runs it against rotel.
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_resmon::{otlp, ResourceLayer, Sampler};
use tracing_subscriber::filter::{EnvFilter, FilterExt};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, Layer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sampler = Sampler::new()?; // RESMON_* settings
                                   // container.id, k8s.pod.uid, host.name and the GPU inventory, with OTEL_SERVICE_NAME and
                                   // OTEL_RESOURCE_ATTRIBUTES: once on the Resource instead of on every span.
    let resource = otlp::resource(&sampler)?;
    // Your exporters (here OTLP/gRPC to OTEL_EXPORTER_OTLP_ENDPOINT, built in the runtime).
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()?,
        )
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(
            PeriodicReader::builder(
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .build()?,
            )
            .build(),
        )
        .build();
    let meter = meter_provider.meter("my-service");
    // The semantic-convention GPU, host, process and container metrics; keep the handle.
    let _metrics = otel_resmon::metrics::register(&meter, &sampler);
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let otel = ResourceLayer::builder(&sampler)
        .metrics(&meter) // per-span histograms
        .build()
        .and_then(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("my-service")))
        // RUST_LOG for what is exported, and never the exporter's own spans.
        .with_filter(otlp::without_export_path().and(EnvFilter::from_default_env()));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(EnvFilter::from_default_env()))
        .with(otel)
        .init();

    let span = tracing::info_span!("own_subscriber.work", resmon.sample_now = true);
    span.in_scope(|| {
        let block = std::hint::black_box(vec![1u8; 64 << 20]); // some work
        tracing::info!(bytes = block.len(), "worked");
    });
    drop(span);

    tracer_provider.shutdown()?;
    meter_provider.shutdown()?;
    Ok(())
}
