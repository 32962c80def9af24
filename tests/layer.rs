//! `ResourceLayer` through the OTel SDK's in-memory exporter: the default attribute set and its
//! types, real memory and CPU deltas, a GPU peak inside a span, pressure events, selection and
//! the registration order.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use common::burn_cpu;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, FakeNvml, Gpu, GIB, MIB};
use common::otel::{attr, attr_in, float, int, resmon_keys, traced};
use common::passes;
use opentelemetry::Value;
use otel_resmon::{FigureSet, OtelLink, PressureThresholds, ResourceLayer, Sampler};
use tracing::Level;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer as _;

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";

/// Tests that measure this process's memory or CPU run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn one_gpu(used: u64) -> String {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.memory_used = used;
    gpus(&[g])
}

fn sampler(fake: &FakeNvml, interval_ms: u64) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(interval_ms))
        .on_warning(|_| {})
        .build()
        .unwrap()
}

/// Waits until host CPU utilization exists (two readings 200 ms apart).
fn warm(s: &Sampler) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.latest().host.cpu_utilization.is_none() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
}

const DEFAULT_INTS: &[&str] = &[
    "resmon.process.memory.usage.end",
    "resmon.process.memory.usage.delta",
    "resmon.system.memory.usage.end",
    // This machine's own cgroup (tests/container.rs covers the container figures).
    "resmon.container.memory.working_set.end",
    "resmon.container.memory.working_set.delta",
    "resmon.gpu.0.memory.usage.end",
    "resmon.gpu.0.memory.usage.delta",
    "resmon.gpu.0.memory.usage.peak",
    "resmon.gpu.0.process.memory.usage.end",
    "resmon.gpu.0.process.memory.usage.delta",
    "resmon.gpu.0.clock.sm.min",
];
/// The full set adds the explicit starts (start = end - delta) and more.
const FULL_STARTS: &[&str] = &[
    "resmon.process.memory.usage.start",
    "resmon.system.memory.usage.start",
    "resmon.gpu.0.memory.usage.start",
    "resmon.gpu.0.process.memory.usage.start",
];
const DEFAULT_FLOATS: &[&str] = &[
    "resmon.sample.age",
    "resmon.process.cpu.time.delta",
    "resmon.system.cpu.utilization.end",
    "resmon.gpu.0.utilization.peak",
    "resmon.gpu.0.utilization.mean",
];

#[test]
fn default_set_is_present_with_numeric_types() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 20);
    warm(&s);
    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        let _span = tracing::info_span!("work").entered();
        std::thread::sleep(Duration::from_millis(60));
    });
    let span = t.span("work");
    for key in DEFAULT_INTS {
        int(&span, key);
    }
    for key in DEFAULT_FLOATS {
        float(&span, key);
    }
    assert!(
        attr(&span, "resmon.gpu.count").is_none(),
        "a resource attribute, not repeated on every span"
    );
    assert_eq!(
        attr(&span, "resmon.gpu.status"),
        None,
        "the status is written when not ok"
    );
    for key in FULL_STARTS {
        assert!(attr(&span, key).is_none(), "{key} is in the full set only");
    }
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.peak"),
        (10 * GIB) as i64
    );
    assert_eq!(float(&span, "resmon.gpu.0.utilization.peak"), 0.4);
    let age = float(&span, "resmon.sample.age");
    assert!((0.0..1.0).contains(&age), "{age}");
    let util = float(&span, "resmon.system.cpu.utilization.end");
    assert!((0.0..=1.0).contains(&util));

    // Exactly the default set, each key once.
    let mut keys = resmon_keys(&span);
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a key written twice: {keys:?}");
    assert_eq!(n, DEFAULT_INTS.len() + DEFAULT_FLOATS.len(), "{keys:?}");
    assert_eq!(t.status.otel_link(), OtelLink::Ok);
}

