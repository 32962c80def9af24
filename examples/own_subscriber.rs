//! Bring your own subscriber: an axum service that already has tower-http's `TraceLayer`,
//! tracing-opentelemetry and providers of its own adds the crate's parts: `ResourceLayer` before
//! the OpenTelemetry layer, `ResourceTraceLayer` inside `TraceLayer` (the figures go on
//! tower-http's span), `CallerContextLayer` outside it, the metrics and the Resource.
//! README.md's recipe is the part between the `README` markers; `tests/own_subscriber.rs` runs
//! this against rotel: one request through the router (no socket) and one plain span.
use axum::routing::get;
use axum::Router;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use otel_resmon::tower::{CallerContextLayer, ResourceTraceLayer};
use otel_resmon::{otlp, ResourceLayer, Sampler};
use tower::ServiceExt as _;
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, FilterExt};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, Layer};

/// What the service already had: its tracer and meter providers (here OTLP/gRPC to
/// `OTEL_EXPORTER_OTLP_ENDPOINT`, built inside the runtime), with the Resource it is given.
fn your_providers(
    resource: Resource,
) -> Result<(SdkTracerProvider, SdkMeterProvider), Box<dyn std::error::Error>> {
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_tonic()
        .build()?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_batch_exporter(spans)
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(PeriodicReader::builder(metrics).build())
        .build();
    Ok((tracer_provider, meter_provider))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README: begin own_subscriber
    // The caller's traceparent, for CallerContextLayer below (yours may be set already).
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // RESMON_* settings; the Resource gets container.id, k8s.pod.uid and the GPU inventory.
    let sampler = Sampler::new()?;
    let (tracer_provider, meter_provider) = your_providers(otlp::resource(&sampler)?)?;
    let meter = meter_provider.meter("my-service");
    let _metrics = otel_resmon::metrics::register(&meter, &sampler); // GPU, host, container
                                                                     // RUST_LOG's directives, `info` where it is unset (EnvFilter's own default is `error`).
    let rust_log = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let otel = ResourceLayer::builder(&sampler)
        .metrics(&meter) // per-span histograms
        .build()
        // ResourceLayer first: it writes into the OpenTelemetry span before that one ends.
        .and_then(tracing_opentelemetry::layer().with_tracer(tracer_provider.tracer("my-service")))
        // RUST_LOG for what is exported, and never the exporter's own spans.
        .with_filter(otlp::without_export_path().and(rust_log()));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(rust_log()))
        .with(otel)
        .init();

    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        // The figures and HTTP attributes go on tower-http's span: one span per request.
        .layer(ResourceTraceLayer::new(&sampler).in_current_span(true))
        .layer(TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().level(Level::INFO)))
        .layer(CallerContextLayer::new()); // the caller's traceparent, for tower-http's span
                                           // README: end own_subscriber

    // One request through the whole stack, without a socket; the span ends with the body.
    let request = http::Request::get("/hello").body(axum::body::Body::empty())?;
    let response = app.oneshot(request).await?;
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    tracing::info!(bytes = body.len(), "answered");

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
