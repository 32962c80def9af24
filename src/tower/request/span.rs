//! The request's own server span, with the HTTP (or RPC) semantic-convention fields.

use http::Request;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::Names;
use crate::env::truncate;
use crate::tower::exchange::Exchange;
use crate::tower::{propagation, semconv};

/// Opens the span, its parent the caller's context when the request carries one.
pub(super) fn open<B>(
    req: &Request<B>,
    x: &Exchange,
    names: &Names<'_>,
    limit: usize,
) -> tracing::Span {
    let span = tracing::info_span!(
        target: crate::layer::REQUEST_TARGET,
        "HTTP request",
        otel.name = %names.span,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = x.method,
        url.path = names.path,
        url.scheme = x.scheme,
        http.route = Empty,
        network.protocol.version = semconv::protocol_version(req.version()),
        server.address = Empty,
        user_agent.original = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        rpc.system = Empty,
        rpc.service = Empty,
        rpc.method = Empty,
        rpc.grpc.status_code = Empty,
        resmon.cancelled = Empty,
    );
    if let Some(r) = &x.route {
        span.record("http.route", r.as_str());
    }
    let headers = req.headers();
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host());
    if let Some(host) = host.and_then(semconv::server_address) {
        span.record("server.address", truncate(host, limit));
    }
    if let Some(ua) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        span.record("user_agent.original", truncate(ua, limit));
    }
    if x.grpc {
        span.record("rpc.system", "grpc");
        span.record("rpc.service", names.rpc.0);
        span.record("rpc.method", names.rpc.1);
    }
    if let Some(parent) = propagation::remote_parent(headers) {
        let _ = span.set_parent(parent);
    }
    span
}
