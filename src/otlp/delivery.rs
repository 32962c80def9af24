//! What became of the exports: each exporter wrapped so that its first failure is said once
//! on stderr, with the exporter's own reason (a refused certificate, a refused connection, a
//! status from the collector), and the last failure is kept for the guard's shutdown error,
//! where the SDK itself only says "Failed to shutdown".

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

/// One signal's record of failed exports.
#[derive(Debug)]
pub(crate) struct Delivery {
    signal: &'static str,
    endpoint: String,
    warned: AtomicBool,
    last_error: Mutex<Option<String>>,
    /// Why the HTTP client's last request failed, with its whole chain of causes: the HTTP
    /// exporter reduces every connection failure to "network error".
    cause: Mutex<Option<String>>,
}

impl Delivery {
    pub(crate) fn new(signal: &'static str, endpoint: &str) -> Arc<Self> {
        Arc::new(Self {
            signal,
            endpoint: endpoint.to_owned(),
            warned: AtomicBool::new(false),
            last_error: Mutex::new(None),
            cause: Mutex::new(None),
        })
    }

    /// Notes why a request failed, for the export's error (see [`Delivery::cause`]).
    pub(crate) fn note_cause(&self, error: &(dyn std::error::Error + 'static)) {
        let mut why = error.to_string();
        let mut source = error.source();
        while let Some(e) = source {
            let text = e.to_string();
            if !why.contains(&text) {
                why.push_str(": ");
                why.push_str(&text);
            }
            source = e.source();
        }
        *lock(&self.cause) = Some(why);
    }

    /// Keeps the result of the latest export: its error, or nothing once one succeeds.
    fn record(&self, result: &OTelSdkResult) {
        let mut last = lock(&self.last_error);
        let Err(e) = result else {
            *last = None;
            return;
        };
        let cause = lock(&self.cause).take();
        let why = match cause {
            Some(cause) => format!("{e} ({cause})"),
            None => e.to_string(),
        };
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "otel-resmon: exporting {} to {} failed: {why} (said once; later failures are \
                 reported when the pipeline shuts down)",
                self.signal, self.endpoint
            );
        }
        *last = Some(why);
    }

    /// The last export's error, if an export failed.
    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }
}

/// An exporter whose results are recorded in a [`Delivery`].
#[derive(Debug)]
pub(crate) struct Recorded<E> {
    pub(crate) inner: E,
    pub(crate) delivery: Arc<Delivery>,
}

impl<E: SpanExporter> SpanExporter for Recorded<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.delivery.record(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Recorded<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.delivery.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
