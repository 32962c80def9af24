//! A Prometheus scrape endpoint: the pipeline's metrics in the text exposition format, through
//! opentelemetry-prometheus, served by a tower service mounted wherever the application
//! likes (`/metrics`, usually).
//!
//! Turn it on with `OTEL_METRICS_EXPORTER=prometheus` (instead of OTLP) or
//! `OTEL_METRICS_EXPORTER=otlp,prometheus` (both), or in code with
//! [`Pipeline::metrics_exporters`](crate::otlp::Pipeline::metrics_exporters); then
//! [`OtelGuard::prometheus`](crate::otlp::OtelGuard::prometheus) gives the service:
//!
//! ```no_run
//! # #[cfg(feature = "axum")] {
//! # fn main() -> Result<(), otel_resmon::Error> {
//! use otel_resmon::otlp::{MetricsExporter, Pipeline};
//! let telemetry = Pipeline::new()
//!     .metrics_exporters(&[MetricsExporter::Otlp, MetricsExporter::Prometheus])
//!     .install()?;
//! let mut app: axum::Router = axum::Router::new();
//! if let Some(metrics) = telemetry.prometheus() {
//!     app = app.route_service("/metrics", metrics);
//! }
//! # Ok(()) }
//! # }
//! ```
//!
//! Names follow the OpenTelemetry Collector's Prometheus exporter, so a dashboard reads the
//! same series from either: `hw.gpu.memory.usage` (`By`) is `hw_gpu_memory_usage_bytes`,
//! counters end in `_total`, and `_ratio` is added to gauges of unit `1` only (an up-down
//! counter of unit `1` such as `hw.status` is `hw_status`, where opentelemetry-prometheus
//! alone would write `hw_status_ratio`).

mod names;
mod service;

pub use service::MetricsService;

use crate::error::Error;

/// A Prometheus reader for the pipeline's meter provider, and the service that renders what
/// it collects.
pub(crate) fn reader(
) -> Result<(opentelemetry_prometheus::PrometheusExporter, MetricsService), Error> {
    let registry = ::prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
        .map_err(|e| Error::Exporter(format!("the Prometheus reader: {e}")))?;
    Ok((exporter, MetricsService::new(registry)))
}