#[test]
fn a_counter_that_went_backwards_gives_no_delta_never_zero() {
    // The driver re-initialised mid-span: the energy counter fell from 5000 J to 1 J.
    // No power: the counter's reads are moved to the ends' readings at the power read there.
    let gpu = |energy_mj: u64| {
        let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
        g.energy_mj = Some(energy_mj);
        g.power_mw = 0;
        gpus(&[g])
    };
    let fake = FakeNvml::new(&gpu(5_000_000));
    // The counter read after every pass, so that each end holds a read of its own.
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .gpu_counters_interval(Duration::from_millis(1))
        .on_warning(|_| {})
        .build()
        .unwrap();
    warm(&s);
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let span = tracing::info_span!("reset").entered();
        passes(&s, 1);
        fake.set(&gpu(1_000));
        passes(&s, 2);
        drop(span);
        let span = tracing::info_span!("rising").entered();
        passes(&s, 1);
        fake.set(&gpu(3_000));
        passes(&s, 2);
        drop(span);
    });
    assert_eq!(
        attr(&t.span("reset"), "resmon.gpu.0.energy.delta"),
        None,
        "a reset counter's delta is unknown, not 0"
    );
    assert_eq!(float(&t.span("rising"), "resmon.gpu.0.energy.delta"), 2.0);
}

/// Figures that need two readings: without them, a span says nothing rather than 0.
const NEED_TWO_SNAPSHOTS: &[&str] = &[
    "resmon.process.cpu.time.delta",
    "resmon.process.memory.usage.delta",
    "resmon.container.memory.working_set.delta",
    "resmon.gpu.0.memory.usage.delta",
    "resmon.gpu.0.memory.usage.peak",
    "resmon.gpu.0.process.memory.usage.delta",
    "resmon.gpu.0.utilization.mean",
    "resmon.gpu.0.utilization.peak",
    "resmon.gpu.0.clock.sm.min",
];

#[test]
fn a_span_within_one_sampling_interval_gets_values_but_no_deltas() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 60_000);
    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        let _span = tracing::info_span!("short").entered();
    });
    let span = t.span("short");
    for key in NEED_TWO_SNAPSHOTS {
        assert!(attr(&span, key).is_none(), "{key} from one snapshot");
    }
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.end"),
        (10 * GIB) as i64
    );
    int(&span, "resmon.process.memory.usage.end");
    float(&span, "resmon.sample.age");
    let n = resmon_keys(&span).len();
    assert_eq!(
        n,
        DEFAULT_INTS.len() + DEFAULT_FLOATS.len() - NEED_TWO_SNAPSHOTS.len() - 1,
        "no system CPU utilization yet either (one reading): {:?}",
        resmon_keys(&span)
    );
}

#[test]
fn full_set_adds_peaks_limits_and_host_detail() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 20);
    warm(&s);
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let _span = tracing::info_span!("full").entered();
        std::thread::sleep(Duration::from_millis(50));
    });
    let span = t.span("full");
    for key in DEFAULT_INTS.iter().chain(FULL_STARTS) {
        int(&span, key);
    }
    for key in DEFAULT_FLOATS {
        float(&span, key);
    }
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.end") - int(&span, "resmon.gpu.0.memory.usage.start"),
        int(&span, "resmon.gpu.0.memory.usage.delta")
    );
    assert_eq!(int(&span, "resmon.gpu.0.memory.limit"), (80 * GIB) as i64);
    assert_eq!(float(&span, "resmon.gpu.0.power.peak"), 300.0);
    assert_eq!(float(&span, "resmon.gpu.0.temperature.peak"), 50.0);
    // The counter is read every 10 s: a 50 ms span gets an estimate from its power
    // readings (300 W), named so, and no counter difference.
    assert!(attr(&span, "resmon.gpu.0.energy.delta").is_none());
    let estimate = float(&span, "resmon.gpu.0.energy.estimate");
    assert!((3.0..=60.0).contains(&estimate), "{estimate} J");
    int(&span, "resmon.gpu.0.memory.free.min");
    int(&span, "resmon.process.memory.usage.peak");
    int(&span, "resmon.system.memory.available.min");
    assert!(int(&span, "resmon.sample.count") >= 2);
    for kv in &span.attributes {
        if kv.key.as_str().starts_with("resmon.") && kv.key.as_str() != "resmon.gpu.status" {
            assert!(
                matches!(kv.value, Value::I64(_) | Value::F64(_)),
                "{} is not a number: {:?}",
                kv.key,
                kv.value
            );
        }
    }
}

