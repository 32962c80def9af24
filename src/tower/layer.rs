//! The tower `Layer`.

use std::sync::Arc;

use opentelemetry::metrics::Meter;

use super::layer_state::LayerState;
use super::request_metrics::RequestMetrics;
use super::service::ResourceTrace;
use crate::sampler::Sampler;

/// Wraps a service so every request is a server span with resource figures.
///
/// Cheap to clone. The spans need a subscriber with [`ResourceLayer`](crate::ResourceLayer)
/// and tracing-opentelemetry's layer (what [`otlp::init`](crate::otlp::init) installs).
#[derive(Clone, Debug)]
#[must_use]
pub struct ResourceTraceLayer {
    pub(crate) shared: Arc<LayerState>,
}

impl ResourceTraceLayer {
    /// A layer reading `sampler`; the stderr summary follows `RESMON_REPORT` (`1`, `true`,
    /// `on`, `yes` turn it on; empty or unset leave it off; any other value leaves it off and
    /// says so once on stderr). Request-derived span values (user agent, path, host, RPC
    /// names) are cut to `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` characters, 1024 when unset (an
    /// unusable value is said once on stderr; `otlp::init` refuses it).
    pub fn new(sampler: &Sampler) -> Self {
        Self {
            shared: Arc::new(LayerState::new(sampler)),
        }
    }

    /// Records `http.server.request.duration` (s) and the per-request CPU time and GPU
    /// memory peak histograms on this meter, with bounded attributes only (method, route,
    /// status code, scheme, error type).
    pub fn metrics(self, meter: &Meter) -> Self {
        self.map(|s| s.metrics = Some(RequestMetrics::new(meter)))
    }

    /// Prints a summary of every request on stderr (time, sizes, RAM, CPU, GPU), as the
    /// `RESMON_REPORT=1` environment variable does; `false` turns it off whatever the
    /// variable says.
    pub fn report(self, on: bool) -> Self {
        self.map(|s| s.report = on)
    }

    /// With `true`, puts each request's figures and HTTP attributes on the span that is
    /// current when the request reaches this layer, instead of opening a span of its own: for a stack that
    /// already opens one span per request, such as tower-http's `TraceLayer` placed outside
    /// this layer. One span per request instead of two, which on an empty handler is most of
    /// this crate's cost (see BENCHMARKS.md).
    ///
    /// The adopted span gets, at its close and in one batch with the figures, the name
    /// `"{method} {route}"` and `http.request.method`, `http.route`,
    /// `http.response.status_code`, `error.type`, the `rpc.*` attributes of a gRPC call and
    /// `resmon.cancelled`; its kind, parent and other fields stay what its owner made them.
    /// Needs a [`ResourceLayer`](crate::ResourceLayer) in the span's subscriber; a request with
    /// no current span, or without that layer, gets a span of its own as usual.
    ///
    /// ```
    /// # let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
    /// use otel_resmon::tower::ResourceTraceLayer;
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/", axum::routing::get(|| async { "hello" }))
    ///     .layer(ResourceTraceLayer::new(&sampler).in_current_span(true))
    ///     // Outside: its span is current. At INFO, as tower-http's default DEBUG spans fall
    ///     // below the pipeline's default `info` filter.
    ///     .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
    ///         tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
    ///     ));
    /// # Ok::<(), otel_resmon::Error>(())
    /// ```
    pub fn in_current_span(self, on: bool) -> Self {
        self.map(|s| s.in_current_span = on)
    }

    /// Cuts each request-derived span value (`user_agent.original`, `url.path`,
    /// `server.address`, the `rpc.*` names and a gRPC span's name) to `chars` characters
    /// (at least 1), instead of `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` or its default of 1024. The
    /// SDK's queue holds 2048 spans, so this bounds what a slow collector costs in memory.
    pub fn value_length_limit(self, chars: usize) -> Self {
        self.map(|s| s.value_limit = chars.max(1))
    }

    fn map(self, f: impl FnOnce(&mut LayerState)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|arc| arc.settings());
        f(&mut shared);
        Self {
            shared: Arc::new(shared),
        }
    }
}

impl<S> tower::Layer<S> for ResourceTraceLayer {
    type Service = ResourceTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResourceTrace::with_shared(inner, self.shared.clone())
    }
}
