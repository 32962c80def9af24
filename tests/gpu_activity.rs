//! What a GPU's units did during a span (issue 27): GPM's tensor, DRAM and SM-occupancy
//! figures and this process's share of the device, through the real nvml-wrapper path
//! against the fake driver (its GPM and per-process utilization follow `nvml.h`). A span
//! gets the means of the activity windows that lie within it, and nothing when none does; a
//! device without GPM says why; a per-process sample above 100 % is dropped; another
//! process's share never counts as ours.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, FakeNvml, Gpu, Variant};
use common::metrics::{collect, has, meters};
use common::otel::{attr, float, resmon_keys, traced};
use opentelemetry::metrics::MeterProvider as _;
use otel_resmon::{FigureSet, GpuField, GpuSample, GpuTier, MissingReason, ResourceLayer, Sampler};

const HOPPER: &str = "GPU-00000000-0000-4000-8000-000000000000";
const OLDER: &str = "GPU-11111111-1111-4000-8000-000000000001";

/// A Hopper with GPM answering what a real H200 read under a bf16 matmul: SM 95.8 %,
/// occupancy 14.2 %, any tensor 93.0 %, HMMA 93.0 %, DRAM bandwidth 17.9 %, FP32 0.
fn hopper() -> Gpu {
    let mut g = Gpu::new(0, HOPPER, "0000:18:00.0");
    g.extra = "gpu.0.gpm=1\ngpu.0.gpm.2=95.8\ngpu.0.gpm.3=14.2\ngpu.0.gpm.5=93.0\n\
               gpu.0.gpm.7=93.0\ngpu.0.gpm.10=17.9\ngpu.0.gpm.12=0\ngpu.0.gpm.20=512\n"
        .to_owned();
    g
}

fn sampler(fake: &FakeNvml, activity: Duration) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(50))
        .gpu_activity_interval(activity)
        .on_warning(|_| {})
        .build()
        .unwrap()
}

/// Waits until the current snapshot's GPU `j` satisfies `done`.
fn wait_for(s: &Sampler, j: usize, what: &str, done: impl Fn(&GpuSample) -> bool) -> GpuSample {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let latest = s.sample_now();
        if let Some(g) = latest.gpus.get(j).filter(|g| done(g)) {
            return g.clone();
        }
        assert!(Instant::now() < until, "waited 10 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() < 1e-9
}

#[test]
fn a_span_covering_several_gpm_windows_gets_the_configured_means() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let _span = tracing::info_span!("matmul").entered();
        std::thread::sleep(Duration::from_millis(1700));
    });
    let span = t.span("matmul");
    let tensor = float(&span, "resmon.gpu.0.activity.tensor.mean");
    let dram = float(&span, "resmon.gpu.0.activity.dram.mean");
    let occupancy = float(&span, "resmon.gpu.0.activity.sm_occupancy.mean");
    assert!(close(tensor, 0.93), "tensor {tensor}");
    assert!(close(dram, 0.179), "dram {dram}");
    assert!(close(occupancy, 0.142), "occupancy {occupancy}");
    // Several windows: their peak is written (full set), and they cover most of the span
    // but not the stretch before the first window within it began.
    assert!(close(
        float(&span, "resmon.gpu.0.activity.tensor.peak"),
        0.93
    ));
    let coverage = float(&span, "resmon.gpu.0.activity.coverage");
    assert!((0.4..1.0).contains(&coverage), "coverage {coverage}");

    // The latest window as a sample's figures, and as metrics.
    let g = s.latest().gpus[0].clone();
    let a = g.activity;
    assert_eq!(a.tensor, Some(0.93));
    assert_eq!(a.tensor_hmma, Some(0.93));
    assert_eq!(a.sm, Some(0.958));
    assert_eq!(a.fp32, Some(0.0), "a 0 the device gave is a 0");
    assert_eq!(a.fp64, None, "a metric the device does not give is absent");
    assert_eq!(a.pcie_tx, Some(512.0 * 1024.0 * 1024.0), "MiB/s as bytes/s");
    let (from, to) = a.window.unwrap();
    assert!(to.duration_since(from) >= Duration::from_millis(200));
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let got = collect(&m);
    let (unit, kind, points) = &got["resmon.gpu.activity"];
    assert_eq!((unit.as_str(), *kind), ("1", "gauge"));
    let of = |kind: &str| {
        points
            .iter()
            .find(|p| has(std::slice::from_ref(*p), "resmon.gpu.activity.type", kind))
    };
    assert!(close(of("tensor").expect("a tensor point").value, 0.93));
    assert!(
        of("fp64").is_none(),
        "no point for a figure the device does not give"
    );
    let (unit, _, _) = &got["resmon.gpu.link.io.rate"];
    assert_eq!(unit, "By/s");
}

