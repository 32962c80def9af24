//! The resource metrics and the per-span histograms, read back through the SDK's in-memory
//! metric exporter: names, units, kinds, values and bounded attributes.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::fake_nvml::{two_gpus, FakeNvml, GIB};
use common::otel::traced;
use common::passes;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use otel_resmon::{ResourceLayer, Sampler};

struct Meters {
    exporter: InMemoryMetricExporter,
    provider: SdkMeterProvider,
}

fn meters() -> Meters {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    Meters { exporter, provider }
}

/// (metric name, unit, kind, data points as (attributes, value or histogram count)).
type Points = Vec<(Vec<KeyValue>, f64)>;

fn collect(m: &Meters) -> HashMap<String, (String, &'static str, Points)> {
    m.provider.force_flush().unwrap();
    let exported: Vec<ResourceMetrics> = m.exporter.get_finished_metrics().unwrap();
    let mut out = HashMap::new();
    for rm in &exported {
        for sm in rm.scope_metrics() {
            for metric in sm.metrics() {
                let attrs =
                    |it: &mut dyn Iterator<Item = &KeyValue>| it.cloned().collect::<Vec<_>>();
                let (kind, points): (&'static str, Points) = match metric.data() {
                    AggregatedMetrics::F64(MetricData::Gauge(g)) => (
                        "gauge",
                        g.data_points()
                            .map(|p| (attrs(&mut p.attributes()), p.value()))
                            .collect(),
                    ),
                    AggregatedMetrics::F64(MetricData::Sum(s)) => (
                        if s.is_monotonic() {
                            "counter"
                        } else {
                            "updowncounter"
                        },
                        s.data_points()
                            .map(|p| (attrs(&mut p.attributes()), p.value()))
                            .collect(),
                    ),
                    AggregatedMetrics::I64(MetricData::Sum(s)) => (
                        if s.is_monotonic() {
                            "counter"
                        } else {
                            "updowncounter"
                        },
                        s.data_points()
                            .map(|p| (attrs(&mut p.attributes()), p.value() as f64))
                            .collect(),
                    ),
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                        "histogram",
                        h.data_points()
                            .map(|p| (attrs(&mut p.attributes()), p.count() as f64))
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

fn has(points: &Points, key: &str, value: &str) -> bool {
    points.iter().any(|(attrs, _)| {
        attrs
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
    })
}

#[test]
fn resource_metrics_follow_the_semantic_conventions() {
    let fake = FakeNvml::new(&two_gpus());
    let s = Sampler::builder()
        .ignore_env()
        .nvml_library(fake.library())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    passes(&s, 6); // CPU utilization needs two readings 200 ms apart
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let got = collect(&m);

    for (name, unit, kind) in [
        ("hw.gpu.memory.usage", "By", "updowncounter"),
        ("hw.gpu.memory.limit", "By", "updowncounter"),
        ("hw.gpu.memory.utilization", "1", "gauge"),
        ("hw.gpu.utilization", "1", "gauge"),
        ("hw.power", "W", "gauge"),
        ("hw.energy", "J", "counter"),
        ("hw.temperature", "Cel", "gauge"),
        ("process.gpu.memory.usage", "By", "updowncounter"),
        ("system.cpu.utilization", "1", "gauge"),
        ("system.memory.usage", "By", "updowncounter"),
        ("system.memory.limit", "By", "updowncounter"),
        ("process.cpu.time", "s", "counter"),
        ("process.memory.usage", "By", "updowncounter"),
    ] {
        let (u, k, points) = got.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((u.as_str(), *k), (unit, kind), "{name}");
        assert!(!points.is_empty(), "{name} has no data point");
        for (attrs, _) in points {
            for kv in attrs {
                assert!(
                    ![
                        "process.pid",
                        "process.command_line",
                        "process.executable.name"
                    ]
                    .contains(&kv.key.as_str()),
                    "{name} carries {}",
                    kv.key
                );
            }
        }
    }
    // GPU points are keyed by UUID and carry the values the driver gave.
    let (_, _, usage) = &got["hw.gpu.memory.usage"];
    let gpu1 = usage
        .iter()
        .find(|(a, _)| {
            a.iter()
                .any(|kv| kv.value.as_str() == "GPU-22222222-bbbb-4000-8000-000000000002")
        })
        .expect("a point for GPU 1");
    assert_eq!(gpu1.1, (20 * GIB) as f64);
    assert!(has(usage, "hw.vendor", "NVIDIA"));
    let (_, _, util) = &got["hw.gpu.utilization"];
    assert!(has(util, "hw.gpu.task", "general"));
    assert!(util.iter().any(|(_, v)| *v == 0.4));
    let (_, _, temp) = &got["hw.temperature"];
    assert!(has(
        temp,
        "hw.parent",
        "GPU-11111111-aaaa-4000-8000-000000000001"
    ));
    assert!(has(temp, "hw.type", "temperature"));
    let (_, _, cpu) = &got["process.cpu.time"];
    assert!(has(cpu, "cpu.mode", "user") && has(cpu, "cpu.mode", "system"));
    let (_, _, energy) = &got["hw.energy"];
    assert!(energy.iter().any(|(_, v)| *v == 2000.0), "energy in joules");
}

#[test]
fn span_histograms_carry_only_the_span_name_and_allowed_fields() {
    let fake = FakeNvml::new(&two_gpus());
    let s = Sampler::builder()
        .ignore_env()
        .nvml_library(fake.library())
        .interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let m = meters();
    let t = traced(
        ResourceLayer::builder(&s)
            .metrics(&m.provider.meter("test"))
            .metric_fields(["route"]),
    );
    t.run(|| {
        for _ in 0..3 {
            let _span =
                tracing::info_span!("request", route = "/api/chat", user = "bob", request_id = 7)
                    .entered();
        }
    });
    let got = collect(&m);
    for name in [
        "resmon.span.process.cpu.time",
        "resmon.span.process.memory.growth",
        "resmon.span.gpu.memory.peak",
    ] {
        let (_, kind, points) = got.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(*kind, "histogram");
        let recorded: f64 = points.iter().map(|(_, n)| n).sum();
        let per_span = if name.contains("gpu") { 6.0 } else { 3.0 };
        assert_eq!(recorded, per_span, "{name}: one value per span (and GPU)");
        for (attrs, _) in points {
            let keys: Vec<&str> = attrs.iter().map(|kv| kv.key.as_str()).collect();
            for key in &keys {
                assert!(
                    ["span.name", "route", "hw.id"].contains(key),
                    "{name} carries {key}: {keys:?}"
                );
            }
            assert!(has(points, "span.name", "request") && has(points, "route", "/api/chat"));
        }
    }
    assert_eq!(got["resmon.span.process.cpu.time"].0, "s");
    assert_eq!(got["resmon.span.gpu.memory.peak"].0, "By");
}
