//! [`CallerContextLayer`]: the caller's trace context and baggage made current while the
//! services inside it are called, so that a span another layer opens there (tower-http's
//! `TraceLayer`) starts as the caller's child.
//!
//! tracing-opentelemetry starts a span's OpenTelemetry side when the span is first entered,
//! and `TraceLayer` enters its span before it calls the service inside it: by the time
//! [`ResourceTraceLayer`](super::ResourceTraceLayer) adopts that span
//! (`in_current_span(true)`), its trace is fixed. The caller's context has to be current when
//! the span is created, outside `TraceLayer`: this layer does that, with OpenTelemetry's
//! global propagator (W3C, B3, ... as `OTEL_PROPAGATORS` sets it under `otlp::init`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;

use super::propagation;

/// Makes the caller's context current while the inner service is called and its future
/// polled: put it outside
/// tower-http's `TraceLayer` when `ResourceTraceLayer::in_current_span(true)` adopts its span.
///
/// ```rust,no_run
/// # use axum::{routing::get, Router};
/// # use otel_resmon::tower::{CallerContextLayer, ResourceTraceLayer};
/// # fn app(sampler: &otel_resmon::Sampler) -> Router {
/// Router::new()
///     .route("/hello", get(|| async { "hello" }))
///     .layer(ResourceTraceLayer::new(sampler).in_current_span(true))
///     .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(
///         tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
///     ))
///     .layer(CallerContextLayer::new()) // outermost: the caller's context first
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct CallerContextLayer {
    _private: (),
}

impl CallerContextLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> tower::Layer<S> for CallerContextLayer {
    type Service = CallerContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CallerContext { inner }
    }
}

/// The service of [`CallerContextLayer`].
#[derive(Debug, Clone)]
pub struct CallerContext<S> {
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for CallerContext<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = CallerContextFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let caller = propagation::remote_parent(req.headers());
        let inner = {
            let _current = caller.clone().map(opentelemetry::Context::attach);
            self.inner.call(req)
        };
        CallerContextFuture { inner, caller }
    }
}

pin_project_lite::pin_project! {
    /// The inner service's future, polled with the caller's context current: services that
    /// call their own inner service on first poll (axum's routes) open their spans there.
    pub struct CallerContextFuture<F> {
        #[pin]
        inner: F,
        caller: Option<opentelemetry::Context>,
    }
}

impl<F: Future> Future for CallerContextFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _current = this.caller.clone().map(opentelemetry::Context::attach);
        this.inner.poll(cx)
    }
}
