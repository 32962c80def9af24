//! The standard `OTEL_*` variables, resolved with the specification's precedence and checked:
//! a value the pipeline cannot use is an error naming the variable.

use std::time::Duration;

use crate::error::Error;

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (default port 4317).
    Grpc,
    /// OTLP over HTTP with protobuf bodies (default port 4318); the specification's default.
    HttpProtobuf,
}

/// Where the pipeline's metrics go: the specification's variable, a comma-separated list of
/// `otlp`, `prometheus`, or `none` alone.
pub(crate) const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";

/// A metric exporter of the pipeline ([`Pipeline::metrics_exporters`]).
///
/// [`Pipeline::metrics_exporters`]: super::Pipeline::metrics_exporters
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsExporter {
    /// OTLP, to the metrics endpoint (the default).
    Otlp,
    /// A Prometheus scrape endpoint, served by the service
    /// [`OtelGuard::prometheus`](super::OtelGuard::prometheus) gives (the `prometheus`
    /// feature).
    Prometheus,
}

/// The metric exporters chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricsExporters {
    pub(crate) otlp: bool,
    pub(crate) prometheus: bool,
}

impl MetricsExporters {
    /// From a list given in code (empty: none).
    pub(crate) fn of(list: &[MetricsExporter]) -> Self {
        Self {
            otlp: list.contains(&MetricsExporter::Otlp),
            prometheus: list.contains(&MetricsExporter::Prometheus),
        }
    }

    /// `OTEL_METRICS_EXPORTER`'s value; unset is OTLP alone.
    fn parse(value: Option<&str>) -> Result<Self, Error> {
        let Some(value) = value else {
            return Ok(Self::of(&[MetricsExporter::Otlp]));
        };
        let mut chosen = Self::of(&[]);
        let names: Vec<&str> = value.split(',').map(str::trim).collect();
        for name in &names {
            match *name {
                "otlp" => chosen.otlp = true,
                "prometheus" if cfg!(feature = "prometheus") => chosen.prometheus = true,
                "prometheus" => {
                    return Err(invalid(
                        OTEL_METRICS_EXPORTER,
                        value,
                        "prometheus needs the crate's `prometheus` feature",
                    ))
                }
                "none" if names.len() == 1 => {}
                "none" => {
                    return Err(invalid(
                        OTEL_METRICS_EXPORTER,
                        value,
                        "none cannot be listed with another exporter",
                    ))
                }
                _ => {
                    return Err(invalid(
                        OTEL_METRICS_EXPORTER,
                        value,
                        "must be a comma-separated list of otlp and prometheus, or none",
                    ))
                }
            }
        }
        Ok(chosen)
    }
}

/// Which signal a setting is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn endpoint_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        }
    }
    fn protocol_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
        }
    }
    fn headers_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
        }
    }
    fn compression_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        }
    }
    fn timeout_var(self) -> &'static str {
        match self {
            Signal::Traces => "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            Signal::Metrics => "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        }
    }
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// Where and how one signal is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) protocol: Protocol,
    pub(crate) endpoint: String,
    pub(crate) timeout: Duration,
    /// Headers (gRPC metadata) sent with every export: the signal's variable, else the
    /// generic one.
    pub(crate) headers: http::HeaderMap,
    pub(crate) compression: Option<opentelemetry_otlp::Compression>,
    /// The CA, client certificate and key files: the signal's variables, else the generic
    /// ones; [`Pipeline`](super::Pipeline)'s settings replace them.
    pub(crate) tls: super::tls::Files,
}

/// Everything the pipeline reads from the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub(crate) disabled: bool,
    pub(crate) traces: Export,
    pub(crate) metrics: Export,
    pub(crate) metric_interval: Duration,
    /// `OTEL_METRICS_EXPORTER`: OTLP, Prometheus, both or none.
    pub(crate) metrics_exporters: MetricsExporters,
    pub(crate) service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded.
    pub(crate) resource_attributes: Vec<(String, String)>,
    /// `OTEL_PROPAGATORS`, parsed: what the global propagator is built from.
    pub(crate) propagators: Vec<super::propagators::Kind>,
    /// The level directives: `RUST_LOG`, else the default; [`Pipeline::filter`] replaces them.
    ///
    /// [`Pipeline::filter`]: super::Pipeline::filter
    pub(crate) filter: super::filter::Directives,
}

fn invalid(setting: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidSetting {
        setting,
        value: value.to_owned(),
        reason,
    }
}

/// Reads a variable; empty counts as unset, as the specification says.
fn read(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    crate::env::non_empty(env(name))
}

