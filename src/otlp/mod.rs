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
#![doc = include_str!("reference.md")]

mod delivery;
mod exporters;
mod filter;
mod guard;
mod http_client;
mod pairs;
mod propagators;
mod resource;
mod runtime;
mod settings;
mod tls;

use std::sync::Arc;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;

use exporters::Exporters;
pub use filter::{without_export_path, OutsideExportPath};
use guard::Inner;
pub use guard::OtelGuard;
pub use resource::resource;
pub use settings::{MetricsExporter, Protocol};
use settings::{MetricsExporters, Settings};

use crate::error::Error;
use crate::layer::ResourceLayerBuilder;
use crate::sampler::{Sampler, SamplerBuilder};

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
    filter: Option<String>,
    tls: TlsSettings,
    metrics_exporters: Option<MetricsExporters>,
}

/// The TLS files given in code; each replaces its variables for both signals.
#[derive(Debug, Default)]
struct TlsSettings {
    certificate: Option<std::path::PathBuf>,
    client_certificate: Option<std::path::PathBuf>,
    client_key: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("sampler", &self.sampler)
            .field("install_subscriber", &self.install_subscriber)
            .field("filter", &self.filter)
            .field("tls", &self.tls)
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
            filter: None,
            tls: TlsSettings::default(),
            metrics_exporters: None,
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
    /// the process sets one of them. The SDK still reads its own variables from the process,
    /// whatever this function gives: `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
    /// `OTEL_SPAN_*_COUNT_LIMIT` and `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`
    /// ([`guide::settings`](crate::guide::settings#what-the-opentelemetry-sdk-reads-itself)).
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

    /// The level directives for the exported spans and events, in `RUST_LOG`'s syntax (e.g.
    /// `info,my_crate=debug`); they replace `RUST_LOG`, whose absence means `info`. The export
    /// path's own spans never reach the exporter, whatever the directives say.
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = Some(directives.into());
        self
    }

    /// The PEM file of the CA that the collector's certificate must chain to, for both
    /// signals; replaces `OTEL_EXPORTER_OTLP_CERTIFICATE` and its per-signal forms. Without
    /// either, `https://` endpoints are checked against the system's roots. Like the client
    /// certificate and key, it needs `https://` endpoints: with a plain `http://` one,
    /// [`Pipeline::install`] is an error naming the setting and the endpoint.
    pub fn certificate(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls.certificate = Some(pem_file.into());
        self
    }

    /// The PEM file of the client certificate chain, for collectors that require mutual
    /// TLS; replaces `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and its per-signal forms. Needs
    /// [`Pipeline::client_key`] (or its variables).
    pub fn client_certificate(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls.client_certificate = Some(pem_file.into());
        self
    }

    /// The PEM file of the client certificate's private key (PKCS#8, PKCS#1 or SEC1);
    /// replaces `OTEL_EXPORTER_OTLP_CLIENT_KEY` and its per-signal forms.
    pub fn client_key(mut self, pem_file: impl Into<std::path::PathBuf>) -> Self {
        self.tls.client_key = Some(pem_file.into());
        self
    }

    /// Where the metrics go, replacing `OTEL_METRICS_EXPORTER` (default: OTLP alone): OTLP,
    /// a Prometheus scrape endpoint ([`OtelGuard::prometheus`], the `prometheus` feature),
    /// both, or none (an empty list). Traces go over OTLP either way.
    pub fn metrics_exporters(mut self, exporters: &[MetricsExporter]) -> Self {
        self.metrics_exporters = Some(MetricsExporters::of(exporters));
        self
    }

    /// Code over environment: the `Pipeline`'s settings replace what the variables said.
    fn apply_code_settings(&self, settings: &mut Settings) -> Result<(), Error> {
        if let Some(exporters) = self.metrics_exporters {
            if exporters.prometheus && !cfg!(feature = "prometheus") {
                return Err(Error::InvalidSetting {
                    setting: "Pipeline::metrics_exporters",
                    value: "Prometheus".to_owned(),
                    reason: "needs the crate's `prometheus` feature",
                });
            }
            settings.metrics_exporters = exporters;
        }
        if let Some(directives) = &self.filter {
            settings.filter = filter::Directives::checked("Pipeline::filter", directives)?;
        }
        for export in [&mut settings.traces, &mut settings.metrics] {
            let code = [
                (
                    "Pipeline::certificate",
                    &self.tls.certificate,
                    &mut export.tls.certificate,
                ),
                (
                    "Pipeline::client_certificate",
                    &self.tls.client_certificate,
                    &mut export.tls.client_certificate,
                ),
                (
                    "Pipeline::client_key",
                    &self.tls.client_key,
                    &mut export.tls.client_key,
                ),
            ];
            for (setting, given, slot) in code {
                if let Some(path) = given {
                    *slot = Some(tls::Source {
                        setting,
                        path: path.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Builds and starts everything.
    ///
    /// # Errors
    /// As [`init`].
    pub fn install(mut self) -> Result<OtelGuard, Error> {
        let mut settings = match self.env.take() {
            Some(env) => {
                settings::process_sets_nothing_the_sdk_reads()?;
                Settings::resolve(&*env)?
            }
            None => {
                let env = crate::env::read(&settings::VARIABLES)?;
                Settings::resolve(&|name| env.get(name).cloned())?
            }
        };
        self.apply_code_settings(&mut settings)?;
        let sampler = self.sampler.build()?;
        let resource = resource::build(
            settings.service_name.as_deref(),
            &settings.resource_attributes,
            &sampler,
        );

        let mut meters = SdkMeterProvider::builder().with_resource(resource.clone());
        // The scrape endpoint is a reader of the provider, beside or instead of OTLP's.
        #[cfg(feature = "prometheus")]
        let prometheus = if settings.metrics_exporters.prometheus && !settings.disabled {
            let (reader, service) = crate::prometheus::reader()?;
            meters = meters.with_reader(reader);
            Some(service)
        } else {
            None
        };
        let (tracer_provider, meter_provider, runtime, deliveries) = if settings.disabled {
            (
                SdkTracerProvider::builder().with_resource(resource).build(),
                meters.build(),
                None,
                None,
            )
        } else {
            let exporters = Exporters::build(&settings)?;
            let deliveries = (
                exporters.traces.delivery.clone(),
                exporters.metrics.delivery.clone(),
            );
            if settings.metrics_exporters.otlp {
                let reader = PeriodicReader::builder(exporters.metrics)
                    .with_interval(settings.metric_interval)
                    .build();
                meters = meters.with_reader(reader);
            }
            (
                SdkTracerProvider::builder()
                    .with_resource(resource)
                    .with_batch_exporter(exporters.traces)
                    .build(),
                meters.build(),
                Some(exporters.runtime),
                Some(deliveries),
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
                filter: settings.filter.clone(),
                endpoints: (
                    settings.traces.endpoint.clone(),
                    settings.metrics.endpoint.clone(),
                ),
                deliveries,
                #[cfg(feature = "prometheus")]
                prometheus,
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
