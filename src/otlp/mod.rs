//! The one-call pipeline: tracer and meter providers exporting over OTLP, the sampler, its
//! metrics, and the tracing subscriber with the layers in the right order.
//!
//! ```no_run
//! # fn main() -> Result<(), otel_resmon::Error> {
//! // Reads OTEL_EXPORTER_OTLP_ENDPOINT (and the per-signal ones), OTEL_EXPORTER_OTLP_PROTOCOL,
//! // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_METRIC_EXPORT_INTERVAL, OTEL_SDK_DISABLED,
//! // OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_PROPAGATORS,
//! // OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT, and the sampler's RESMON_* variables.
//! let _telemetry = otel_resmon::otlp::init()?;
//! tracing::info_span!("work").in_scope(|| { /* ... */ });
//! # Ok(()) }
//! // Dropping the guard flushes and shuts everything down.
//! ```

mod pairs;
mod propagators;
mod resource;
mod settings;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

pub use settings::Protocol;
use settings::{Export, Settings};

use crate::layer::ResourceLayerBuilder;
use crate::metrics::ResourceMetrics;
use crate::{Error, ResourceLayer, Sampler, SamplerBuilder};

/// Instrumentation scope name of the crate's tracer and meter.
pub const SCOPE: &str = "otel-resmon";

type Env = Box<dyn Fn(&str) -> Option<String>>;
type Configure = Arc<dyn Fn(ResourceLayerBuilder) -> ResourceLayerBuilder + Send + Sync>;

/// Builds the pipeline; [`init`] is `Pipeline::new().install()`.
#[must_use]
pub struct Pipeline {
    sampler: SamplerBuilder,
    env: Option<Env>,
    layer: Option<Configure>,
    install_subscriber: bool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("sampler", &self.sampler)
            .field("install_subscriber", &self.install_subscriber)
            .finish_non_exhaustive()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts the whole pipeline from the environment and installs the global tracing subscriber.
///
/// # Errors
/// [`Error::InvalidSetting`] naming the variable for an unusable `OTEL_*` or `RESMON_*` value,
/// [`Error::Exporter`] if an exporter cannot be built, [`Error::Subscriber`] if a global
/// subscriber is already installed.
pub fn init() -> Result<OtelGuard, Error> {
    Pipeline::new().install()
}

impl Pipeline {
    /// The default pipeline: sampler from the environment, default layer, global subscriber.
    pub fn new() -> Self {
        Self {
            sampler: Sampler::builder(),
            env: None,
            layer: None,
            install_subscriber: true,
        }
    }

    /// The sampler's settings (default: [`Sampler::builder`], which reads `RESMON_*`).
    pub fn sampler(mut self, sampler: SamplerBuilder) -> Self {
        self.sampler = sampler;
        self
    }

    /// Reads the `OTEL_*` settings from this function instead of the process environment
    /// (a configuration file, or a test): endpoints, protocols, timeouts, headers,
    /// compression, resource attributes, service name, propagators. The sampler's settings
    /// come from [`Pipeline::sampler`]. opentelemetry-otlp reads the header and compression
    /// variables from the process itself, so [`Pipeline::install`] refuses, naming it, while
    /// the process sets one of them.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.env = Some(Box::new(lookup));
        self
    }

    /// Adjusts the resource layer (span selection, figure set, thresholds).
    pub fn layer(
        mut self,
        configure: impl Fn(ResourceLayerBuilder) -> ResourceLayerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.layer = Some(Arc::new(configure));
        self
    }

    /// Whether [`Pipeline::install`] sets the global tracing subscriber (default yes). Without
    /// it, compose [`OtelGuard::layer`] into a subscriber of your own.
    pub fn install_subscriber(mut self, on: bool) -> Self {
        self.install_subscriber = on;
        self
    }

