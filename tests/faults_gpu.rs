//! GPU driver faults through the fake NVML driver: a library missing symbols, a slow driver, a
//! failing process list, a driver that comes back after a failed start. The service side
//! (spans) keeps its speed, the sampler says what is missing, recovers, and warns once.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{two_gpus, FakeNvml, Variant};
use common::otel::{attr, int, traced};
use common::{passes, Collected};
use otel_resmon::{GpuField, GpuStatus, MissingReason, ResourceLayer, Sampler, WarningKind};

fn sampler(fake: &FakeNvml, warnings: &Collected, interval_ms: u64) -> Sampler {
    Sampler::builder()
        .ignore_env()
        .nvml_library(fake.library())
        .interval(Duration::from_millis(interval_ms))
        .on_warning(warnings.sink())
        .build()
        .expect("a driver fault is a status, not an error")
}

#[test]
fn a_library_without_nvml_shutdown_is_a_status_and_never_a_panic() {
    let fake = FakeNvml::variant(&two_gpus(), Variant::NoShutdown);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 3);
    match &snap.gpu_status {
        GpuStatus::InitFailed(why) => assert!(why.contains("nvmlShutdown"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(snap.gpus.is_empty());
    assert!(snap.host.memory_total.is_some(), "host figures still flow");
    let all = warnings.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, WarningKind::GpuUnavailable);
    // nvml-wrapper's Drop would call the missing symbol and panic: NVML was never handed the
    // library, so stopping the sampler is clean.
    s.shutdown();
    drop(s);
}

#[test]
fn a_library_without_memory_info_v2_loses_only_memory() {
    let fake = FakeNvml::variant(&two_gpus(), Variant::NoMemoryInfoV2);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 4);
    assert_eq!(snap.gpu_status, GpuStatus::Ok);
    for g in &snap.gpus {
        assert_eq!(g.memory_used, None, "absent, never 0");
        // An old driver without the function: not supported by it.
        assert_eq!(
            g.missing_reason(GpuField::Memory),
            Some(&MissingReason::NotSupported)
        );
        assert!(g.utilization_gpu.is_some() && g.power.is_some());
    }
    assert!(warnings.all().is_empty(), "{:?}", warnings.all());
}

#[test]
fn a_failing_process_list_leaves_the_rest_flowing() {
    let mut config = two_gpus();
    config.push_str("fail.nvmlDeviceGetComputeRunningProcesses_v3=999\n");
    let fake = FakeNvml::new(&config);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 5);
    for g in &snap.gpus {
        assert_eq!(g.process_memory, None);
        assert!(g.missing_reason(GpuField::ProcessMemory).is_some());
        assert!(g.memory_used.is_some() && g.utilization_gpu.is_some());
    }
    let n = warnings.all().len();
    passes(&s, 5);
    assert_eq!(warnings.all().len(), n, "warned once, not per pass");
}

#[test]
fn a_slow_driver_does_not_slow_spans() {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 50);
    let t = traced(ResourceLayer::builder(&s));
    let time_spans = |n: usize| {
        let mut took = Vec::with_capacity(n);
        t.run(|| {
            for _ in 0..n {
                let started = Instant::now();
                drop(tracing::info_span!("request").entered());
                took.push(started.elapsed());
            }
        });
        took.sort_unstable();
        took[n * 99 / 100]
    };
    let normal_p99 = time_spans(2000);
    // Every NVML call now sleeps 200 ms: a pass over two GPUs takes seconds.
    let mut slow = two_gpus();
    slow.push_str("slow_ms=200\n");
    fake.set(&slow);
    std::thread::sleep(Duration::from_millis(300)); // a pass is under way
    let started = Instant::now();
    let slow_p99 = time_spans(2000);
    let all = started.elapsed();
    // The sampler's health (what the status service shows) does not wait for the pass.
    let asked = Instant::now();
    let health = s.health();
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "health() waited {:?} on a slow pass",
        asked.elapsed()
    );
    assert!(health.running);
    // A pass over two GPUs with every call sleeping takes seconds: the snapshot ages.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.health().last_pass < Duration::from_millis(200) {
        assert!(Instant::now() < deadline, "no slow pass: {:?}", s.health());
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "span p99: {normal_p99:?} normal, {slow_p99:?} with a 200 ms driver; 2000 spans in {all:?}"
    );
    assert!(
        slow_p99 < normal_p99 * 5 + Duration::from_millis(2),
        "span p99 {slow_p99:?} with a slow driver against {normal_p99:?}"
    );
    assert!(all < Duration::from_secs(2), "2000 spans took {all:?}");
    // The spans say how old their figures are.
    let spans = t.spans();
    assert_eq!(spans.len(), 4000, "every span exported");
    let span = spans.last().unwrap();
    assert!(attr(span, "resmon.sample.age").is_some());
    assert_eq!(int(span, "resmon.gpu.count"), 2);
    fake.set(&two_gpus());
}

#[test]
fn the_sampler_recovers_when_the_driver_comes_back() {
    let fake = FakeNvml::new("init_error=9\n"); // NVML_ERROR_DRIVER_NOT_LOADED
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    assert_eq!(passes(&s, 3).gpu_status, GpuStatus::DriverNotLoaded);
    assert!(s.inventory().devices.is_empty());
    // Still down over a few retries (1 s, 2 s): one warning, not one per try.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(s.latest().gpu_status, GpuStatus::DriverNotLoaded);
    fake.set(&two_gpus());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.latest().gpu_status != GpuStatus::Ok {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            s.latest().gpu_status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let snap = passes(&s, 2);
    assert_eq!(snap.gpus.len(), 2);
    assert!(snap.gpus.iter().all(|g| g.memory_used.is_some()));
    assert_eq!(s.inventory().devices.len(), 2, "the inventory follows");
    let all = warnings.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, WarningKind::GpuUnavailable);
}