#[test]
fn a_span_touching_256_mib_shows_the_rss_delta() {
    let _serial = serial();
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 20);
    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        // Exact boundaries: a fresh sample at start and end.
        let span = tracing::info_span!("alloc_exact", resmon.sample_now = true).entered();
        let block = std::hint::black_box(vec![1u8; 256 * MIB as usize]);
        drop(span);
        drop(block);
        // Cached snapshots may be one interval old: let the sampler see the block freed.
        passes(&s, 2);
        // A span that lives a few intervals after touching the memory.
        let span = tracing::info_span!("alloc_cached").entered();
        let block = std::hint::black_box(vec![1u8; 256 * MIB as usize]);
        passes(&s, 3);
        drop(span);
        drop(block);
    });
    for name in ["alloc_exact", "alloc_cached"] {
        let span = t.span(name);
        let delta = int(&span, "resmon.process.memory.usage.delta");
        assert!(
            delta >= (200 * MIB) as i64,
            "{name}: RSS delta {} MiB",
            delta / MIB as i64
        );
        assert!(int(&span, "resmon.process.memory.usage.end") >= delta);
    }
}

#[test]
fn cpu_burn_shows_in_process_and_span_cpu_time_but_not_in_an_idle_sibling() {
    let _serial = serial();
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 20);
    let t = traced(ResourceLayer::builder(&s).span_cpu_time(true));
    t.run(|| {
        let parent = tracing::info_span!("parent");
        let _p = parent.clone().entered();
        std::thread::scope(|scope| {
            let idle_parent = parent.clone();
            let dispatch = t.dispatch.clone();
            // The idle sibling runs while the other thread burns: the process's CPU time
            // rises under it, its own CPU time does not.
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _s = tracing::info_span!(parent: &idle_parent, "idle").entered();
                    std::thread::sleep(Duration::from_millis(300));
                })
            });
            let _s = tracing::info_span!("busy").entered();
            burn_cpu(0.3);
        });
    });
    let busy = t.span("busy");
    let idle = t.span("idle");
    let busy_process = float(&busy, "resmon.process.cpu.time.delta");
    assert!(
        busy_process >= 0.2,
        "busy: process CPU delta {busy_process:.3} s"
    );
    let busy_span = float(&busy, "resmon.span.cpu.time");
    assert!(busy_span >= 0.25, "busy: span CPU time {busy_span:.3} s");
    let idle_span = float(&idle, "resmon.span.cpu.time");
    assert!(idle_span < 0.05, "idle: span CPU time {idle_span:.3} s");
    // The parent was entered on the burning thread throughout.
    assert!(float(&t.span("parent"), "resmon.span.cpu.time") >= busy_span);
}

#[test]
fn gpu_memory_that_rises_and_falls_inside_a_span_shows_its_peak() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 10);
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let _span = tracing::info_span!("model_call").entered();
        passes(&s, 2);
        fake.set(&one_gpu(30 * GIB));
        passes(&s, 3);
        fake.set(&one_gpu(10 * GIB));
        passes(&s, 3);
    });
    let span = t.span("model_call");
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.start"),
        (10 * GIB) as i64
    );
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.end"),
        (10 * GIB) as i64
    );
    assert_eq!(int(&span, "resmon.gpu.0.memory.usage.delta"), 0);
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.peak"),
        (30 * GIB) as i64
    );
}

