//! The resource metrics and the per-span histograms, read back through the SDK's in-memory
//! metric exporter: names, units, kinds, values and bounded attributes.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::fake_nvml::{gpus, two_gpus, FakeNvml, Gpu, GIB};
use common::metrics::{collect, has, meters};
use common::otel::traced;
use common::passes;
use opentelemetry::metrics::MeterProvider as _;
use otel_resmon::{ResourceLayer, Sampler};

/// A sampler on the fake driver, passing every `interval`.
fn sampler(fake: &FakeNvml, interval: Duration) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(interval)
        .build()
        .unwrap()
}

#[test]
fn resource_metrics_follow_the_semantic_conventions() {
    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake, Duration::from_millis(50));
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

/// A driver reload restarts the GPU's counters lower: the exported cumulative counters
/// (`hw.energy`, the time throttled) stay monotonic, carrying what was counted before, and go
/// on rising from there.
#[test]
fn cumulative_counters_stay_monotonic_across_a_driver_reload() {
    let mut gpu = Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    );
    gpu.set("field.74", 5_000_000_000u64);
    let fake = FakeNvml::new(&gpus(std::slice::from_ref(&gpu)));
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .gpu_counters_interval(Duration::from_millis(1))
        .on_warning(|_| {})
        .build()
        .unwrap();
    passes(&s, 2);
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let read = || {
        let got = collect(&m);
        let energy = got["hw.energy"].2[0].value;
        let throttled = got["resmon.gpu.throttled_time"]
            .2
            .iter()
            .find(|p| {
                has(
                    std::slice::from_ref(*p),
                    "resmon.gpu.clock_event.reason",
                    "sw_power_cap",
                )
            })
            .expect("a sw_power_cap point")
            .value;
        (energy, throttled)
    };
    // Waits until the sampler read the counters as configured.
    let settle = |energy: f64, power_cap: f64| {
        let until = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let g = passes(&s, 1).gpus[0].clone();
            if g.energy == Some(energy) && g.condition.throttled_time.power_cap == Some(power_cap) {
                return;
            }
            assert!(
                std::time::Instant::now() < until,
                "the counters never read {energy}, {power_cap}"
            );
        }
    };
    assert_eq!(read(), (1000.0, 5.0));
    // The driver reloads: its counters start again from nearly 0.
    gpu.energy_mj = Some(200_000);
    gpu.set("field.74", 1_000_000_000u64);
    fake.set(&gpus(std::slice::from_ref(&gpu)));
    settle(200.0, 1.0);
    let (energy, throttled) = read();
    assert!(
        energy >= 1000.0,
        "hw.energy went backwards: 1000 then {energy}"
    );
    assert!(
        throttled >= 5.0,
        "the time throttled went backwards: 5 then {throttled}"
    );
    assert_eq!(
        (energy, throttled),
        (1200.0, 6.0),
        "what was counted before is carried"
    );
    gpu.energy_mj = Some(300_000);
    gpu.set("field.74", 1_500_000_000u64);
    fake.set(&gpus(std::slice::from_ref(&gpu)));
    settle(300.0, 1.5);
    assert_eq!(read(), (1300.0, 6.5));
}

#[test]
fn span_histograms_carry_only_the_span_name_and_allowed_fields() {
    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake, Duration::from_millis(50));
    let m = meters();
    let t = traced(
        ResourceLayer::builder(&s)
            .metrics(&m.provider.meter("test"))
            .metric_fields(["route"]),
    );
    t.run(|| {
        for _ in 0..3 {
            // Fresh samples at both ends: each span observes something.
            let _span = tracing::info_span!(
                "request",
                route = "/api/chat",
                user = "bob",
                request_id = 7,
                resmon.sample_now = true
            )
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

/// Values recorded in a histogram, from one `collect`.
fn histogram_count(got: &HashMap<String, common::metrics::Collected>, name: &str) -> f64 {
    got.get(name)
        .map_or(0.0, |(_, _, points)| points.iter().map(|p| p.value).sum())
}

#[test]
fn histograms_skip_spans_that_saw_one_snapshot() {
    let fake = FakeNvml::new(&two_gpus());
    // One snapshot for the whole test: every span starts and ends on it.
    let s = sampler(&fake, Duration::from_secs(3600));
    let m = meters();
    let t = traced(ResourceLayer::builder(&s).metrics(&m.provider.meter("test")));
    t.run(|| {
        for _ in 0..50 {
            let _span = tracing::info_span!("instant").entered();
            common::burn_cpu(0.002);
        }
    });
    let got = collect(&m);
    for name in [
        "resmon.span.process.cpu.time",
        "resmon.span.process.memory.growth",
        "resmon.span.gpu.memory.peak",
    ] {
        assert_eq!(
            histogram_count(&got, name),
            0.0,
            "{name}: made-up zeros for spans that observed nothing"
        );
    }
}

#[test]
fn histograms_count_every_span_under_a_ratio_sampler() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake, Duration::from_secs(3600));
    let m = meters();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    // OTEL_TRACES_SAMPLER=traceidratio with 0.01, as a user would set it.
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(0.01))
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(
            ResourceLayer::builder(&s)
                .metrics(&m.provider.meter("test"))
                .build(),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    const SPANS: usize = 200;
    tracing::subscriber::with_default(subscriber, || {
        for _ in 0..SPANS {
            let _span = tracing::info_span!("sampled.or.not", resmon.sample_now = true).entered();
        }
    });
    let exported = exporter.get_finished_spans().unwrap().len();
    assert!(exported < SPANS / 4, "{exported} of {SPANS} spans sampled");
    let got = collect(&m);
    assert_eq!(
        histogram_count(&got, "resmon.span.process.cpu.time"),
        SPANS as f64,
        "the histogram counts every span, not only the sampled ones ({exported} exported)"
    );
    assert_eq!(
        histogram_count(&got, "resmon.span.gpu.memory.peak"),
        2.0 * SPANS as f64
    );
}

#[test]
fn resource_metrics_report_nothing_once_the_sampler_stops() {
    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake, Duration::from_millis(50));
    passes(&s, 2);
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let before = collect(&m);
    assert!(!before["hw.gpu.memory.usage"].2.is_empty());
    s.shutdown();
    m.exporter.reset();
    let after = collect(&m);
    for name in [
        "hw.gpu.memory.usage",
        "system.memory.usage",
        "process.cpu.time",
    ] {
        assert!(
            after
                .get(name)
                .is_none_or(|(_, _, points)| points.is_empty()),
            "{name} still reports the stopped sampler's last snapshot: {:?}",
            after.get(name)
        );
    }
}

