//! The OTLP exporters for traces and metrics, gRPC or HTTP/protobuf, with their endpoints,
//! headers, compression and timeouts from the settings.

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use super::settings::{Export, Protocol, Settings};
use crate::Error;

/// The exporters, built where their clients need to be built.
pub(super) struct Exporters {
    pub(super) traces: opentelemetry_otlp::SpanExporter,
    pub(super) metrics: opentelemetry_otlp::MetricExporter,
    /// gRPC exporters do their I/O on this runtime, owned by the pipeline, so exports and the
    /// final flush never depend on (or block) the application's runtime.
    pub(super) runtime: Option<tokio::runtime::Runtime>,
}

impl Exporters {
    pub(super) fn build(settings: &Settings) -> Result<Self, Error> {
        let needs_runtime =
            [settings.traces.protocol, settings.metrics.protocol].contains(&Protocol::Grpc);
        let runtime = if needs_runtime {
            Some(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("otel-resmon-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Exporter(format!("cannot start the OTLP runtime: {e}")))?,
            )
        } else {
            None
        };
        // Built on a thread of its own: outside any runtime of the caller (the blocking HTTP
        // client must not be created inside one), inside ours for gRPC.
        let handle = runtime.as_ref().map(|r| r.handle().clone());
        let (traces, metrics) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _entered = handle.as_ref().map(|h| h.enter());
                    Ok::<_, Error>((
                        span_exporter(&settings.traces)?,
                        metric_exporter(&settings.metrics)?,
                    ))
                })
                .join()
                .map_err(|_| Error::Exporter("building the OTLP exporters panicked".into()))?
        })?;
        Ok(Self {
            traces,
            metrics,
            runtime,
        })
    }
}

fn exporter_error(signal: &str, e: impl std::fmt::Display) -> Error {
    Error::Exporter(format!("cannot build the OTLP {signal} exporter: {e}"))
}

/// The headers as the HTTP exporter takes them (values came from strings, so they read back).
fn http_headers(e: &Export) -> std::collections::HashMap<String, String> {
    e.headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// The headers as gRPC metadata.
fn grpc_metadata(e: &Export) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(e.headers.clone())
}

/// Builds one signal's exporter from its settings: the same calls for traces and metrics.
macro_rules! build_exporter {
    ($builder:expr, $e:expr, $signal:literal) => {{
        let e: &Export = $e;
        match e.protocol {
            Protocol::Grpc => {
                let b = $builder
                    .with_tonic()
                    .with_endpoint(&e.endpoint)
                    .with_timeout(e.timeout)
                    .with_metadata(grpc_metadata(e));
                match e.compression {
                    Some(c) => b.with_compression(c).build(),
                    None => b.build(),
                }
            }
            Protocol::HttpProtobuf => {
                let b = $builder
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(&e.endpoint)
                    .with_timeout(e.timeout)
                    .with_headers(http_headers(e));
                match e.compression {
                    Some(c) => b.with_compression(c).build(),
                    None => b.build(),
                }
            }
        }
        .map_err(|err| exporter_error($signal, err))
    }};
}

fn span_exporter(e: &Export) -> Result<opentelemetry_otlp::SpanExporter, Error> {
    build_exporter!(opentelemetry_otlp::SpanExporter::builder(), e, "trace")
}

fn metric_exporter(e: &Export) -> Result<opentelemetry_otlp::MetricExporter, Error> {
    build_exporter!(opentelemetry_otlp::MetricExporter::builder(), e, "metric")
}
