//! The resource metrics and the per-span histograms, read back through the SDK's in-memory
//! metric exporter: names, units, kinds, values and bounded attributes.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::Duration;

use common::fake_nvml::{two_gpus, FakeNvml, GIB};
use common::metrics::{collect, has, meters};
use common::otel::traced;
use common::passes;
use opentelemetry::metrics::MeterProvider as _;
use otel_resmon::{ResourceLayer, Sampler};

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
        for attrs in points.iter().map(|p| &p.attributes) {
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
        .find(|p| {
            p.attributes
                .iter()
                .any(|kv| kv.value.as_str() == "GPU-22222222-bbbb-4000-8000-000000000002")
        })
        .expect("a point for GPU 1");
    assert_eq!(gpu1.value, (20 * GIB) as f64);
    assert!(has(usage, "hw.vendor", "NVIDIA"));
    let (_, _, util) = &got["hw.gpu.utilization"];
    assert!(has(util, "hw.gpu.task", "general"));
    assert!(util.iter().any(|p| p.value == 0.4));
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
    assert!(energy.iter().any(|p| p.value == 2000.0), "energy in joules");
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
        let recorded: f64 = points.iter().map(|p| p.value).sum();
        let per_span = if name.contains("gpu") { 6.0 } else { 3.0 };
        assert_eq!(recorded, per_span, "{name}: one value per span (and GPU)");
        for attrs in points.iter().map(|p| &p.attributes) {
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