#[test]
fn a_span_shorter_than_one_window_gets_no_activity_figure() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(1000));
    // Windows exist before and after the span, none within it.
    wait_for(&s, 0, "a first GPM window", |g| g.activity.tensor.is_some());
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let _span = tracing::info_span!("short").entered();
        std::thread::sleep(Duration::from_millis(300));
    });
    std::thread::sleep(Duration::from_millis(1100));
    let span = t.span("short");
    assert!(
        attr(&span, "resmon.gpu.0.utilization.peak").is_some(),
        "the span saw passes of its own"
    );
    let activity: Vec<String> = resmon_keys(&span)
        .into_iter()
        .filter(|k| k.contains("activity") || k.contains("process.utilization"))
        .collect();
    assert!(activity.is_empty(), "made-up figures: {activity:?}");
}

#[test]
fn a_device_without_gpm_says_why() {
    // An older GPU beside the Hopper, and a Hopper in MIG mode.
    let mut mig = Gpu::new(
        2,
        "GPU-22222222-2222-4000-8000-000000000002",
        "0000:3a:00.0",
    );
    mig.set("mig_current", 1);
    mig.extra = "gpu.2.gpm=1\ngpu.2.gpm.5=50\n".to_owned();
    let fake = FakeNvml::new(&gpus(&[hopper(), Gpu::new(1, OLDER, "0000:2a:00.0"), mig]));
    let s = sampler(&fake, Duration::from_millis(300));
    let h = wait_for(&s, 0, "a GPM window", |g| g.activity.tensor.is_some());
    assert_eq!(h.missing_reason(GpuField::Gpm), None);
    let snapshot = s.sample_now();
    let older = &snapshot.gpus[1];
    assert_eq!(
        older.missing_reason(GpuField::Gpm),
        Some(&MissingReason::NotSupported)
    );
    assert_eq!(older.activity.tensor, None, "absent, never 0");
    let mig = &snapshot.gpus[2];
    assert_eq!(mig.missing_reason(GpuField::Gpm), Some(&MissingReason::Mig));
    assert_eq!(mig.activity.tensor, None);

    // A driver older than GPM: its library has no GPM symbol.
    let old_driver = FakeNvml::variant(&gpus(&[hopper()]), Variant::NoGpm);
    let s = sampler(&old_driver, Duration::from_millis(300));
    let g = s.sample_now().gpus[0].clone();
    assert_eq!(
        g.missing_reason(GpuField::Gpm),
        Some(&MissingReason::DriverTooOld)
    );
    assert!(g.memory_used.is_some(), "the other figures stay");
}

/// This process's share from samples the fake makes now (newer than the first read's mark).
fn share_after(samples: &str) -> GpuSample {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(20));
    let mut g = hopper();
    g.extra
        .push_str(&format!("gpu.0.process_utilization={samples}\n"));
    fake.set(&gpus(&[g]));
    wait_for(&s, 0, "a process-utilization read", |g| {
        g.activity.process_sm.is_some()
            || g.missing_reason(GpuField::ProcessUtilization) != Some(&MissingReason::NoSamples)
    })
}

#[test]
fn a_process_utilization_sample_above_100_percent_is_dropped() {
    let g = share_after("self:250:90:1,self:60:20:0");
    assert_eq!(g.activity.process_sm, Some(0.6), "{:?}", g.missing);
    assert_eq!(g.activity.process_memory_busy, Some(0.2));
}

#[test]
fn another_process_share_never_counts_as_ours() {
    let g = share_after("4242:90:40:0");
    assert_eq!(g.activity.process_sm, Some(0.0), "{:?}", g.missing);
    assert_eq!(g.activity.process_memory_busy, Some(0.0));
}

/// A driver that claims a million per-process samples: nothing is allocated from that
/// count; the share is absent with a reason, never read from a buffer sized by the driver.
#[test]
fn a_driver_claiming_too_many_samples_allocates_nothing() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(20));
    let mut g = hopper();
    g.extra.push_str(
        "gpu.0.process_utilization=self:60:20:0\n\
         gpu.0.process_utilization.live=1\n\
         gpu.0.claim.nvmlDeviceGetProcessUtilization=1000000\n",
    );
    fake.set(&gpus(&[g]));
    let g = wait_for(&s, 0, "a process-utilization read", |g| {
        g.activity.process_sm.is_some()
            || g.missing_reason(GpuField::ProcessUtilization) != Some(&MissingReason::NoSamples)
    });
    assert_eq!(g.activity.process_sm, None, "{:?}", g.missing);
    assert_eq!(
        g.missing_reason(GpuField::ProcessUtilization)
            .map(|r| r.as_str()),
        Some("implausible")
    );
}

