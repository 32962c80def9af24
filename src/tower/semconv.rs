//! HTTP and gRPC values as the semantic conventions want them, from bounded sets.

use http::{Request, StatusCode};

/// The HTTP method: a known method, or `_OTHER` (bounded).
pub(crate) fn method_name(method: &http::Method) -> &'static str {
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

/// `network.protocol.version`.
pub(crate) fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_11 => "1.1",
        http::Version::HTTP_2 => "2",
        http::Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

/// `url.scheme`: `https` or `http`.
pub(crate) fn scheme<B>(req: &Request<B>) -> &'static str {
    match req.uri().scheme_str() {
        Some("https") => "https",
        _ => "http",
    }
}

/// A gRPC call, by its content type.
pub(crate) fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// gRPC status codes a server reports as errors (the conventions' list).
pub(crate) fn grpc_server_error(code: i64) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// `error.type` of a 5xx response: the code itself (a bounded set).
pub(crate) fn status_error(status: StatusCode) -> &'static str {
    match status.as_u16() {
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => "5xx",
    }
}

/// The host of a `Host` header or URI authority, without its port, an IPv6 address without
/// its brackets; `None` when it is not an authority.
pub(crate) fn server_address(authority: &str) -> Option<&str> {
    let authority = authority.trim();
    authority.parse::<http::uri::Authority>().ok()?;
    let host = match authority.strip_prefix('[') {
        Some(ipv6) => &ipv6[..ipv6.find(']')?],
        // A name or IPv4 address has no colon: the first one starts the port.
        None => authority.split_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some(host)
}

/// `http.route`: axum's matched path template.
#[cfg(feature = "axum")]
pub(crate) fn route<B>(req: &Request<B>) -> Option<String> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
pub(crate) fn route<B>(_: &Request<B>) -> Option<String> {
    None
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
