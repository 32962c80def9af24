//! The HTTP/protobuf exporters' client: opentelemetry-http's hyper client over hyper-rustls,
//! driven on the pipeline's [`ExportRuntime`](super::runtime::ExportRuntime) whatever thread
//! the SDK exports from, so the export's I/O always runs where telemetry is suppressed, and
//! no blocking client (with a runtime and a thread of its own) is needed.
//!
//! Not reqwest: its `rustls-no-provider` feature, unified into an application's own reqwest
//! without a TLS feature, would make that application's `reqwest::Client::new()` panic for
//! want of a process-wide crypto provider. hyper-rustls takes the configuration as built.

use std::sync::Arc;
use std::time::Duration;

use super::delivery::Delivery;
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

type Client = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>>;

/// A hyper client whose requests run on the export runtime.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeClient {
    client: Client,
    runtime: tokio::runtime::Handle,
    /// Where a failed request's causes go.
    delivery: Arc<Delivery>,
}

impl RuntimeClient {
    /// `timeout` covers the whole request, the body read included, as the exporter expects
    /// of its client; `tls` is the rustls configuration for `https://` endpoints (its ALPN
    /// list empty: the connector sets HTTP/1.1).
    pub(crate) fn new(
        runtime: tokio::runtime::Handle,
        timeout: Duration,
        tls: rustls::ClientConfig,
        delivery: Arc<Delivery>,
    ) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: HyperClient::new(connector, timeout, None),
            runtime,
            delivery,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        // The SDK polls this future on its own thread (with a plain executor); the request
        // itself runs on the export runtime, and its JoinHandle wakes whoever polls it.
        let result = self
            .runtime
            .spawn(async move { client.send_bytes(request).await })
            .await
            .map_err(|e| -> HttpError { format!("the export request was cancelled: {e}").into() })
            .and_then(|sent| sent);
        if let Err(e) = &result {
            self.delivery.note_cause(&**e);
        }
        result
    }
}