/// Waits until an activity read that began after `t` gives a sample for which `done` holds,
/// and returns how many reads after `t` it took (1: the first).
fn reads_until(s: &Sampler, t: Instant, what: &str, done: impl Fn(&GpuSample) -> bool) -> usize {
    let until = Instant::now() + Duration::from_secs(10);
    let mut seen: Vec<Instant> = Vec::new();
    loop {
        let g = s.sample_now().gpus[0].clone();
        if let Some(at) = g.read_at(GpuTier::Activity).filter(|at| *at > t) {
            if !seen.contains(&at) {
                seen.push(at);
            }
            if done(&g) {
                return seen.len();
            }
        }
        assert!(
            Instant::now() < until,
            "waited 10 s ({} activity reads) for {what}",
            seen.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One sample stamped an hour ahead (a driver's bad timestamp) neither counts nor hides the
/// samples after it: this process's share is back by the second activity read.
#[test]
fn a_future_stamped_sample_does_not_hide_the_share() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(20));
    let mut g = hopper();
    g.extra
        .push_str("gpu.0.process_utilization=self:70:20:-3600000\n");
    fake.set(&gpus(&[g]));
    reads_until(
        &s,
        Instant::now(),
        "a read of the future-stamped sample",
        |_| true,
    );
    reads_until(&s, Instant::now(), "a second read", |_| true);
    let mut g = hopper();
    g.extra
        .push_str("gpu.0.process_utilization=self:40:10:0\ngpu.0.process_utilization.live=1\n");
    fake.set(&gpus(&[g]));
    let t = Instant::now();
    let n = reads_until(&s, t, "this process's share", |g| {
        assert_ne!(
            g.activity.process_sm,
            Some(0.7),
            "the future sample counted"
        );
        g.activity.process_sm.is_some()
    });
    assert!(n <= 2, "the share came back after {n} activity reads");
    assert_eq!(s.sample_now().gpus[0].activity.process_sm, Some(0.4));
}

/// The driver's clock an hour ahead, then stepped back (NTP, a VM resume): the samples
/// stamped after the step show this process's share by the second activity read.
#[test]
fn a_wall_clock_step_back_hides_the_share_for_at_most_two_reads() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(20));
    let with = |offset_ms: i64| {
        let mut g = hopper();
        g.extra.push_str(&format!(
            "gpu.0.process_utilization=self:40:10:0\ngpu.0.process_utilization.live=1\n\
             gpu.0.process_utilization.offset_ms={offset_ms}\n"
        ));
        gpus(&[g])
    };
    fake.set(&with(3_600_000));
    reads_until(&s, Instant::now(), "a read before the step", |_| true);
    reads_until(&s, Instant::now(), "a second read", |_| true);
    fake.set(&with(0));
    let t = Instant::now();
    let n = reads_until(&s, t, "this process's share", |g| {
        g.activity.process_sm.is_some()
    });
    assert!(n <= 2, "the share came back after {n} activity reads");
    assert_eq!(s.sample_now().gpus[0].activity.process_sm, Some(0.4));
}

#[test]
fn no_process_samples_is_no_samples_never_0() {
    let fake = FakeNvml::new(&gpus(&[hopper()]));
    let s = sampler(&fake, Duration::from_millis(300));
    // Past the first read (which only marks where the next starts) and a second one.
    std::thread::sleep(Duration::from_millis(800));
    let g = s.sample_now().gpus[0].clone();
    assert_eq!(g.activity.process_sm, None);
    assert_eq!(
        g.missing_reason(GpuField::ProcessUtilization),
        Some(&MissingReason::NoSamples)
    );
}

#[test]
fn the_doctor_prints_whether_gpm_is_supported_and_what_it_read() {
    let fake = FakeNvml::new(&gpus(&[hopper(), Gpu::new(1, OLDER, "0000:2a:00.0")]));
    let out = std::process::Command::new(common::example("doctor"))
        .env("RESMON_NVML_LIB", fake.library())
        .env_remove("CUDA_VISIBLE_DEVICES")
        .env_remove("RESMON_GPU_ACTIVITY_INTERVAL_MS")
        .output()
        .expect("run the doctor");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| l.trim_start().starts_with("activity:"))
        .collect();
    assert_eq!(lines.len(), 2, "{report}");
    assert!(
        lines[0].contains("GPM supported: over 0.")
            && lines[0].contains("tensor 93.0 % (HMMA 93.0 %)")
            && lines[0].contains("DRAM 17.9 %")
            && lines[0].contains("FP64 n/a"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("GPM not available (not_supported)"),
        "{}",
        lines[1]
    );
}
