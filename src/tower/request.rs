//! One request's span and bookkeeping, from `call` until its response body ends (or it is
//! dropped: a cancelled request still ends its span, with its figures, marked cancelled).

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, Request, Response, StatusCode};
use opentelemetry::KeyValue;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::layer::Shared;
use crate::env::truncate;
use crate::keys::http as keys;
use crate::layer::Handover;
use crate::snapshot::Snapshot;

/// The HTTP method as the conventions want it: a known method, or `_OTHER` (bounded).
fn method_name(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => "_OTHER",
    }
}

fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

/// What a request on an adopted span keeps for its handover.
struct Adopted {
    name: String,
    rpc: Option<(String, String)>,
}

/// gRPC status codes a server reports as errors (the conventions' list).
fn grpc_server_error(code: i64) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

pub(crate) struct RequestState {
    span: tracing::Span,
    /// The span is an outer layer's (tower-http's), adopted: this layer does not enter it and
    /// hands its HTTP attributes over at the end instead of recording fields.
    adopted: Option<Adopted>,
    shared: Arc<Shared>,
    started: Instant,
    start: Arc<Snapshot>,
    method: &'static str,
    scheme: &'static str,
    route: Option<String>,
    grpc: bool,
    status: Option<u16>,
    grpc_status: Option<i64>,
    error: Option<&'static str>,
    request_bytes: Option<u64>,
    pub(crate) response_bytes: u64,
    finished: bool,
}

impl RequestState {
    /// The request's state, with a span of its own, or on `adopted` (the current span, which
    /// the resource layer already tracks).
    pub(crate) fn new<B>(
        req: &Request<B>,
        shared: Arc<Shared>,
        start: Arc<Snapshot>,
        adopted: Option<tracing::Span>,
    ) -> Self {
        let method = method_name(req.method());
        let scheme = match req.uri().scheme_str() {
            Some("https") => "https",
            _ => "http",
        };
        let route = route_of(req);
        let headers = req.headers();
        let grpc = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        // Request-derived values are cut to the layer's limit: they are as long as the client
        // makes them, and the SDK queues 2048 spans.
        let limit = shared.value_limit;
        let full_path = req.uri().path();
        let path = truncate(full_path, limit);
        let (rpc_service, rpc_method) = if grpc {
            let mut p = full_path.trim_start_matches('/').splitn(2, '/');
            (
                truncate(p.next().unwrap_or(""), limit),
                truncate(p.next().unwrap_or(""), limit),
            )
        } else {
            ("", "")
        };
        let name = if grpc {
            format!("{rpc_service}/{rpc_method}")
        } else {
            match &route {
                Some(r) => format!("{method} {r}"),
                None => method.to_owned(),
            }
        };
        let request_bytes = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut state = Self {
            span: tracing::Span::none(),
            adopted: None,
            shared,
            started: Instant::now(),
            start,
            method,
            scheme,
            route,
            grpc,
            status: None,
            grpc_status: None,
            error: None,
            request_bytes,
            response_bytes: 0,
            finished: false,
        };
        if let Some(span) = adopted {
            state.span = span;
            state.adopted = Some(Adopted {
                name,
                rpc: grpc.then(|| (rpc_service.to_owned(), rpc_method.to_owned())),
            });
            return state;
        }
        let route = &state.route;
        let span = tracing::info_span!(
            target: crate::layer::REQUEST_TARGET,
            "HTTP request",
            otel.name = %name,
            otel.kind = "server",
            otel.status_code = Empty,
            http.request.method = method,
            url.path = path,
            url.scheme = scheme,
            http.route = Empty,
            network.protocol.version = protocol_version(req.version()),
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
        if let Some(r) = &route {
            span.record("http.route", r.as_str());
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().host());
        if let Some(host) = host.and_then(server_address) {
            span.record("server.address", truncate(host, limit));
        }
        if let Some(ua) = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            span.record("user_agent.original", truncate(ua, limit));
        }
        if grpc {
            span.record("rpc.system", "grpc");
            span.record("rpc.service", rpc_service);
            span.record("rpc.method", rpc_method);
        }
        if let Some(parent) = super::propagation::remote_parent(headers) {
            let _ = span.set_parent(parent);
        }
        state.span = span;
        state
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

    /// The attributes an adopted span gets at the end.
    fn handover(&mut self, adopted: Adopted) -> Handover {
        let mut a = Vec::with_capacity(8);
        a.push(KeyValue::new(keys::METHOD.clone(), self.method));
        if let Some(route) = self.route.take() {
            a.push(KeyValue::new(keys::ROUTE.clone(), route));
        }
        if let Some(status) = self.status {
            a.push(KeyValue::new(keys::STATUS_CODE.clone(), i64::from(status)));
        }
        if let Some((service, method)) = adopted.rpc {
            a.push(KeyValue::new(keys::RPC_SYSTEM.clone(), "grpc"));
            a.push(KeyValue::new(keys::RPC_SERVICE.clone(), service));
            a.push(KeyValue::new(keys::RPC_METHOD.clone(), method));
        }
        if let Some(code) = self.grpc_status {
            a.push(KeyValue::new(keys::RPC_GRPC_STATUS_CODE.clone(), code));
        }
        if let Some(error) = self.error {
            a.push(KeyValue::new(keys::ERROR_TYPE.clone(), error));
        }
        if !self.finished {
            a.push(KeyValue::new(keys::CANCELLED.clone(), true));
        }
        Handover {
            name: Some(adopted.name.into()),
            attributes: a,
        }
    }

    pub(crate) fn on_response<B>(&mut self, response: &Response<B>) {
        let status = response.status();
        self.status = Some(status.as_u16());
        self.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            self.fail(status_error(status));
        }
        if self.grpc {
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
        self.grpc_status = Some(code);
        self.record("rpc.grpc.status_code", code);
        if grpc_server_error(code) {
            self.fail("grpc_error");
        }
    }

    pub(crate) fn on_error<E: 'static>(&mut self, error: &E) {
        self.fail(super::error_type::of(error));
        self.finished = true;
    }

