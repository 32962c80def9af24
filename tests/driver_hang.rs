//! A driver that hangs, through the fake NVML driver: `slow_ms` (every call sleeps that long),
//! `hang=1` (every call never returns) and `init_slow_ms` (NVML's start sleeps). No caller of
//! the sampler waits on the driver beyond a stated bound: `sample_now` the driver deadline,
//! `build` the start timeout, `shutdown` the shutdown timeout. Host figures go on, GPU
//! figures go absent with the call named, and a warning says so once.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{two_gpus, FakeNvml};
use common::Collected;
use otel_resmon::{GpuStatus, Sampler, WarningKind};

const INTERVAL: Duration = Duration::from_millis(20);
const DEADLINE: Duration = Duration::from_millis(5);

fn sampler(fake: &FakeNvml, warnings: &Collected) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(INTERVAL)
        .driver_deadline(DEADLINE)
        .shutdown_timeout(Duration::from_millis(300))
        .on_warning(warnings.sink())
        .build()
        .expect("a driver fault is a status, not an error")
}

/// Waits until `f` holds, at most 10 s.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The slowest of `n` calls of `sample_now`.
fn slowest_sample_now(s: &Sampler, n: usize) -> Duration {
    (0..n)
        .map(|_| {
            let started = Instant::now();
            s.sample_now();
            started.elapsed()
        })
        .max()
        .unwrap_or_default()
}

/// A generous margin for a preempted thread on a 2-core machine running other tests.
const NOISE: Duration = Duration::from_millis(40);

fn hangs_then_shuts_down_within_bounds(setting: &str) {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings);
    let warm = s.sample_now();
    assert_eq!(warm.gpu_status, GpuStatus::Ok);
    assert_eq!(warm.gpus.len(), 2);

    fake.set(&format!("{}{setting}\n", two_gpus()));
    // The first call to meet the setting holds the GPU thread; a caller waits at most the
    // deadline for it, then gets the latest snapshot.
    let first = slowest_sample_now(&s, 5);
    assert!(first < DEADLINE + NOISE, "sample_now waited {first:?}");
    // Three intervals on, the driver counts as hung: all GPU figures absent, the call named.
    until("the driver is hung", || s.health().driver_hung.is_some());
    let hung = s.health().driver_hung.unwrap();
    assert!(hung.function.starts_with("nvml"), "{hung:?}");
    assert!(hung.running_for >= INTERVAL * 3, "{hung:?}");
    until("a pass says so", || {
        matches!(s.latest().gpu_status, GpuStatus::Hung(_))
    });
    let latest = s.latest();
    assert!(latest.gpus.is_empty(), "{:?}", latest.gpus);
    // Host figures keep coming, fresh.
    let seq = latest.seq;
    until("passes go on", || s.latest().seq >= seq + 3);
    assert!(s.latest().host.memory_total.is_some());
    assert!(s.health().running);
    // Known hung: callers no longer wait at all.
    let known = slowest_sample_now(&s, 50);
    assert!(known < Duration::from_millis(2) + NOISE, "{known:?}");
    // One warning names the call.
    until("a warning", || {
        warnings
            .all()
            .iter()
            .any(|w| w.kind == WarningKind::DriverHung)
    });
    let all = warnings.all();
    let hung_warnings: Vec<_> = all
        .iter()
        .filter(|w| w.kind == WarningKind::DriverHung)
        .collect();
    assert_eq!(hung_warnings.len(), 1, "{all:?}");
    assert!(hung_warnings[0].message.contains(hung.function), "{all:?}");

    // Shutdown returns within its bound and names the call the GPU thread is left in.
    let started = Instant::now();
    let left = s.shutdown();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(300) + NOISE,
        "shutdown took {took:?}"
    );
    let left = left.expect("the GPU thread is left behind");
    assert!(left.function.starts_with("nvml"), "{left:?}");
    assert_eq!(s.health().left_behind, Some(left));
    // Dropping the last clone waits for nothing more.
    let started = Instant::now();
    drop(s);
    assert!(started.elapsed() < Duration::from_millis(50));
}

#[test]
fn calls_that_sleep_ten_seconds_cost_callers_the_deadline_at_most() {
    hangs_then_shuts_down_within_bounds("slow_ms=10000");
}

#[test]
fn calls_that_never_return_cost_callers_the_deadline_at_most() {
    hangs_then_shuts_down_within_bounds("hang=1");
}

#[test]
fn a_driver_that_answers_again_gives_figures_again() {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings);
    fake.set(&format!("{}slow_ms=300\n", two_gpus()));
    until("the driver is hung", || s.health().driver_hung.is_some());
    fake.set(&two_gpus());
    until("figures come back", || {
        let l = s.latest();
        l.gpu_status == GpuStatus::Ok && l.gpus.len() == 2 && l.gpus[0].memory_used.is_some()
    });
    // A read of the slow period may still be finishing (each of its calls slept 300 ms).
    until("the hang clears", || s.health().driver_hung.is_none());
    assert_eq!(s.shutdown(), None, "nothing left behind");
}

#[test]
fn build_returns_within_the_start_timeout_while_nvml_init_hangs() {
    let fake = FakeNvml::new(&format!("{}init_slow_ms=1500\n", two_gpus()));
    let started = Instant::now();
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(INTERVAL)
        .start_timeout(Duration::from_millis(100))
        .on_warning(|_| {})
        .build()
        .unwrap();
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(100) + NOISE,
        "build took {took:?}"
    );
    let first = s.latest();
    assert!(first.gpus.is_empty());
    match &first.gpu_status {
        GpuStatus::Starting => {}
        GpuStatus::Hung(call) => assert_eq!(call.function, "nvmlInit_v2", "{call:?}"),
        other => panic!("{other:?}"),
    }
    assert!(
        first.host.memory_total.is_some(),
        "host figures from the start"
    );
    // Once the call returns, the figures appear.
    until("GPU figures", || s.latest().gpus.len() == 2);
    assert_eq!(s.latest().gpu_status, GpuStatus::Ok);
    assert_eq!(s.inventory().devices.len(), 2);
}

#[test]
fn a_panicking_warning_sink_stops_no_pass() {
    let fake = FakeNvml::new("init_error=9\n"); // a warning at once: driver not loaded
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(INTERVAL)
        .on_warning(|w| panic!("the application's sink panics on {w}"))
        .build()
        .unwrap();
    let seq = s.latest().seq;
    until("passes go on", || s.latest().seq >= seq + 5);
    assert!(s.health().running);
}

#[test]
fn steady_sample_now_callers_never_crowd_out_interval_passes() {
    let fake = FakeNvml::new(&two_gpus());
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(INTERVAL)
        .gpu_counters_interval(Duration::from_millis(50))
        .on_warning(|_| {})
        .build()
        .unwrap();
    let slow_reads = |s: &Sampler| -> u64 {
        s.health()
            .tiers
            .iter()
            .filter(|t| t.tier == otel_resmon::GpuTier::Energy)
            .map(|t| t.reads)
            .sum()
    };
    let before = slow_reads(&s);
    // Two callers asking for a pass back to back for a second: every pass is asked for.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (s, stop) = (s.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.sample_now();
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in callers {
        c.join().unwrap();
    }
    // The interval passes went on (some of them serving the callers too), so the slow reads
    // that follow them did: about one energy read per GPU every 50 ms.
    let made = slow_reads(&s) - before;
    assert!(
        made >= 10,
        "{made} energy reads in 1 s under steady callers"
    );
}