#[test]
fn pressure_event_fires_below_the_threshold_and_not_above() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 10);
    // GPU threshold only: the host's own RAM must not decide this test.
    let t = traced(
        ResourceLayer::builder(&s).pressure(PressureThresholds::none().gpu_free_bytes(500 * MIB)),
    );
    let free = |free: u64| one_gpu(80 * GIB - 512 * MIB - free);
    t.run(|| {
        fake.set(&free(700 * MIB));
        passes(&s, 2);
        let span = tracing::info_span!("roomy").entered();
        passes(&s, 2);
        drop(span);

        let span = tracing::info_span!("tight").entered();
        fake.set(&free(300 * MIB));
        passes(&s, 2);
        fake.set(&free(700 * MIB));
        passes(&s, 2);
        drop(span);
    });
    assert!(
        t.span("roomy").events.is_empty(),
        "700 MiB free is above 500 MiB"
    );
    let tight = t.span("tight");
    assert_eq!(tight.events.len(), 1, "{:?}", tight.events);
    let event = &tight.events[0];
    assert_eq!(event.name, "resmon.pressure");
    let a = &event.attributes;
    assert_eq!(
        attr_in(a, "resmon.pressure.resource"),
        Some(&Value::from("gpu.memory"))
    );
    assert_eq!(attr_in(a, "hw.id"), Some(&Value::from(UUID0.to_string())));
    assert_eq!(
        attr_in(a, "resmon.pressure.free"),
        Some(&Value::I64((300 * MIB) as i64))
    );
    assert_eq!(
        attr_in(a, "resmon.pressure.threshold"),
        Some(&Value::I64((500 * MIB) as i64))
    );
    assert!(event.timestamp >= tight.start_time && event.timestamp <= tight.end_time);
}

#[test]
fn ram_pressure_and_the_off_switch() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 20);
    // Every machine has less than 1 EiB available: RAM is under pressure by this threshold.
    let t = traced(
        ResourceLayer::builder(&s)
            .pressure(PressureThresholds::none().ram_available_bytes(1 << 60)),
    );
    t.run(|| {
        let _span = tracing::info_span!("ram").entered();
        passes(&s, 2);
    });
    let span = t.span("ram");
    assert_eq!(span.events.len(), 1);
    // Within one interval the only snapshot is older than the span: no event from it.
    t.run(|| drop(tracing::info_span!("within").entered()));
    assert!(t.span("within").events.is_empty());
    assert_eq!(
        attr_in(&span.events[0].attributes, "resmon.pressure.resource"),
        Some(&Value::from("system.memory"))
    );

    let t = traced(ResourceLayer::builder(&s).pressure(PressureThresholds::none()));
    fake.set(&one_gpu(80 * GIB - 512 * MIB - MIB));
    t.run(|| {
        let _span = tracing::info_span!("off").entered();
        passes(&s, 2);
    });
    assert!(t.span("off").events.is_empty());
}

