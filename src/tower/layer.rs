//! The tower `Layer`.

use std::sync::Arc;

use opentelemetry::metrics::Meter;

use super::metrics::RequestMetrics;
use super::service::ResourceTrace;
use crate::Sampler;

/// Wraps a service so every request is a server span with resource figures.
///
/// Cheap to clone. The spans need a subscriber with [`ResourceLayer`](crate::ResourceLayer)
/// and tracing-opentelemetry's layer (what [`otlp::init`](crate::otlp::init) installs).
#[derive(Clone, Debug)]
pub struct ResourceTraceLayer {
    pub(crate) shared: Arc<Shared>,
}

/// What every request of one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) sampler: Sampler,
    pub(crate) metrics: Option<RequestMetrics>,
    pub(crate) report: bool,
}

impl ResourceTraceLayer {
    /// A layer reading `sampler`; the stderr summary follows `RESMON_REPORT`.
    pub fn new(sampler: &Sampler) -> Self {
        let report = std::env::var(super::ENV_REPORT).is_ok_and(|v| v.trim() == "1");
        Self {
            shared: Arc::new(Shared {
                sampler: sampler.clone(),
                metrics: None,
                report,
            }),
        }
    }

    /// Records `http.server.request.duration` (s) and the per-request CPU time and GPU
    /// memory peak histograms on this meter, with bounded attributes only (method, route,
    /// status code, scheme, error type).
    pub fn with_metrics(self, meter: &Meter) -> Self {
        self.map(|s| s.metrics = Some(RequestMetrics::new(meter)))
    }

    /// Prints a summary of every request on stderr (time, sizes, RAM, CPU, GPU), as the
    /// `RESMON_REPORT=1` environment variable does.
    pub fn with_report(self, on: bool) -> Self {
        self.map(|s| s.report = on)
    }

    fn map(self, f: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|arc| Shared {
            sampler: arc.sampler.clone(),
            metrics: arc.metrics.clone(),
            report: arc.report,
        });
        f(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> tower::Layer<S> for ResourceTraceLayer {
    type Service = ResourceTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResourceTrace::from_layer(inner, self.clone())
    }
}
