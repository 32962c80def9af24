//! [`OtelGuard`]: keeps the pipeline running, and flushes and shuts it down once.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::delivery::Delivery;
use super::filter::{without_export_path, Directives};
use super::runtime::ExportRuntime;
use super::{Configure, SCOPE};
use crate::error::Error;
use crate::layer::ResourceLayer;
use crate::metrics::ResourceMetrics;
use crate::sampler::Sampler;

/// Keeps the pipeline running; dropping it flushes and shuts everything down (from any
/// thread, inside or outside any tokio runtime).
#[must_use = "dropping the guard shuts the pipeline down"]
pub struct OtelGuard {
    pub(super) inner: Option<Inner>,
}

pub(super) struct Inner {
    pub(super) sampler: Sampler,
    pub(super) tracer_provider: SdkTracerProvider,
    pub(super) meter_provider: SdkMeterProvider,
    pub(super) _metrics: ResourceMetrics,
    pub(super) runtime: Option<ExportRuntime>,
    pub(super) layer: Option<Configure>,
    /// The level directives, checked at install.
    pub(super) filter: Directives,
    /// Where traces and metrics go, for the shutdown error.
    pub(super) endpoints: (String, String),
    /// How the exports of traces and metrics went (none when the SDK is disabled).
    pub(super) deliveries: Option<(Arc<Delivery>, Arc<Delivery>)>,
    /// The scrape endpoint, when Prometheus is a metrics exporter.
    #[cfg(feature = "prometheus")]
    pub(super) prometheus: Option<crate::prometheus::MetricsService>,
}

impl std::fmt::Debug for OtelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelGuard").finish_non_exhaustive()
    }
}

impl OtelGuard {
    pub(super) fn inner(&self) -> &Inner {
        self.inner
            .as_ref()
            .expect("the guard is only emptied by shutdown, which consumes it")
    }

    /// The Prometheus scrape endpoint, when `OTEL_METRICS_EXPORTER` (or
    /// [`Pipeline::metrics_exporters`](super::Pipeline::metrics_exporters)) lists
    /// `prometheus`: mount it at `/metrics`, or wherever the scraper looks.
    #[cfg(feature = "prometheus")]
    pub fn prometheus(&self) -> Option<crate::prometheus::MetricsService> {
        self.inner().prometheus.clone()
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
    /// [`Pipeline::install_subscriber`](super::Pipeline::install_subscriber)`(false)`).
    ///
    /// Filtered per layer: the level directives ([`Pipeline::filter`](super::Pipeline::filter),
    /// else `RUST_LOG`, else `info`) and [`without_export_path`], so the export path's own
    /// spans and events never reach the exporter, and other layers keep their own filters.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        use tracing_subscriber::filter::FilterExt as _;
        let inner = self.inner();
        let mut builder =
            ResourceLayer::builder(&inner.sampler).metrics(&inner.meter_provider.meter(SCOPE));
        if let Some(configure) = &inner.layer {
            builder = configure(builder);
        }
        let tracer = inner.tracer_provider.tracer(SCOPE);
        // Checked at install, so this parse cannot fail; were it to, nothing is exported
        // rather than everything.
        let level = inner
            .filter
            .filter()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
        builder
            .build()
            .and_then(tracing_opentelemetry::layer().with_tracer(tracer))
            .with_filter(without_export_path().and(level))
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
        if let Some(call) = inner.sampler.shutdown() {
            // The sampler's warning went to its sink, which may be the tracing pipeline just
            // shut down: say it where a person sees it too.
            eprintln!("otel-resmon: at shutdown, the GPU thread was left behind: {call}");
        }
        // Never blocks, so dropping the guard inside an async context is fine.
        drop(inner.runtime);
        let (traces_export, metrics_export) = inner
            .deliveries
            .as_ref()
            .map_or((None, None), |(t, m)| (t.last_error(), m.last_error()));
        let failed: Vec<String> = [
            ("traces", &inner.endpoints.0, traces, traces_export),
            ("metrics", &inner.endpoints.1, metrics, metrics_export),
        ]
        .into_iter()
        .filter_map(|(signal, endpoint, result, export)| {
            // The exporter's own reason first: the SDK's shutdown error only says that it
            // failed, and the batch processor's shutdown succeeds though its last export did not.
            let why = match (export, result.err()) {
                (Some(export), _) => export,
                (None, None) => return None,
                (None, Some(OTelSdkError::AlreadyShutdown)) => "already shut down".to_owned(),
                (None, Some(OTelSdkError::Timeout(t))) => format!("no answer within {t:?}"),
                (None, Some(OTelSdkError::InternalFailure(m))) => m,
            };
            // The SDK nests its messages in Debug quoting: keep the text only.
            let why = why.replace(['"', '\\', '[', ']'], "");
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