fn protocol(env: &dyn Fn(&str) -> Option<String>, signal: Signal) -> Result<Protocol, Error> {
    for var in [signal.protocol_var(), "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(v) = read(env, var) {
            return match v.trim() {
                "grpc" => Ok(Protocol::Grpc),
                "http/protobuf" => Ok(Protocol::HttpProtobuf),
                "http/json" => Err(invalid(
                    static_name(var),
                    &v,
                    "http/json is not supported: use grpc or http/protobuf",
                )),
                _ => Err(invalid(
                    static_name(var),
                    &v,
                    "must be grpc or http/protobuf",
                )),
            };
        }
    }
    Ok(Protocol::HttpProtobuf)
}

/// Every variable [`Settings::resolve`] reads.
pub(crate) const VARIABLES: [&str; 32] = [
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_METRIC_EXPORT_INTERVAL",
    OTEL_METRICS_EXPORTER,
    "OTEL_SDK_DISABLED",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    super::propagators::OTEL_PROPAGATORS,
    crate::env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
    super::filter::RUST_LOG,
];

/// The variables opentelemetry-otlp 0.33 reads from the process environment itself, whatever
/// it is given: with [`Pipeline::env`](super::Pipeline::env) the pipeline hands their values
/// over explicitly, and refuses to start while the process sets them too (the exporter would
/// add the process's headers, or its compression, behind the pipeline's back).
fn sdk_reads_from_process(var: &str) -> bool {
    var.ends_with("_HEADERS") || var.ends_with("_COMPRESSION")
}

/// For [`Pipeline::env`](super::Pipeline::env): the process environment sets none of
/// the header and compression variables ([`sdk_reads_from_process`]).
///
/// # Errors
/// [`Error::InvalidSetting`] naming the first one set.
pub(crate) fn process_sets_nothing_the_sdk_reads() -> Result<(), Error> {
    for var in VARIABLES.into_iter().filter(|v| sdk_reads_from_process(v)) {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let shown = if crate::env::holds_secrets(var) {
                std::borrow::Cow::Borrowed(crate::env::HIDDEN)
            } else {
                v.to_string_lossy()
            };
            return Err(invalid(
                var,
                &shown,
                "is set in the process environment, which opentelemetry-otlp reads even when \
                 Pipeline::env replaces it: unset it and give it through Pipeline::env",
            ));
        }
    }
    Ok(())
}

/// The longest export timeout or metric interval taken: longer ones would overflow deadlines
/// computed from `Instant::now()` in the exporters, and mean "never" in practice anyway.
const LONGEST: Duration = Duration::from_secs(3600);

/// The `&'static str` for a variable name built at run time; this keeps the error type simple.
fn static_name(var: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|n| **n == var)
        .copied()
        .unwrap_or("OTEL_EXPORTER_OTLP_*")
}

/// `http://host[:port][/path]` or `https://...`, nothing else.
fn check_url(var: &'static str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    let uri: http::Uri = v
        .parse()
        .map_err(|_| invalid(var, value, "is not a valid URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid(var, value, "must start with http:// or https://"));
    }
    let host = uri.host().unwrap_or("");
    if host.is_empty() {
        return Err(invalid(
            var,
            value,
            "must name a host, e.g. http://localhost:4318",
        ));
    }
    // `Uri` keeps a port it cannot read as a number (`Authority::port` is then `None`).
    let authority = uri.authority().map_or("", |a| a.as_str());
    let port = authority.rsplit_once(host).map_or("", |(_, rest)| rest);
    if let Some(port) = port.strip_prefix(':').filter(|p| !p.is_empty()) {
        if port.parse::<u16>().is_err() {
            return Err(invalid(
                var,
                value,
                "has a port that is not a number from 0 to 65535",
            ));
        }
    }
    Ok(v.to_owned())
}

fn endpoint(
    env: &dyn Fn(&str) -> Option<String>,
    signal: Signal,
    protocol: Protocol,
) -> Result<String, Error> {
    if let Some(v) = read(env, signal.endpoint_var()) {
        // A signal's own endpoint is used as given.
        return check_url(static_name(signal.endpoint_var()), &v);
    }
    let base = match read(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some(v) => check_url("OTEL_EXPORTER_OTLP_ENDPOINT", &v)?,
        None => match protocol {
            Protocol::Grpc => "http://localhost:4317".to_owned(),
            Protocol::HttpProtobuf => "http://localhost:4318".to_owned(),
        },
    };
    Ok(match protocol {
        Protocol::Grpc => base,
        // The generic endpoint gets the signal's path appended for HTTP.
        Protocol::HttpProtobuf => format!("{}{}", base.trim_end_matches('/'), signal.path()),
    })
}

fn millis(
    env: &dyn Fn(&str) -> Option<String>,
    vars: &[&'static str],
    default: Duration,
) -> Result<Duration, Error> {
    for var in vars {
        if let Some(v) = read(env, var) {
            let ms: u64 = v
                .trim()
                .parse()
                .map_err(|_| invalid(var, &v, "must be a whole number of milliseconds"))?;
            if ms == 0 {
                return Err(invalid(var, &v, "must be more than 0 milliseconds"));
            }
            let d = Duration::from_millis(ms);
            if d > LONGEST {
                return Err(invalid(
                    var,
                    &v,
                    "must be at most 3600000 milliseconds (one hour)",
                ));
            }
            return Ok(d);
        }
    }
    Ok(default)
}

/// Export headers, checked once here: HTTP headers and gRPC metadata are both built from them.
///
/// Their values are API keys: an error shows which entry is wrong, and its key where that is a
/// header name, but no value, nor an entry that may be one (a token pasted without `key=`).
fn headers(var: &'static str, value: &str) -> Result<http::HeaderMap, Error> {
    use crate::env::HIDDEN;
    let refused = |value: String, reason: &'static str| Error::InvalidSetting {
        setting: var,
        value,
        reason,
    };
    let pairs = super::pairs::split(value).map_err(|bad| {
        refused(
            format!("entry {} of {}: {HIDDEN}", bad.number, bad.of),
            "must be key=value pairs separated by commas (header values are not shown)",
        )
    })?;
    let of = pairs.len();
    let mut map = http::HeaderMap::with_capacity(of);
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        let number = i + 1;
        let Ok(name) = http::HeaderName::from_bytes(k.as_bytes()) else {
            return Err(refused(
                format!("entry {number} of {of}: {HIDDEN}"),
                "has a header name that HTTP cannot carry (header values are not shown)",
            ));
        };
        let Ok(v) = http::HeaderValue::from_str(&v) else {
            return Err(refused(
                format!("entry {number} of {of}: {name}={HIDDEN}"),
                "has a header value that HTTP cannot carry, such as a control character \
                 (header values are not shown)",
            ));
        };
        map.append(name, v);
    }
    Ok(map)
}

