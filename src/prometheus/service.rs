//! The scrape endpoint: a tower service rendering the registry in the text format.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::prometheus::{Encoder, Registry, TextEncoder};
use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::Full;

/// A tower service answering `GET` (and `HEAD`) with the pipeline's metrics in Prometheus's
/// text format: every metric the crate registers, the request and span histograms included,
/// read from the sampler's latest snapshot (a scrape never samples).
///
/// Rendering runs on tokio's blocking pool where there is a runtime, off the workers that
/// serve the application's other routes.
#[derive(Clone)]
pub struct MetricsService {
    registry: Registry,
    renames: Arc<HashMap<String, String>>,
}

impl std::fmt::Debug for MetricsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsService").finish_non_exhaustive()
    }
}

impl MetricsService {
    pub(super) fn new(registry: Registry) -> Self {
        Self {
            registry,
            renames: Arc::new(super::names::collector_names()),
        }
    }

    /// The exposition text, as a scrape gets it.
    ///
    /// # Errors
    /// The encoder's, should a family not encode.
    pub fn render(&self) -> Result<String, ::prometheus::Error> {
        let text = self.encode()?;
        // The encoder writes UTF-8 (names and labels are sanitised to ASCII).
        Ok(String::from_utf8(text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }

    /// The exposition text's bytes, as the encoder writes them.
    fn encode(&self) -> Result<Vec<u8>, ::prometheus::Error> {
        let mut families = self.registry.gather();
        for family in &mut families {
            if let Some(name) = self.renames.get(family.name()) {
                family.set_name(name.clone());
            }
        }
        let mut text = Vec::with_capacity(64 * 1024);
        TextEncoder::new().encode(&families, &mut text)?;
        Ok(text)
    }

    fn respond(&self) -> Response<Full<Bytes>> {
        match self.encode() {
            Ok(text) => Response::builder()
                .header(header::CONTENT_TYPE, TextEncoder::new().format_type())
                .body(Full::new(Bytes::from(text)))
                .unwrap_or_default(),
            Err(e) => plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
        }
    }
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
}

impl<B> ::tower::Service<Request<B>> for MetricsService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let refused = plain(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n".to_owned());
            return Box::pin(std::future::ready(Ok(refused)));
        }
        let this = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => Box::pin(async move {
                let rendered = runtime.spawn_blocking(move || this.respond()).await;
                Ok(rendered
                    .unwrap_or_else(|e| plain(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))))
            }),
            Err(_) => Box::pin(std::future::ready(Ok(this.respond()))),
        }
    }
}
