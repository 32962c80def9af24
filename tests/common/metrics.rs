//! Reading metrics back through the SDK's in-memory exporter.

use std::collections::HashMap;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

/// A meter provider whose metrics end in an in-memory exporter.
pub struct Meters {
    pub exporter: InMemoryMetricExporter,
    pub provider: SdkMeterProvider,
}

pub fn meters() -> Meters {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    Meters { exporter, provider }
}

/// One data point: its attributes, its value (a histogram's count) and a histogram's sum.
#[derive(Debug, Clone)]
pub struct Point {
    pub attributes: Vec<KeyValue>,
    pub value: f64,
    pub sum: Option<f64>,
}

/// A metric's unit, kind (`gauge`, `counter`, `updowncounter`, `histogram`) and points.
pub type Collected = (String, &'static str, Vec<Point>);

fn point(attributes: impl Iterator<Item = KeyValue>, value: f64, sum: Option<f64>) -> Point {
    Point {
        attributes: attributes.collect(),
        value,
        sum,
    }
}

fn sum_kind(monotonic: bool) -> &'static str {
    if monotonic {
        "counter"
    } else {
        "updowncounter"
    }
}

/// Flushes and returns every metric exported so far, by name (a later export replaces an
/// earlier one).
pub fn collect(m: &Meters) -> HashMap<String, Collected> {
    m.provider.force_flush().unwrap();
    let mut out = HashMap::new();
    for rm in m.exporter.get_finished_metrics().unwrap() {
        for sm in rm.scope_metrics() {
            for metric in sm.metrics() {
                let (kind, points): (&'static str, Vec<Point>) = match metric.data() {
                    AggregatedMetrics::F64(MetricData::Gauge(g)) => (
                        "gauge",
                        g.data_points()
                            .map(|p| point(p.attributes().cloned(), p.value(), None))
                            .collect(),
                    ),
                    AggregatedMetrics::F64(MetricData::Sum(s)) => (
                        sum_kind(s.is_monotonic()),
                        s.data_points()
                            .map(|p| point(p.attributes().cloned(), p.value(), None))
                            .collect(),
                    ),
                    AggregatedMetrics::I64(MetricData::Sum(s)) => (
                        sum_kind(s.is_monotonic()),
                        s.data_points()
                            .map(|p| point(p.attributes().cloned(), p.value() as f64, None))
                            .collect(),
                    ),
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                        "histogram",
                        h.data_points()
                            .map(|p| {
                                point(p.attributes().cloned(), p.count() as f64, Some(p.sum()))
                            })
                            .collect(),
                    ),
                    other => panic!("{}: unexpected data {other:?}", metric.name()),
                };
                out.insert(
                    metric.name().to_owned(),
                    (metric.unit().to_owned(), kind, points),
                );
            }
        }
    }
    out
}

/// Whether a point carries `key = value`.
pub fn has(points: &[Point], key: &str, value: &str) -> bool {
    points.iter().any(|p| {
        p.attributes
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
    })
}