/// The first of `vars` that is set, with its name.
fn first(
    env: &dyn Fn(&str) -> Option<String>,
    vars: [&'static str; 2],
) -> Option<(&'static str, String)> {
    vars.into_iter()
        .find_map(|var| read(env, var).map(|v| (var, v)))
}

impl Settings {
    pub(crate) fn resolve(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let disabled = match read(env, "OTEL_SDK_DISABLED") {
            None => false,
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return Err(invalid("OTEL_SDK_DISABLED", &v, "must be true or false")),
            },
        };
        let resource_attributes = match read(env, "OTEL_RESOURCE_ATTRIBUTES") {
            Some(v) => super::pairs::parse("OTEL_RESOURCE_ATTRIBUTES", &v)?,
            None => Vec::new(),
        };
        // Applied by the tower layer to request values; checked here so a bad value stops
        // `init()` with its name.
        crate::env::value_length_limit(
            read(env, crate::env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT).as_deref(),
        )?;
        let export = |signal: Signal| -> Result<Export, Error> {
            let protocol = protocol(env, signal)?;
            Ok(Export {
                protocol,
                endpoint: endpoint(env, signal, protocol)?,
                timeout: millis(
                    env,
                    &[
                        static_name(signal.timeout_var()),
                        "OTEL_EXPORTER_OTLP_TIMEOUT",
                    ],
                    Duration::from_secs(10),
                )?,
                headers: match first(env, [signal.headers_var(), "OTEL_EXPORTER_OTLP_HEADERS"]) {
                    Some((var, v)) => headers(static_name(var), &v)?,
                    None => http::HeaderMap::new(),
                },
                compression: match first(
                    env,
                    [signal.compression_var(), "OTEL_EXPORTER_OTLP_COMPRESSION"],
                ) {
                    Some((var, v)) => super::pairs::compression(static_name(var), &v)?,
                    None => None,
                },
                tls: super::tls::Files::resolve(
                    env,
                    match signal {
                        Signal::Traces => super::tls::TRACES,
                        Signal::Metrics => super::tls::METRICS,
                    },
                ),
            })
        };
        Ok(Settings {
            disabled,
            traces: export(Signal::Traces)?,
            metrics: export(Signal::Metrics)?,
            metric_interval: millis(
                env,
                &["OTEL_METRIC_EXPORT_INTERVAL"],
                Duration::from_secs(60),
            )?,
            metrics_exporters: MetricsExporters::parse(
                read(env, OTEL_METRICS_EXPORTER).as_deref(),
            )?,
            service_name: read(env, "OTEL_SERVICE_NAME"),
            resource_attributes,
            propagators: super::propagators::parse(
                read(env, super::propagators::OTEL_PROPAGATORS).as_deref(),
            )?,
            filter: match read(env, super::filter::RUST_LOG) {
                Some(v) => super::filter::Directives::checked(super::filter::RUST_LOG, &v)?,
                None => super::filter::Directives::default_level(),
            },
        })
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
