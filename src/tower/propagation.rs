//! The caller's context, extracted the ecosystem's way: through OpenTelemetry's global
//! text-map propagator (which [`otlp::init`](crate::otlp::init) sets from `OTEL_PROPAGATORS`,
//! or the application sets itself) and opentelemetry-http's header extractor.

use http::HeaderMap;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::Context;
use opentelemetry_http::HeaderExtractor;

/// The request's remote parent (trace context, baggage), or `None` when its headers carry
/// neither: the span then starts a trace of its own.
pub(crate) fn remote_parent(headers: &HeaderMap) -> Option<Context> {
    opentelemetry::global::get_text_map_propagator(|propagator| extract(propagator, headers))
}

fn extract(propagator: &dyn TextMapPropagator, headers: &HeaderMap) -> Option<Context> {
    // From an empty context: the caller is the parent, not whatever is current on this thread.
    let cx = propagator.extract_with_context(&Context::new(), &HeaderExtractor(headers));
    (cx.span().span_context().is_valid() || !cx.baggage().is_empty()).then_some(cx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapCompositePropagator;
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

    fn w3c() -> TextMapCompositePropagator {
        TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn a_traceparent_becomes_the_remote_parent() {
        let cx = extract(
            &w3c(),
            &headers(&[(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )]),
        )
        .unwrap();
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_sampled() && sc.is_remote());
    }

    #[test]
    fn invalid_or_absent_context_gives_no_parent() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert!(
                extract(&w3c(), &headers(&[("traceparent", bad)])).is_none(),
                "{bad}"
            );
        }
        assert!(extract(&w3c(), &HeaderMap::new()).is_none());
    }

    #[test]
    fn baggage_alone_is_kept() {
        let cx = extract(&w3c(), &headers(&[("baggage", "tenant=acme")])).unwrap();
        assert_eq!(cx.baggage().get("tenant").unwrap().as_str(), "acme");
        assert!(!cx.span().span_context().is_valid());
    }
}
