//! `OTEL_PROPAGATORS`: which context propagators [`init`](super::init) installs as
//! OpenTelemetry's global text-map propagator, which the tower layer extracts with and the
//! application's own outgoing calls inject with.

use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
// opentelemetry-zipkin 0.33 marks the whole crate deprecated for its exporter (Zipkin takes
// OTLP now); its B3 propagator is still the ecosystem's only one for this OpenTelemetry version.
#[allow(deprecated)]
use opentelemetry_zipkin::{B3Encoding, Propagator as B3Propagator};

use crate::error::Error;

/// The variable this module reads.
pub(crate) const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";

/// One propagator the variable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// W3C Baggage (`baggage`).
    Baggage,
    /// B3 single header (`b3`) on injection; either encoding on extraction.
    B3,
    /// B3 multiple headers (`X-B3-TraceId`, ...) on injection; either encoding on extraction.
    B3Multi,
    /// AWS X-Ray (`X-Amzn-Trace-Id`).
    Xray,
}

/// The specification's default.
pub(crate) const DEFAULT: [Kind; 2] = [Kind::TraceContext, Kind::Baggage];

/// The propagators a comma-separated `OTEL_PROPAGATORS` value names, in order, duplicates
/// dropped; `none` alone means no propagation. `None` (unset or empty) is the default.
///
/// # Errors
/// [`Error::InvalidSetting`] naming `OTEL_PROPAGATORS` for an unknown name, a name with no
/// maintained crate for this OpenTelemetry version, `none` beside others, or no names at all.
pub(crate) fn parse(value: Option<&str>) -> Result<Vec<Kind>, Error> {
    let Some(value) = value else {
        return Ok(DEFAULT.to_vec());
    };
    let invalid = |reason| Error::InvalidSetting {
        setting: OTEL_PROPAGATORS,
        value: value.to_owned(),
        reason,
    };
    let names: Vec<String> = value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(invalid("names no propagator"));
    }
    if names.iter().any(|n| n == "none") {
        return if names.iter().all(|n| n == "none") {
            Ok(Vec::new())
        } else {
            Err(invalid("`none` cannot be combined with other propagators"))
        };
    }
    let mut kinds = Vec::with_capacity(names.len());
    for name in &names {
        let kind = match name.as_str() {
            "tracecontext" => Kind::TraceContext,
            "baggage" => Kind::Baggage,
            "b3" => Kind::B3,
            "b3multi" => Kind::B3Multi,
            "xray" => Kind::Xray,
            "jaeger" | "ottrace" => {
                return Err(invalid(
                    "names a propagator with no maintained crate for opentelemetry 0.33: use \
                     tracecontext, baggage, b3, b3multi, xray or none",
                ))
            }
            _ => {
                return Err(invalid(
                    "must be a comma-separated list of tracecontext, baggage, b3, b3multi, \
                     xray, or none",
                ))
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// The global propagator for `kinds`: one composite, which extracts with each in order (a
/// later one's trace context wins, as the specification's composite does) and injects all.
#[allow(deprecated)] // the B3 propagator: see the import
pub(crate) fn build(kinds: &[Kind]) -> TextMapCompositePropagator {
    let propagators = kinds
        .iter()
        .map(|kind| -> Box<dyn TextMapPropagator + Send + Sync> {
            match kind {
                Kind::TraceContext => Box::new(TraceContextPropagator::new()),
                Kind::Baggage => Box::new(BaggagePropagator::new()),
                Kind::B3 => Box::new(B3Propagator::with_encoding(B3Encoding::SingleHeader)),
                Kind::B3Multi => Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader)),
                Kind::Xray => Box::new(XrayPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    use opentelemetry::baggage::BaggageExt as _;
    use opentelemetry::trace::TraceContextExt as _;

    #[test]
    fn default_is_tracecontext_and_baggage() {
        assert_eq!(parse(None).unwrap(), DEFAULT);
        assert_eq!(
            parse(Some(" TraceContext , b3,b3multi,b3 ")).unwrap(),
            [Kind::TraceContext, Kind::B3, Kind::B3Multi]
        );
        assert!(parse(Some("none")).unwrap().is_empty());
        assert!(parse(Some("none,none")).unwrap().is_empty());
    }

    #[test]
    fn bad_values_name_the_variable() {
        for bad in [
            "bogus",
            "tracecontext,bogus",
            "none,b3",
            ",",
            "jaeger",
            "ottrace",
        ] {
            let err = parse(Some(bad)).unwrap_err();
            assert!(err.to_string().contains("OTEL_PROPAGATORS"), "{bad}: {err}");
        }
        assert!(parse(Some("jaeger"))
            .unwrap_err()
            .to_string()
            .contains("no maintained crate"));
    }

    fn extract(kinds: &[Kind], headers: &[(&str, &str)]) -> opentelemetry::Context {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        build(kinds).extract(&map)
    }

    #[test]
    fn each_kind_extracts_its_headers() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let w3c = [(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )];
        let b3 = [("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")];
        let b3multi = [
            ("x-b3-traceid", trace),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
        ];
        let id = |cx: &opentelemetry::Context| cx.span().span_context().trace_id().to_string();
        assert_eq!(id(&extract(&DEFAULT, &w3c)), trace);
        assert_eq!(id(&extract(&[Kind::B3], &b3)), trace);
        assert_eq!(id(&extract(&[Kind::B3], &b3multi)), trace);
        assert_eq!(id(&extract(&[Kind::B3Multi], &b3multi)), trace);
        let xray = [(
            "x-amzn-trace-id",
            "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1",
        )];
        assert_eq!(id(&extract(&[Kind::Xray], &xray)), trace);
        // Not named, not extracted.
        assert!(!extract(&DEFAULT, &b3).span().span_context().is_valid());
        assert!(!extract(&[], &w3c).span().span_context().is_valid());
        let cx = extract(&DEFAULT, &[("baggage", "tenant=acme,plan=pro")]);
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acme".to_owned())
        );
    }
}