#[test]
fn selection_by_level_marker_name_and_target() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = sampler(&fake, 50);
    let has_figures = |t: &common::otel::Traced, name: &str| !resmon_keys(&t.span(name)).is_empty();

    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        drop(tracing::info_span!("info").entered());
        drop(tracing::debug_span!("debug").entered());
        drop(tracing::info_span!("opted_out", resmon = false).entered());
    });
    assert!(has_figures(&t, "info"));
    assert!(!has_figures(&t, "debug"), "default: INFO and above");
    assert!(!has_figures(&t, "opted_out"));

    let t = traced(
        ResourceLayer::builder(&s)
            .marker_only(true)
            .level(Level::TRACE),
    );
    t.run(|| {
        drop(tracing::trace_span!("marked", resmon = true).entered());
        drop(tracing::info_span!("unmarked").entered());
    });
    assert!(has_figures(&t, "marked"));
    assert!(!has_figures(&t, "unmarked"));

    // An explicit marker wins over the level and target rules.
    let t = traced(
        ResourceLayer::builder(&s)
            .target_prefix("my_app")
            .level(Level::WARN),
    );
    t.run(|| {
        drop(tracing::debug_span!(target: "elsewhere", "asked_for", resmon = true).entered());
        drop(tracing::info_span!(target: "my_app", "too_verbose").entered());
    });
    assert!(
        has_figures(&t, "asked_for"),
        "resmon = true was dropped by the filters"
    );
    assert!(!has_figures(&t, "too_verbose"));

    let t = traced(ResourceLayer::builder(&s).all_spans().name_prefix("llm."));
    t.run(|| {
        drop(tracing::trace_span!("llm.generate").entered());
        drop(tracing::info_span!("http").entered());
    });
    assert!(has_figures(&t, "llm.generate"));
    assert!(!has_figures(&t, "http"));

    let t = traced(ResourceLayer::builder(&s).target_prefix("layer"));
    t.run(|| {
        drop(tracing::info_span!("mine").entered());
        drop(tracing::info_span!(target: "elsewhere", "theirs").entered());
    });
    assert!(has_figures(&t, "mine"));
    assert!(!has_figures(&t, "theirs"));

    let t = traced(ResourceLayer::builder(&s).gpus([]));
    t.run(|| drop(tracing::info_span!("no_gpus").entered()));
    let span = t.span("no_gpus");
    assert!(attr(&span, "resmon.gpu.0.memory.usage.end").is_none());
    assert!(attr(&span, "resmon.gpu.0.utilization.peak").is_none());
}

#[test]
fn the_wrong_registration_order_is_reported() {
    use opentelemetry::trace::TracerProvider as _;
    let s = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = ResourceLayer::new(&s);
    let status = layer.status();
    assert_eq!(status.otel_link(), OtelLink::Unknown);
    // Wrong: the OTel layer inside (registered first), the resource layer outside.
    let wrong = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")))
        .with(layer);
    tracing::subscriber::with_default(wrong, || {
        drop(tracing::info_span!("a").entered());
        drop(tracing::info_span!("b").entered());
    });
    assert_eq!(status.otel_link(), OtelLink::WrongOrder);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2, "the service's spans are untouched");
    assert!(spans.iter().all(|s| resmon_keys(s).is_empty()));

    // `and_then` composes them in the right order.
    let layer = ResourceLayer::new(&s);
    let status = layer.status();
    let right = tracing_subscriber::registry()
        .with(layer.and_then(tracing_opentelemetry::layer().with_tracer(provider.tracer("t"))));
    tracing::subscriber::with_default(right, || drop(tracing::info_span!("c").entered()));
    assert_eq!(status.otel_link(), OtelLink::Ok);

    // No OTel layer at all.
    let layer = ResourceLayer::new(&s);
    let status = layer.status();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        drop(tracing::info_span!("d").entered())
    });
    assert_eq!(status.otel_link(), OtelLink::NoOtelSpan);
}

#[test]
fn a_layer_registered_twice_is_reported_and_writes_each_figure_once() {
    use opentelemetry::trace::TracerProvider as _;
    let s = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let (first, second) = (ResourceLayer::new(&s), ResourceLayer::new(&s));
    let (first_status, second_status) = (first.status(), second.status());
    let twice = tracing_subscriber::registry().with(
        first
            .and_then(second)
            .and_then(tracing_opentelemetry::layer().with_tracer(provider.tracer("t"))),
    );
    tracing::subscriber::with_default(twice, || {
        for _ in 0..3 {
            let outer = tracing::info_span!("outer").entered();
            drop(tracing::info_span!("inner").entered());
            drop(outer);
        }
    });
    assert_eq!(first_status.otel_link(), OtelLink::Ok);
    assert_eq!(second_status.otel_link(), OtelLink::RegisteredTwice);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 6);
    for span in &spans {
        let keys = resmon_keys(span);
        assert!(
            keys.contains(&"resmon.process.memory.usage.end".to_string()),
            "{keys:?}"
        );
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "each key once: {keys:?}");
    }
}
