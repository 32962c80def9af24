//! The settings' tests: examples of the specification's rules, and properties over any
//! environment.

mod resolve {
    use super::super::*;
    use std::collections::HashMap;

    fn resolve(vars: &[(&str, &str)]) -> Result<Settings, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(&|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_specification() {
        let s = resolve(&[]).unwrap();
        assert!(!s.disabled);
        assert_eq!(s.traces.protocol, Protocol::HttpProtobuf);
        assert_eq!(s.traces.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.metrics.endpoint, "http://localhost:4318/v1/metrics");
        assert_eq!(s.traces.timeout, Duration::from_secs(10));
        assert_eq!(s.metric_interval, Duration::from_secs(60));
    }

    #[test]
    fn metrics_exporters_are_a_list_of_otlp_and_prometheus_or_none() {
        let chosen =
            |v: &str| resolve(&[("OTEL_METRICS_EXPORTER", v)]).map(|s| s.metrics_exporters);
        assert_eq!(
            resolve(&[]).unwrap().metrics_exporters,
            MetricsExporters::of(&[MetricsExporter::Otlp])
        );
        if cfg!(feature = "prometheus") {
            assert_eq!(
                chosen(" otlp , prometheus").unwrap(),
                MetricsExporters::of(&[MetricsExporter::Otlp, MetricsExporter::Prometheus])
            );
            assert_eq!(
                chosen("prometheus").unwrap(),
                MetricsExporters::of(&[MetricsExporter::Prometheus])
            );
        } else {
            let e = chosen("prometheus").unwrap_err().to_string();
            assert!(e.contains("`prometheus` feature"), "{e}");
        }
        assert_eq!(chosen("none").unwrap(), MetricsExporters::of(&[]));
        for bad in ["console", "none,otlp", "otlp,"] {
            let e = chosen(bad).unwrap_err().to_string();
            assert!(
                e.contains("OTEL_METRICS_EXPORTER") && e.contains(bad),
                "{e}"
            );
        }
    }

    #[test]
    fn generic_endpoint_gets_the_path_for_http_only_and_signal_endpoints_win() {
        let s = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(s.traces.endpoint, "http://collector:4318/v1/traces");
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .unwrap();
        assert_eq!(s.traces.endpoint, "http://collector:4317");
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://metrics:9000/custom",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(s.metrics.endpoint, "http://metrics:9000/custom");
        assert_eq!(s.traces.protocol, Protocol::Grpc);
        assert_eq!(s.traces.endpoint, "http://collector:4318");
        assert_eq!(s.metrics.protocol, Protocol::HttpProtobuf);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://:4318"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://host:port"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://[::1"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "ten"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "-5"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "99999999999999999"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "3600001"),
            ("OTEL_SDK_DISABLED", "yes please"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team"),
        ] {
            let err = resolve(&[(var, value)]).unwrap_err().to_string();
            assert!(
                err.contains(var) && err.contains(value),
                "{var}={value}: {err}"
            );
        }
    }

    /// Header values are API keys: an error about a header list says which entry (and its key,
    /// where HTTP can carry that name), never a value, nor an entry that may be one.
    #[test]
    fn header_errors_never_show_a_value() {
        for (var, value, says) in [
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=s3cr3t-1,s3cr3t-2",
                "entry 2 of 2",
            ),
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "s3cr3t-3",
                "entry 1 of 1",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-team=a,api-key=s3cr3t-4\u{1}",
                "entry 2 of 2: api-key=",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization: Bearer s3cr3t-5=x",
                "entry 1 of 1",
            ),
            // A newline, percent-encoded.
            (
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "api-key=s3cr3t%0A6",
                "entry 1 of 1: api-key=",
            ),
        ] {
            let err = resolve(&[(var, value)]).unwrap_err().to_string();
            assert!(
                !err.contains("s3cr3t"),
                "{var}: the error shows a header value: {err}"
            );
            assert!(err.contains(var) && err.contains(says), "{var}: {err}");
        }
    }

    #[test]
    fn endpoints_with_and_without_ports_ipv6_included() {
        for ok in [
            "http://collector",
            "https://collector:4318/prefix",
            "http://[::1]",
            "http://[::1]:4318",
            "http://127.0.0.1:0",
        ] {
            let s = resolve(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ok)]).unwrap();
            assert_eq!(s.traces.endpoint, ok);
        }
        for bad in [
            "http://[::1]:port",
            "http://127.0.0.1:99999",
            "ftp://collector",
            "http://",
            "http://a b",
        ] {
            let err = resolve(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", bad)]).unwrap_err();
            assert!(err.to_string().contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn disabled_and_empty_values() {
        assert!(resolve(&[("OTEL_SDK_DISABLED", "TRUE")]).unwrap().disabled);
        let s = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
            ("OTEL_SERVICE_NAME", ""),
        ])
        .unwrap();
        assert_eq!(s.traces.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.service_name, None);
    }
}

mod properties {
    use super::super::*;
    use crate::env::tests::value;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        #[test]
        fn any_environment_resolves_or_names_a_variable_it_was_given(
            vars in proptest::collection::hash_map(
                proptest::sample::select(VARIABLES.to_vec()),
                value(),
                0..6,
            )
        ) {
            let env: HashMap<&str, String> = vars.clone();
            match Settings::resolve(&|name| env.get(name).cloned()) {
                Ok(s) => {
                    for e in [&s.traces, &s.metrics] {
                        prop_assert!(e.timeout > Duration::ZERO && e.timeout <= LONGEST);
                        prop_assert!(
                            e.endpoint.starts_with("http://") || e.endpoint.starts_with("https://"),
                            "{}", e.endpoint
                        );
                        prop_assert!(e.endpoint.parse::<http::Uri>().is_ok(), "{}", e.endpoint);
                    }
                    prop_assert!(s.metric_interval > Duration::ZERO && s.metric_interval <= LONGEST);
                }
                Err(Error::InvalidSetting { setting, value, .. }) if crate::env::holds_secrets(setting) => {
                    // A header list: which entry, and at most its key, never the value given.
                    let given = vars.get(setting);
                    prop_assert!(given.is_some_and(|v| !v.trim().is_empty()), "{} was not given", setting);
                    let (place, shown) = value.split_once(": ").unwrap_or_default();
                    prop_assert!(place.starts_with("entry ") && place.contains(" of "), "{}", value);
                    prop_assert!(shown.ends_with(crate::env::HIDDEN), "{}", value);
                    let key = shown.trim_end_matches(crate::env::HIDDEN);
                    prop_assert!(key.is_empty() || key.ends_with('=') && http::HeaderName::from_bytes(key.trim_end_matches('=').as_bytes()).is_ok(), "{}", value);
                }
                Err(Error::InvalidSetting { setting, value, .. }) => {
                    prop_assert_eq!(vars.get(setting), Some(&value), "{} was not given", setting);
                    prop_assert!(!value.trim().is_empty(), "empty {} counts as unset", setting);
                }
                Err(other) => prop_assert!(false, "not a setting error: {other}"),
            }
        }
    }
}