    /// The response has no body by the protocol: a `HEAD` request, or a 1xx, 204 or 304
    /// status. Servers drop such a body unread: that is its end, not a cancellation.
    pub(crate) fn bodiless(&self) -> bool {
        self.method == "HEAD" || matches!(self.status, Some(100..=199 | 204 | 304))
    }

    fn fail(&mut self, error_type: &'static str) {
        self.error = Some(error_type);
        self.record("otel.status_code", "ERROR");
        self.record("error.type", error_type);
    }

    /// The response body ended: the request is complete.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
    }
}

/// The host of a `Host` header or URI authority, without its port, an IPv6 address without
/// its brackets; `None` when it is not an authority.
fn server_address(authority: &str) -> Option<&str> {
    let authority = authority.trim();
    authority.parse::<http::uri::Authority>().ok()?;
    let host = match authority.strip_prefix('[') {
        Some(ipv6) => &ipv6[..ipv6.find(']')?],
        // A name or IPv4 address has no colon: the first one starts the port.
        None => authority.split_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some(host)
}

fn status_error(status: StatusCode) -> &'static str {
    // A bounded set: the 5xx codes themselves.
    match status.as_u16() {
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "5xx",
    }
}

#[cfg(feature = "axum")]
fn route_of<B>(req: &Request<B>) -> Option<String> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn route_of<B>(_: &Request<B>) -> Option<String> {
    None
}

impl Drop for RequestState {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped before its response or body ended: the client went away, or a timeout
            // cancelled it. The span still ends now (its end time is its last exit: stamp
            // it), with its figures.
            drop(self.enter());
            self.record("resmon.cancelled", true);
            self.record("error.type", "cancelled");
            self.error = Some("cancelled");
        }
        let end = self.shared.sampler.latest();
        if let Some(m) = &self.shared.metrics {
            m.record(self, &end);
        }
        if self.shared.report {
            // Opt-in and read by people: exact figures at this end (one sampler pass).
            let exact = self.shared.sampler.sample_now();
            super::report::print(self, &exact, &self.shared.recent);
        }
        // Last: the handover takes the route, which the metrics and the report read.
        if let Some(adopted) = self.adopted.take() {
            let handover = self.handover(adopted);
            crate::layer::hand_over(&self.span, handover);
        }
    }
}

/// What the metrics and the report read.
impl RequestState {
    pub(crate) fn started(&self) -> Instant {
        self.started
    }
    pub(crate) fn start_snapshot(&self) -> &Arc<Snapshot> {
        &self.start
    }
    pub(crate) fn sampler(&self) -> &crate::Sampler {
        &self.shared.sampler
    }
    pub(crate) fn method(&self) -> &'static str {
        self.method
    }
    pub(crate) fn scheme(&self) -> &'static str {
        self.scheme
    }
    pub(crate) fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }
    pub(crate) fn status(&self) -> Option<u16> {
        self.status
    }
    pub(crate) fn grpc_code(&self) -> Option<i64> {
        self.grpc_status
    }
    pub(crate) fn error(&self) -> Option<&'static str> {
        self.error
    }
    pub(crate) fn request_bytes(&self) -> Option<u64> {
        self.request_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::server_address;

    #[test]
    fn server_address_drops_the_port_and_ipv6_brackets() {
        assert_eq!(server_address("example.com:8080"), Some("example.com"));
        assert_eq!(server_address("example.com"), Some("example.com"));
        assert_eq!(server_address("10.1.2.80:80"), Some("10.1.2.80"));
        assert_eq!(server_address("[2001:db8::1]"), Some("2001:db8::1"));
        assert_eq!(server_address("[2001:db8::1]:443"), Some("2001:db8::1"));
        assert_eq!(server_address("not a host"), None);
        assert_eq!(server_address(""), None);
    }
}
