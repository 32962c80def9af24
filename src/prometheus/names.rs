//! Prometheus names as the OpenTelemetry Collector's Prometheus exporter writes them.
//!
//! opentelemetry-prometheus 0.33 and the Collector agree on every name this crate exports
//! but one rule: the exporter appends `_ratio` to every metric of unit `1`, the Collector
//! (and Prometheus's own OTLP translator) to gauges only: an up-down counter of unit `1`
//! such as `hw.status` is `hw_status` there, not `hw_status_ratio`. The families the exporter
//! gathers are renamed to the Collector's names here, from the catalogue, so a dashboard
//! reads the same series from this endpoint and from a Collector.

use std::collections::HashMap;

use crate::snapshot::catalogue::{GpuFigure, HostFigure, Instrument, Metric};

/// A metric name with the characters Prometheus does not allow replaced by `_`.
fn sanitized(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// For each metric of unit `1` that is not a gauge: the exporter's name, and the Collector's.
pub(super) fn collector_names() -> HashMap<String, String> {
    let metrics = HostFigure::ALL
        .iter()
        .filter_map(|f| f.figure().metric)
        .chain(GpuFigure::ALL.iter().filter_map(|f| f.figure().metric));
    metrics
        .filter(|m: &Metric| m.unit == "1" && m.instrument != Instrument::Gauge)
        .map(|m| {
            let total = if m.instrument == Instrument::Counter {
                "_total"
            } else {
                ""
            };
            let name = sanitized(m.name);
            (format!("{name}_ratio{total}"), format!("{name}{total}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_up_down_counter_of_unit_1_loses_the_ratio_a_gauge_keeps_it() {
        let names = collector_names();
        assert_eq!(
            names.get("hw_status_ratio").map(String::as_str),
            Some("hw_status")
        );
        assert!(
            !names.contains_key("hw_gpu_utilization_ratio"),
            "a gauge keeps _ratio"
        );
    }
}