    /// Builds and starts everything.
    ///
    /// # Errors
    /// As [`init`].
    pub fn install(mut self) -> Result<OtelGuard, Error> {
        let settings = match self.env.take() {
            Some(env) => {
                settings::process_sets_nothing_the_sdk_reads()?;
                Settings::resolve(&*env)?
            }
            None => {
                let env = crate::env::read(&settings::VARIABLES)?;
                Settings::resolve(&|name| env.get(name).cloned())?
            }
        };
        let sampler = self.sampler.build()?;
        let resource = resource::build(&settings, &sampler);

        let (tracer_provider, meter_provider, runtime) = if settings.disabled {
            (
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .build(),
                SdkMeterProvider::builder().with_resource(resource).build(),
                None,
            )
        } else {
            let exporters = Exporters::build(&settings)?;
            let reader = PeriodicReader::builder(exporters.metrics)
                .with_interval(settings.metric_interval)
                .build();
            (
                SdkTracerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(exporters.traces)
                    .build(),
                SdkMeterProvider::builder()
                    .with_resource(resource)
                    .with_reader(reader)
                    .build(),
                exporters.runtime,
            )
        };
        let meter = meter_provider.meter(SCOPE);
        let metrics = crate::metrics::register(&meter, &sampler);

        let guard = OtelGuard {
            inner: Some(Inner {
                sampler,
                tracer_provider,
                meter_provider,
                _metrics: metrics,
                runtime,
                layer: self.layer,
                endpoints: (
                    settings.traces.endpoint.clone(),
                    settings.metrics.endpoint.clone(),
                ),
            }),
        };
        if self.install_subscriber {
            // Before any global of OpenTelemetry's: when this fails (a subscriber is already
            // installed), the guard shuts its providers down and nothing global has changed.
            let subscriber = tracing_subscriber::registry().with(guard.layer());
            tracing::subscriber::set_global_default(subscriber)
                .map_err(|e| Error::Subscriber(e.to_string()))?;
        }
        let inner = guard.inner();
        opentelemetry::global::set_tracer_provider(inner.tracer_provider.clone());
        opentelemetry::global::set_meter_provider(inner.meter_provider.clone());
        // What the tower layer extracts with, and the application's outgoing calls inject with.
        opentelemetry::global::set_text_map_propagator(propagators::build(&settings.propagators));
        Ok(guard)
    }
}

/// The exporters, built where their clients need to be built.
struct Exporters {
    traces: opentelemetry_otlp::SpanExporter,
    metrics: opentelemetry_otlp::MetricExporter,
    /// gRPC exporters do their I/O on this runtime, owned by the pipeline, so exports and the
    /// final flush never depend on (or block) the application's runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Exporters {
    fn build(settings: &Settings) -> Result<Self, Error> {
        let needs_runtime =
            [settings.traces.protocol, settings.metrics.protocol].contains(&Protocol::Grpc);
        let runtime = if needs_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("otel-resmon-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Exporter(format!("cannot start the OTLP runtime: {e}")))?,
            )
        } else {
            None
        };
        // Built on a thread of its own: outside any runtime of the caller (the blocking HTTP
        // client must not be created inside one), inside ours for gRPC.
        let handle = runtime.as_ref().map(|r| r.handle().clone());
        let (traces, metrics) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _entered = handle.as_ref().map(|h| h.enter());
                    Ok::<_, Error>((
                        span_exporter(&settings.traces)?,
                        metric_exporter(&settings.metrics)?,
                    ))
                })
                .join()
                .map_err(|_| Error::Exporter("building the OTLP exporters panicked".into()))?
        })?;
        Ok(Self {
            traces,
            metrics,
            runtime,
        })
    }
}

fn exporter_error(signal: &str, e: impl std::fmt::Display) -> Error {
    Error::Exporter(format!("cannot build the OTLP {signal} exporter: {e}"))
}

/// The headers as the HTTP exporter takes them (values came from strings, so they read back).
fn http_headers(e: &Export) -> std::collections::HashMap<String, String> {
    e.headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// The headers as gRPC metadata.
fn grpc_metadata(e: &Export) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(e.headers.clone())
}

