//! One request's span and bookkeeping, from `call` until its response body ends (or it is
//! dropped: a cancelled request still ends its span, with its figures, marked cancelled).
//!
//! `span` opens the request's own span, `handover` hands an adopted span its attributes, and
//! `end` closes the books: metrics, report, handover.

mod end;
mod handover;
mod span;

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Request, Response};

use super::exchange::Exchange;
use super::layer_state::LayerState;
use super::semconv;
use crate::env::truncate;
use crate::snapshot::Snapshot;
use handover::Adopted;

pub(crate) struct RequestState {
    span: tracing::Span,
    /// The span is an outer layer's (tower-http's), adopted: this layer does not enter it and
    /// hands its HTTP attributes over at the end instead of recording fields.
    adopted: Option<Adopted>,
    shared: Arc<LayerState>,
    x: Exchange,
    finished: bool,
}

/// The names a request's span carries, cut to the layer's limit: request-derived values are
/// as long as the client makes them, and the SDK queues 2048 spans.
struct Names<'r> {
    /// The span's name: `{service}/{method}` for gRPC, else `{method} {route}` or `{method}`.
    span: String,
    path: &'r str,
    /// gRPC service and method (empty for plain HTTP).
    rpc: (&'r str, &'r str),
}

impl<'r> Names<'r> {
    fn of<B>(req: &'r Request<B>, x: &Exchange, limit: usize) -> Self {
        let full_path = req.uri().path();
        let rpc = if x.grpc {
            let mut p = full_path.trim_start_matches('/').splitn(2, '/');
            (
                truncate(p.next().unwrap_or(""), limit),
                truncate(p.next().unwrap_or(""), limit),
            )
        } else {
            ("", "")
        };
        let span = if x.grpc {
            format!("{}/{}", rpc.0, rpc.1)
        } else {
            match &x.route {
                Some(r) => format!("{} {r}", x.method),
                None => x.method.to_owned(),
            }
        };
        Self {
            span,
            path: truncate(full_path, limit),
            rpc,
        }
    }
}

impl RequestState {
    /// The request's state, with a span of its own, or on `adopted` (the current span, which
    /// the resource layer already tracks).
    pub(crate) fn new<B>(
        req: &Request<B>,
        shared: Arc<LayerState>,
        start: Arc<Snapshot>,
        adopted: Option<tracing::Span>,
    ) -> Self {
        let x = Exchange {
            started: Instant::now(),
            start,
            method: semconv::method_name(req.method()),
            scheme: semconv::scheme(req),
            route: semconv::route(req),
            grpc: semconv::is_grpc(req),
            status: None,
            grpc_status: None,
            error: None,
            request_bytes: req
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            response_bytes: 0,
        };
        let names = Names::of(req, &x, shared.value_limit);
        let (span, adopted) = match adopted {
            Some(span) => (span, Some(Adopted::new(&names, x.grpc))),
            None => (span::open(req, &x, &names, shared.value_limit), None),
        };
        Self {
            span,
            adopted,
            shared,
            x,
            finished: false,
        }
    }

    /// Enters the request's own span (an adopted one is entered by its owner).
    pub(crate) fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        self.adopted.is_none().then(|| self.span.enter())
    }

    /// Records a field of the request's own span (an adopted span gets its attributes at the
    /// end, in one handover).
    fn record<V: tracing::Value>(&self, field: &str, value: V) {
        if self.adopted.is_none() {
            self.span.record(field, value);
        }
    }

    pub(crate) fn on_response<B>(&mut self, response: &Response<B>) {
        let status = response.status();
        self.x.status = Some(status.as_u16());
        self.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            self.fail(semconv::status_error(status));
        }
        if self.x.grpc {
            // A trailers-only response carries its status in the headers.
            self.grpc_status(response.headers());
        }
    }

    /// Reads `grpc-status` from headers or trailers.
    pub(crate) fn grpc_status(&mut self, map: &HeaderMap) {
        let Some(code) = map
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok())
        else {
            return;
        };
        self.x.grpc_status = Some(code);
        self.record("rpc.grpc.status_code", code);
        if semconv::grpc_server_error(code) {
            self.fail("grpc_error");
        }
    }

    pub(crate) fn on_error<E: 'static>(&mut self, error: &E) {
        self.fail(super::error_type::of(error));
        self.finished = true;
    }

    /// Bytes of response body sent so far.
    pub(crate) fn add_response_bytes(&mut self, n: u64) {
        self.x.response_bytes += n;
    }

    /// The response has no body by the protocol: a `HEAD` request, or a 1xx, 204 or 304
    /// status. Servers drop such a body unread: that is its end, not a cancellation.
    pub(crate) fn bodiless(&self) -> bool {
        self.x.method == "HEAD" || matches!(self.x.status, Some(100..=199 | 204 | 304))
    }

    fn fail(&mut self, error_type: &'static str) {
        self.x.error = Some(error_type);
        self.record("otel.status_code", "ERROR");
        self.record("error.type", error_type);
    }

    /// The response body ended: the request is complete.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}
