//! The pipeline's level filter: `info` by default, `RUST_LOG` directives, and
//! `Pipeline::filter` over both; a bad directive names its setting. Whatever the directives,
//! a span made inside OpenTelemetry's suppression scope (the export path) is not exported.
#![cfg(feature = "otlp")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use opentelemetry::Context;
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use otel_resmon::otlp::Pipeline;
use otel_resmon::Sampler;

/// Whether the OpenTelemetry layer saw the span (gave it a trace id): what it did not see,
/// it cannot export. (`Span::is_disabled` says whether the registry keeps it, which it does
/// for any span a per-layer filter is asked about at run time.)
fn exports(span: &tracing::Span) -> bool {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    span.context().span().span_context().is_valid()
}

/// Which levels reach the pipeline's layer under `rust_log` (the lookup's `RUST_LOG`) and
/// `code` (`Pipeline::filter`), for target `app` and target `h2::codec`.
fn exported(rust_log: Option<&str>, code: Option<&str>) -> Vec<(&'static str, Level)> {
    let rust_log = rust_log.map(str::to_owned);
    let mut pipeline = Pipeline::new()
        .sampler(Sampler::builder().gpu(false))
        .env(move |k| match k {
            "OTEL_SDK_DISABLED" => Some("true".into()),
            "RUST_LOG" => rust_log.clone(),
            _ => None,
        })
        .install_subscriber(false);
    if let Some(code) = code {
        pipeline = pipeline.filter(code);
    }
    let guard = pipeline.install().unwrap();
    let subscriber = tracing_subscriber::registry().with(guard.layer());
    let mut seen = Vec::new();
    tracing::subscriber::with_default(subscriber, || {
        for level in [Level::TRACE, Level::DEBUG, Level::INFO, Level::WARN] {
            macro_rules! probe {
                ($target:literal) => {
                    let on = match level {
                        Level::TRACE => exports(&tracing::span!(target: $target, Level::TRACE, "s")),
                        Level::DEBUG => exports(&tracing::span!(target: $target, Level::DEBUG, "s")),
                        Level::INFO => exports(&tracing::span!(target: $target, Level::INFO, "s")),
                        _ => exports(&tracing::span!(target: $target, Level::WARN, "s")),
                    };
                    if on {
                        seen.push(($target, level));
                    }
                };
            }
            probe!("app");
            probe!("h2::codec");
        }
    });
    seen
}

#[test]
fn info_by_default_rust_log_next_and_the_pipeline_setting_over_both() {
    use Level as L;
    assert_eq!(
        exported(None, None),
        [
            ("app", L::INFO),
            ("h2::codec", L::INFO),
            ("app", L::WARN),
            ("h2::codec", L::WARN)
        ]
    );
    assert_eq!(
        exported(Some("warn,app=debug"), None),
        [
            ("app", L::DEBUG),
            ("app", L::INFO),
            ("app", L::WARN),
            ("h2::codec", L::WARN)
        ]
    );
    assert_eq!(
        exported(Some("trace"), Some("app=trace,h2=off")),
        [
            ("app", L::TRACE),
            ("app", L::DEBUG),
            ("app", L::INFO),
            ("app", L::WARN)
        ]
    );
}

#[test]
fn a_bad_directive_is_an_error_naming_its_setting() {
    let e = Pipeline::new()
        .sampler(Sampler::builder().gpu(false))
        .env(|k| (k == "OTEL_SDK_DISABLED").then(|| "true".into()))
        .filter("app=verbose")
        .install_subscriber(false)
        .install()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Pipeline::filter") && e.contains("app=verbose"),
        "{e}"
    );
}

/// Counts the spans and events a layer is shown.
struct Seen(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for Seen {
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn the_export_path_filter_asks_at_every_span_not_once_per_callsite() {
    let seen = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(Seen(seen.clone()).with_filter(otel_resmon::otlp::without_export_path()));
    tracing::subscriber::with_default(subscriber, || {
        // One callsite, made outside the scope, inside it, and outside again (as h2's are on
        // the application's runtime and on the export runtime).
        let work = |suppressed: bool| {
            let _scope = suppressed.then(Context::enter_telemetry_suppressed_scope);
            let _span = tracing::error_span!(target: "h2::codec", "frame").entered();
            tracing::error!(target: "h2::codec", "sent");
        };
        for (suppressed, after) in [(false, 2), (true, 2), (false, 4), (true, 4)] {
            work(suppressed);
            assert_eq!(
                seen.load(Ordering::Relaxed),
                after,
                "suppressed: {suppressed}"
            );
        }
    });
}

/// The last failure path of `init()`: a global subscriber is already set. It comes after the
/// export runtime and the providers have started, so the guard is dropped inside the
/// caller's runtime: an error, not a panic, over either protocol.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_inside_a_runtime_with_a_subscriber_already_installed_is_an_error() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry()).unwrap();
    for protocol in ["grpc", "http/protobuf"] {
        let e = Pipeline::new()
            .sampler(Sampler::builder().gpu(false))
            .env(move |k| match k {
                "OTEL_EXPORTER_OTLP_PROTOCOL" => Some(protocol.into()),
                // Nothing listens there: the shutdown that follows fails quietly.
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://127.0.0.1:9".into()),
                "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("200".into()),
                _ => None,
            })
            .install()
            .unwrap_err();
        assert!(
            matches!(e, otel_resmon::Error::Subscriber(_)),
            "{protocol}: {e}"
        );
    }
}
