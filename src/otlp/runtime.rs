//! The exporters' own tokio runtime: every export's I/O (tonic and h2 for gRPC, reqwest and
//! hyper for HTTP, rustls for both) runs on its threads, never on the application's runtime,
//! and every one of its threads runs inside OpenTelemetry's suppression scope, so what the
//! export path logs or traces is never exported in turn (see [`super::filter`]).

use opentelemetry::Context;

use crate::error::Error;

/// The name of the runtime's threads (a span or event made there would carry it).
pub(crate) const THREAD_NAME: &str = "otel-resmon-otlp";

/// Owns the runtime; dropping it never blocks and never panics, inside or outside another
/// runtime (`shutdown_background`, where a plain drop inside `#[tokio::main]` would panic).
pub(crate) struct ExportRuntime(Option<tokio::runtime::Runtime>);

impl ExportRuntime {
    /// One worker thread: exports are a few requests a second at most.
    pub(crate) fn start() -> Result<Self, Error> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(THREAD_NAME)
            .enable_all()
            // Workers and blocking threads (DNS lookups) alike. The guard only restores the
            // thread's earlier context when dropped; the thread never leaves the scope.
            .on_thread_start(|| std::mem::forget(Context::enter_telemetry_suppressed_scope()))
            .build()
            .map(|r| Self(Some(r)))
            .map_err(|e| Error::Exporter(format!("cannot start the OTLP runtime: {e}")))
    }

    pub(crate) fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(tokio::runtime::Runtime::handle)
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_threads_run_with_telemetry_suppressed() {
        let rt = ExportRuntime::start().unwrap();
        let handle = rt.handle().unwrap().clone();
        let (worker, blocking) = std::thread::spawn(move || {
            handle.block_on(async {
                let worker = tokio::spawn(async { Context::is_current_telemetry_suppressed() });
                let blocking =
                    tokio::task::spawn_blocking(Context::is_current_telemetry_suppressed);
                (worker.await.unwrap(), blocking.await.unwrap())
            })
        })
        .join()
        .unwrap();
        assert!(worker, "a worker thread is outside the suppression scope");
        assert!(
            blocking,
            "a blocking thread is outside the suppression scope"
        );
        assert!(!Context::is_current_telemetry_suppressed());
    }

    #[tokio::test]
    async fn dropping_it_inside_an_async_context_does_not_panic() {
        drop(ExportRuntime::start().unwrap());
    }
}
