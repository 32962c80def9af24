//! The sampler at a real GPU's cost (issue 23): the fake driver at an H200's measured call
//! costs, read through the real nvml-wrapper path. Each figure is read at its tier's rate; a
//! figure carried forward from an earlier read is never counted as a new reading; no caller
//! waits behind a slow read; energy per span is the counter's or an estimate that says so.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, h200_costs, h200s, FakeNvml, Gpu};
use common::otel::{attr, float, traced};
use otel_resmon::{Error, FigureSet, GpuTier, ResourceLayer, Sampler};

/// A sampler the tests drive themselves, warnings kept quiet.
fn sampler(fake: &FakeNvml) -> otel_resmon::SamplerBuilder {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .on_warning(|_| {})
}

/// Fails on the code before issue 23: a pass sooner than 200 ms after the last CPU reading
/// carried that reading, and every such pass counted it again in windows and span means.
#[test]
fn a_carried_cpu_reading_is_counted_once() {
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let from = Instant::now();
    std::thread::sleep(Duration::from_millis(250));
    let measured = sampler.sample_now();
    assert!(measured.host.cpu_is_fresh(), "250 ms after priming");
    let mut carried = 0;
    for _ in 0..20 {
        let s = sampler.sample_now();
        assert_eq!(s.host.cpu_utilization, measured.host.cpu_utilization);
        carried += u32::from(!s.host.cpu_is_fresh());
    }
    assert!(carried >= 19, "passes within 200 ms carry the reading");
    let w = sampler.window(from, Instant::now());
    assert_eq!(w.samples, 21);
    let cpu = w.cpu_utilization.expect("one CPU reading");
    assert_eq!(cpu.count, 21 - carried, "each reading counted once");
}

/// Every figure is there from the first snapshot: the statics and a first read of each slow
/// tier are made at start, each tier with its time.
#[test]
fn every_tier_is_read_at_start_and_knows_when() {
    let fake = FakeNvml::new(&h200s(2));
    let s = sampler(&fake)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let first = s.latest();
    for g in &first.gpus {
        assert!(g.missing.is_empty(), "{:?}", g.missing);
        assert!(g.energy.is_some() && g.condition.power_limit.is_some());
        assert!(g.condition.throttled_time.total().is_some());
        assert!(g.condition.temperature_slowdown.is_some());
        assert_eq!(g.mig_enabled, Some(false));
        for tier in GpuTier::ALL {
            assert!(g.read_at(tier).is_some(), "{tier:?}");
            assert!(g.is_fresh(tier), "{tier:?} is new in the first pass");
        }
    }
    // A later pass reads the fast tier again and carries the slow ones, as old as they are.
    let next = s.sample_now();
    let (g0, g1) = (&first.gpus[0], &next.gpus[0]);
    assert!(g1.is_fresh(GpuTier::Fast) && g1.read_at(GpuTier::Fast) > g0.read_at(GpuTier::Fast));
    for tier in [GpuTier::Energy, GpuTier::Counters, GpuTier::Health] {
        assert!(!g1.is_fresh(tier), "{tier:?} is carried");
        assert_eq!(g1.read_at(tier), g0.read_at(tier), "{tier:?} keeps its read time");
    }
    assert_eq!(g1.energy, g0.energy);
    let w = s.window(first.taken_at, next.taken_at);
    let e = w.gpus[0].energy.expect("energy");
    assert_eq!(e.count, 1, "the carried energy reading counts once");
    assert_eq!(w.gpus[0].memory_used.unwrap().count, 2);
}

