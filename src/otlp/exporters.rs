//! The OTLP exporters for traces and metrics, gRPC or HTTP/protobuf, with their endpoints,
//! headers, compression, timeouts and TLS from the settings, all doing their I/O on the
//! pipeline's [`ExportRuntime`].

use std::sync::Arc;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use super::delivery::{Delivery, Recorded};
use super::http_client::RuntimeClient;
use super::runtime::ExportRuntime;
use super::settings::{Export, Protocol, Settings};
use super::tls;
use crate::error::Error;

/// The exporters, and the runtime their I/O runs on.
pub(super) struct Exporters {
    pub(super) traces: Recorded<opentelemetry_otlp::SpanExporter>,
    pub(super) metrics: Recorded<opentelemetry_otlp::MetricExporter>,
    /// Owned by the pipeline, so exports and the final flush never depend on (or block) the
    /// application's runtime, and run where telemetry is suppressed.
    pub(super) runtime: ExportRuntime,
}

impl Exporters {
    /// # Errors
    /// [`Error::Certificate`] for a TLS file that cannot be used, or that is set for a plain
    /// `http://` endpoint, [`Error::Exporter`] for an
    /// exporter that cannot be built. Never panics, inside a runtime or outside: the runtime
    /// is dropped with `shutdown_background` on every path.
    pub(super) fn build(settings: &Settings) -> Result<Self, Error> {
        // The files first: a bad one is the user's to fix, whatever else happens.
        let traces_tls = tls::Loaded::load(&settings.traces.tls)?;
        let metrics_tls = tls::Loaded::load(&settings.metrics.tls)?;
        // Then whether they can be used: not with a plain http:// endpoint. The metrics
        // endpoint only counts when metrics go over OTLP.
        settings
            .traces
            .tls
            .refuse_cleartext("traces", &settings.traces.endpoint)?;
        if settings.metrics_exporters.otlp {
            settings
                .metrics
                .tls
                .refuse_cleartext("metrics", &settings.metrics.endpoint)?;
        }
        let runtime = ExportRuntime::start()?;
        let handle = runtime
            .handle()
            .ok_or_else(|| Error::Exporter("the OTLP runtime is gone".into()))?
            .clone();
        // Built on a thread of its own, inside the export runtime (tonic spawns its
        // connection task there) and outside any runtime of the caller's.
        let traces_delivery = Delivery::new("traces", &settings.traces.endpoint);
        let metrics_delivery = Delivery::new("metrics", &settings.metrics.endpoint);
        let (traces, metrics) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let _entered = handle.enter();
                    Ok::<_, Error>((
                        span_exporter(&settings.traces, &traces_tls, &handle, &traces_delivery)?,
                        metric_exporter(
                            &settings.metrics,
                            &metrics_tls,
                            &handle,
                            &metrics_delivery,
                        )?,
                    ))
                })
                .join()
                .map_err(|_| Error::Exporter("building the OTLP exporters panicked".into()))?
        })?;
        Ok(Self {
            traces: Recorded {
                inner: traces,
                delivery: traces_delivery,
            },
            metrics: Recorded {
                inner: metrics,
                delivery: metrics_delivery,
            },
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

fn is_https(e: &Export) -> bool {
    tls::is_https(&e.endpoint)
}

/// The system's roots where the endpoint needs them (checked for gRPC too, whose tonic reads
/// them again, so that their absence is an error that says what to do).
fn roots(e: &Export, tls: &tls::Loaded) -> Result<rustls::RootCertStore, Error> {
    if is_https(e) && !tls.has_ca() {
        tls::system_roots(&e.endpoint)
    } else {
        Ok(rustls::RootCertStore::empty())
    }
}

/// The HTTP client for one signal: its timeout, and TLS when the endpoint asks for it.
fn http_client(
    e: &Export,
    tls: &tls::Loaded,
    runtime: &tokio::runtime::Handle,
    delivery: &Arc<Delivery>,
) -> Result<RuntimeClient, Error> {
    let roots = roots(e, tls)?;
    Ok(RuntimeClient::new(
        runtime.clone(),
        e.timeout,
        tls.rustls(roots)?,
        delivery.clone(),
    ))
}

/// Builds one signal's exporter from its settings: the same calls for traces and metrics.
macro_rules! build_exporter {
    ($builder:expr, $e:expr, $tls:expr, $runtime:expr, $delivery:expr, $signal:literal) => {{
        let e: &Export = $e;
        let tls: &tls::Loaded = $tls;
        match e.protocol {
            Protocol::Grpc => {
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(&e.endpoint)
                    .with_timeout(e.timeout)
                    .with_metadata(grpc_metadata(e));
                if is_https(e) {
                    roots(e, tls)?;
                    b = b.with_tls_config(tls.tonic());
                }
                match e.compression {
                    Some(c) => b.with_compression(c).build(),
                    None => b.build(),
                }
            }
            Protocol::HttpProtobuf => {
                let b = $builder
                    .with_http()
                    .with_http_client(http_client(e, tls, $runtime, $delivery)?)
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

fn span_exporter(
    e: &Export,
    tls: &tls::Loaded,
    runtime: &tokio::runtime::Handle,
    delivery: &Arc<Delivery>,
) -> Result<opentelemetry_otlp::SpanExporter, Error> {
    build_exporter!(
        opentelemetry_otlp::SpanExporter::builder(),
        e,
        tls,
        runtime,
        delivery,
        "trace"
    )
}

fn metric_exporter(
    e: &Export,
    tls: &tls::Loaded,
    runtime: &tokio::runtime::Handle,
    delivery: &Arc<Delivery>,
) -> Result<opentelemetry_otlp::MetricExporter, Error> {
    build_exporter!(
        opentelemetry_otlp::MetricExporter::builder(),
        e,
        tls,
        runtime,
        delivery,
        "metric"
    )
}
