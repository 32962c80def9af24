//! A pipeline that fails to install leaves no global state behind: the tracer and meter
//! providers and the propagator stay what they were. Its own binary: it installs a global
//! tracing subscriber first, so that `install` fails.
#![cfg(feature = "otlp")]

use std::collections::HashMap;

use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
use otel_resmon::otlp::Pipeline;
use otel_resmon::{Error, Sampler};

#[test]
fn a_failed_install_leaves_the_globals_untouched() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("the first global subscriber");
    let vars: HashMap<&str, &str> = [
        // Nothing is exported before the failure; a closed port keeps it so.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("OTEL_PROPAGATORS", "b3"),
    ]
    .into_iter()
    .collect();
    let result = Pipeline::new()
        .env(move |k| vars.get(k).map(|v| v.to_string()))
        .sampler(Sampler::builder().ignore_env(true).gpu(false))
        .install();
    assert!(
        matches!(result, Err(Error::Subscriber(_))),
        "install over an existing subscriber: {result:?}"
    );

    // Still OpenTelemetry's no-op tracer provider: its spans have no valid context.
    let span = opentelemetry::global::tracer("after-the-failure").start("probe");
    assert!(
        !span.span_context().is_valid(),
        "a failed install left its (shut down) tracer provider as the global one"
    );
    // Still the no-op propagator: nothing injected.
    let cx = opentelemetry::Context::new().with_remote_span_context(
        opentelemetry::trace::SpanContext::new(
            opentelemetry::trace::TraceId::from(1),
            opentelemetry::trace::SpanId::from(1),
            opentelemetry::trace::TraceFlags::SAMPLED,
            true,
            Default::default(),
        ),
    );
    let mut carrier = HashMap::<String, String>::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    assert!(
        carrier.is_empty(),
        "a failed install set its propagator: {carrier:?}"
    );
}