/// The slow reads run on the sampler thread at their rates, at most one after a pass, and a
/// caller's pass never queues behind one: while one runs, the GPUs' fast figures are
/// carried from the latest pass (not read, not counted again).
#[test]
fn slow_reads_run_apart_and_callers_carry_instead_of_waiting() {
    let fake = FakeNvml::new(&h200s(1));
    let s = sampler(&fake)
        .interval(Duration::from_millis(20))
        .gpu_counters_interval(Duration::from_millis(1))
        .gpu_health_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let before = s.health();
    let from = Instant::now();
    let (mut carried, mut calls) = (0u32, 0u32);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline || carried == 0 {
        let snap = s.sample_now();
        calls += 1;
        let g = &snap.gpus[0];
        if !g.is_fresh(GpuTier::Fast) {
            carried += 1;
            assert!(g.read_at(GpuTier::Fast) < Some(snap.taken_at));
            assert_eq!(g.taken_at, g.read_at(GpuTier::Fast).unwrap());
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(20),
            "no pass of {calls} met a slow read"
        );
    }
    let to = Instant::now();
    let w = s.window(from, to);
    let gpu = &w.gpus[0];
    assert_eq!(
        gpu.memory_used.unwrap().count,
        w.samples - carried,
        "{carried} carried readings are not counted again"
    );
    let after = s.health();
    let reads = |h: &otel_resmon::SamplerHealth, tier| {
        h.tiers.iter().find(|t| t.tier == tier).map_or(0, |t| t.reads)
    };
    let slow: u64 = [GpuTier::Energy, GpuTier::Counters, GpuTier::Health]
        .into_iter()
        .map(|t| reads(&after, t) - reads(&before, t))
        .sum();
    let interval_passes = after.passes - before.passes - u64::from(calls);
    assert!(slow > 10, "slow reads ran: {slow}");
    assert!(
        slow <= interval_passes + 1,
        "at most one slow read after each interval pass: {slow} reads, {interval_passes} passes"
    );
    let energy = after
        .slow_calls
        .iter()
        .find(|c| c.function == "nvmlDeviceGetTotalEnergyConsumption")
        .expect("the energy read is named as a slow call");
    assert_eq!(energy.tier, GpuTier::Energy);
    assert!(energy.longest >= Duration::from_micros(3000));
    assert!(
        !after.slow_calls.iter().any(|c| c.tier == GpuTier::Fast),
        "no fast-tier call above 100 µs: {:?}",
        after.slow_calls
    );
}

/// A span's energy: an estimate from its own power readings, named so, within 5 % of what the
/// fake's counter gained over a 5 s span at steady power; a span too short for two power
/// readings of its own gets none.
#[test]
fn energy_per_span_is_the_counter_or_a_named_estimate() {
    let mut gpu = Gpu::new(0, "GPU-11111111-aaaa-4000-8000-000000000001", "0000:01:00.0");
    gpu.power_mw = 450_000;
    gpu.extra = "gpu.0.energy_from_power=1\n".into();
    let fake = FakeNvml::new(&format!("{}{}", gpus(&[gpu]), h200_costs()));
    let s = sampler(&fake).build().unwrap();
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    let key = "resmon.gpu.0.energy.estimate";
    let counter = || {
        // The counter itself, through a second handle on the same driver.
        let nvml = nvml_wrapper::Nvml::builder()
            .lib_path(fake.library().as_os_str())
            .init()
            .unwrap();
        let e = nvml.device_by_index(0).unwrap().total_energy_consumption().unwrap();
        e as f64 / 1e3
    };
    t.run(|| {
        let span = tracing::info_span!("long", resmon.sample_now = true);
        let before = counter();
        let entered = span.enter();
        std::thread::sleep(Duration::from_secs(5));
        drop(entered);
        let after = counter();
        drop(span);
        let gained = after - before;
        let short = tracing::info_span!("short");
        std::thread::sleep(Duration::from_millis(50));
        drop(short);
        let long = t.span("long");
        let estimate = float(&long, key);
        assert!(
            (estimate - gained).abs() <= 0.05 * gained,
            "estimate {estimate:.1} J, the counter gained {gained:.1} J"
        );
        assert!(attr(&long, "resmon.gpu.0.energy.delta").is_none());
        let short = t.span("short");
        assert!(attr(&short, key).is_none() && attr(&short, "resmon.gpu.0.energy.delta").is_none());
    });
}

/// With the counters read every pass, both ends of a span hold a read of their own: the span
/// gets the counter's difference.
#[test]
fn energy_per_span_is_the_counter_difference_when_both_ends_read_it() {
    let mut gpu = Gpu::new(0, "GPU-11111111-aaaa-4000-8000-000000000001", "0000:01:00.0");
    gpu.extra = "gpu.0.energy_from_power=1\n".into();
    let fake = FakeNvml::new(&gpus(&[gpu]));
    let s = sampler(&fake)
        .interval(Duration::from_millis(20))
        .gpu_counters_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    t.run(|| {
        let span = tracing::info_span!("counted");
        std::thread::sleep(Duration::from_millis(600));
        drop(span);
    });
    let span = t.span("counted");
    let delta = float(&span, "resmon.gpu.0.energy.delta");
    // 300 W over about 0.6 s, give or take the reads' distance from the ends.
    assert!((100.0..=300.0).contains(&delta), "{delta} J");
    assert!(attr(&span, "resmon.gpu.0.energy.estimate").is_none());
}

#[test]
fn tier_rates_are_settings_and_bad_values_name_them() {
    let err = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .gpu_counters_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { setting, .. } if *setting == "SamplerBuilder::gpu_counters_interval"),
        "{err}"
    );
    let err = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .gpu_health_interval(Duration::from_secs(7200))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("gpu_health_interval"), "{err}");
}