/// Builds one signal's exporter from its settings: the same calls for traces and metrics.
macro_rules! build_exporter {
    ($builder:expr, $e:expr, $signal:literal) => {{
        let e: &Export = $e;
        match e.protocol {
            Protocol::Grpc => {
                let b = $builder
                    .with_tonic()
                    .with_endpoint(&e.endpoint)
                    .with_timeout(e.timeout)
                    .with_metadata(grpc_metadata(e));
                match e.compression {
                    Some(c) => b.with_compression(c).build(),
                    None => b.build(),
                }
            }
            Protocol::HttpProtobuf => {
                let b = $builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(&e.endpoint)
                    .with_timeout(e.timeout)
                    .with_headers(http_headers(e));
                match e.compression {
                    Some(c) => b.with_compression(c).build(),
                    None => b.build(),
                }
            }
        }
        .map_err(|err| exporter_error($signal, err))
    }};
}

fn span_exporter(e: &Export) -> Result<opentelemetry_otlp::SpanExporter, Error> {
    build_exporter!(opentelemetry_otlp::SpanExporter::builder(), e, "trace")
}

fn metric_exporter(e: &Export) -> Result<opentelemetry_otlp::MetricExporter, Error> {
    build_exporter!(opentelemetry_otlp::MetricExporter::builder(), e, "metric")
}

/// Keeps the pipeline running; dropping it flushes and shuts everything down (from any
/// thread, inside or outside any tokio runtime).
#[must_use = "dropping the guard shuts the pipeline down"]
pub struct OtelGuard {
    inner: Option<Inner>,
}

struct Inner {
    sampler: Sampler,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    _metrics: ResourceMetrics,
    runtime: Option<tokio::runtime::Runtime>,
    layer: Option<Configure>,
    /// Where traces and metrics go, for the shutdown error.
    endpoints: (String, String),
}

impl std::fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelGuard").finish_non_exhaustive()
    }
}

impl OtelGuard {
    fn inner(&self) -> &Inner {
        self.inner
            .as_ref()
            .expect("the guard is only emptied by shutdown, which consumes it")
    }

    /// The running sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.inner().sampler
    }

    /// The tracer provider (also installed as OpenTelemetry's global one).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.inner().tracer_provider
    }

    /// The meter provider (also installed as OpenTelemetry's global one).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.inner().meter_provider
    }

    /// `ResourceLayer` and tracing-opentelemetry's layer composed in the right order, with
    /// per-span histograms on this pipeline's meter, for a subscriber of your own (with
    /// [`Pipeline::install_subscriber`]`(false)`).
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let inner = self.inner();
        let mut builder =
            ResourceLayer::builder(&inner.sampler).metrics(&inner.meter_provider.meter(SCOPE));
        if let Some(configure) = &inner.layer {
            builder = configure(builder);
        }
        let tracer = inner.tracer_provider.tracer(SCOPE);
        builder
            .build()
            .and_then(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    /// Flushes and shuts down now, reporting what failed.
    ///
    /// # Errors
    /// [`Error::Exporter`] with the providers' shutdown errors (e.g. the collector was down).
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<(), Error> {
        let Some(inner) = self.inner.take() else {
            return Ok(());
        };
        let traces = inner
            .tracer_provider
            .shutdown_with_timeout(Duration::from_secs(5));
        let metrics = inner
            .meter_provider
            .shutdown_with_timeout(Duration::from_secs(5));
        inner.sampler.shutdown();
        if let Some(runtime) = inner.runtime {
            // Never blocks, so dropping the guard inside an async context is fine.
            runtime.shutdown_background();
        }
        let failed: Vec<String> = [
            ("traces", &inner.endpoints.0, traces),
            ("metrics", &inner.endpoints.1, metrics),
        ]
        .into_iter()
        .filter_map(|(signal, endpoint, result)| {
            let why = match result.err()? {
                OTelSdkError::AlreadyShutdown => "already shut down".to_owned(),
                OTelSdkError::Timeout(t) => format!("no answer within {t:?}"),
                // The SDK nests its messages in Debug quoting: keep the text only.
                OTelSdkError::InternalFailure(m) => m.replace(['"', '\\', '[', ']'], ""),
            };
            Some(format!(
                "the last {signal} were not delivered to {endpoint}: {why}"
            ))
        })
        .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Exporter(format!(
                "at shutdown, {}",
                failed.join("; ")
            )))
        }
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown_inner() {
            eprintln!("otel-resmon: {e}");
        }
    }
}
