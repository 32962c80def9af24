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

mod exporters;
mod guard;
mod pairs;
mod propagators;
mod resource;
mod settings;

use std::sync::Arc;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;

use exporters::Exporters;
use guard::Inner;
pub use guard::OtelGuard;
pub use settings::Protocol;
use settings::Settings;

use crate::layer::ResourceLayerBuilder;
use crate::{Error, Sampler, SamplerBuilder};

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