/// The condition metrics (issue 18): names, units and kinds as the conventions say, one
/// series per state, per reason, per direction and per error type, values as the driver
/// gave them.
#[test]
fn gpu_condition_metrics_follow_the_conventions() {
    let mut gpu = common::fake_nvml::Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    );
    gpu.set("clock_event_reasons", 0x4 | 0x40)
        .set("encoder_util", 25)
        .set("field.74", 3_000_000_000u64)
        .set("field.4", 2)
        .set("field.3", 9);
    let fake = FakeNvml::new(&common::fake_nvml::gpus(&[gpu]));
    let s = sampler(&fake, Duration::from_millis(50));
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let got = collect(&m);
    for (name, unit, kind) in [
        ("hw.gpu.io", "By", "counter"),
        ("hw.errors", "{error}", "counter"),
        ("hw.status", "1", "updowncounter"),
        ("hw.temperature.limit", "Cel", "gauge"),
        ("resmon.gpu.clock", "MHz", "gauge"),
        ("resmon.gpu.clock_event", "1", "updowncounter"),
        ("resmon.gpu.throttled_time", "s", "counter"),
    ] {
        let (u, k, points) = got.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((u.as_str(), *k), (unit, kind), "{name}");
        assert!(!points.is_empty(), "{name} has no data point");
    }
    let value = |name: &str, key: &str, v: &str| {
        got[name]
            .2
            .iter()
            .find(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == key && kv.value.as_str() == v)
            })
            .unwrap_or_else(|| panic!("{name} has no point with {key}={v}"))
            .value
    };
    assert_eq!(value("hw.gpu.utilization", "hw.gpu.task", "encoder"), 0.25);
    assert_eq!(value("hw.gpu.io", "network.io.direction", "receive"), 2e6);
    assert_eq!(value("hw.gpu.io", "network.io.direction", "transmit"), 1e6);
    assert_eq!(value("hw.errors", "error.type", "uncorrected"), 2.0);
    assert_eq!(value("hw.errors", "error.type", "corrected"), 9.0);
    // Uncorrected errors make the GPU degraded: one series per state, 1 for the current.
    let status = &got["hw.status"].2;
    assert_eq!(status.len(), 4, "{status:?}");
    assert_eq!(value("hw.status", "hw.state", "degraded"), 1.0);
    assert_eq!(value("hw.status", "hw.state", "ok"), 0.0);
    assert_eq!(
        value("hw.temperature.limit", "hw.limit_type", "throttled"),
        90.0
    );
    assert_eq!(
        value("hw.temperature.limit", "hw.limit_type", "critical"),
        95.0
    );
    assert_eq!(
        value("resmon.gpu.clock", "resmon.gpu.clock.domain", "sm"),
        1980.0
    );
    // One series per reason, never a combination of bits.
    let events = &got["resmon.gpu.clock_event"].2;
    assert_eq!(events.len(), otel_resmon::CLOCK_EVENT_REASONS.len());
    assert_eq!(
        value(
            "resmon.gpu.clock_event",
            "resmon.gpu.clock_event.reason",
            "sw_power_cap"
        ),
        1.0
    );
    assert_eq!(
        value(
            "resmon.gpu.clock_event",
            "resmon.gpu.clock_event.reason",
            "hw_thermal_slowdown"
        ),
        1.0
    );
    assert_eq!(
        value(
            "resmon.gpu.clock_event",
            "resmon.gpu.clock_event.reason",
            "gpu_idle"
        ),
        0.0
    );
    assert_eq!(
        value(
            "resmon.gpu.throttled_time",
            "resmon.gpu.clock_event.reason",
            "sw_power_cap"
        ),
        3.0
    );
}
