//! The sampler at a real GPU's cost (issue 23): the fake driver at an H200's measured call
//! costs, read through the real nvml-wrapper path. Each figure is read at its tier's rate; a
//! figure carried forward from an earlier read is never counted as a new reading; no caller
//! waits behind a slow read; energy per span is the counter's or an estimate that says so.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, h200_costs, h200s, FakeNvml, Gpu};
use common::otel::{attr, float, traced};
use otel_resmon::{Error, FigureSet, GpuField, GpuTier, ResourceLayer, Sampler};

/// A sampler the tests drive themselves, warnings kept quiet.
fn sampler(fake: &FakeNvml) -> otel_resmon::SamplerBuilder {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .on_warning(|_| {})
}

/// Fails on the code before issue 23: a pass sooner than 200 ms after the last CPU reading
/// carried that reading, and every such pass counted it again in windows and span means
/// (the window below counted 21 readings where one was made).
#[test]
fn a_carried_cpu_reading_is_counted_once() {
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    // The first pass primed the CPU counters; one 250 ms later measures, the next 20 (well
    // within 200 ms) carry that measurement.
    std::thread::sleep(Duration::from_millis(250));
    let from = Instant::now();
    let measured = sampler.sample_now();
    let reading = measured.host.cpu_utilization;
    assert!(reading.is_some(), "250 ms after priming");
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(sampler.sample_now().host.cpu_utilization, reading);
    }
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "too slow to test"
    );
    let w = sampler.window(from, Instant::now());
    assert_eq!(w.samples, 21);
    let cpu = w.cpu_utilization.expect("one CPU reading");
    assert_eq!(
        cpu.count, 1,
        "the one reading counted once, not once per pass"
    );
    // Each pass says whether it measured.
    assert!(measured.host.cpu_is_fresh());
    assert!(!sampler.sample_now().host.cpu_is_fresh());
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
        // The H200 has no fan: its speed is missing; and the activity figures, whose first
        // read only starts their window.
        assert_eq!(g.missing.len(), 3, "{:?}", g.missing);
        for field in [GpuField::Gpm, GpuField::ProcessUtilization] {
            assert_eq!(
                g.missing_reason(field),
                Some(&otel_resmon::MissingReason::NoSamples)
            );
        }
        assert!(g.energy.is_some() && g.condition.power_limit.is_some());
        assert!(g.condition.throttled_time.total().is_some());
        assert!(g.condition.temperature_slowdown.is_some());
        assert_eq!(g.mig_enabled, Some(false));
        for tier in GpuTier::ALL {
            assert!(g.read_at(tier).is_some(), "{tier:?}");
        }
        for tier in [
            GpuTier::Fast,
            GpuTier::Energy,
            GpuTier::Counters,
            GpuTier::Health,
        ] {
            assert!(g.is_fresh(tier), "{tier:?} is new in the first pass");
        }
    }
    // A later pass reads the fast tier again and carries the slow ones, as old as they are.
    let next = s.sample_now();
    let (g0, g1) = (&first.gpus[0], &next.gpus[0]);
    assert!(g1.is_fresh(GpuTier::Fast) && g1.read_at(GpuTier::Fast) > g0.read_at(GpuTier::Fast));
    for tier in [GpuTier::Energy, GpuTier::Counters, GpuTier::Health] {
        assert!(!g1.is_fresh(tier), "{tier:?} is carried");
        assert_eq!(
            g1.read_at(tier),
            g0.read_at(tier),
            "{tier:?} keeps its read time"
        );
    }
    assert_eq!(g1.energy, g0.energy);
    let w = s.window(first.taken_at, next.taken_at);
    let e = w.gpus[0].energy.expect("energy");
    assert_eq!(e.count, 1, "the carried energy reading counts once");
    assert_eq!(w.gpus[0].memory_used.unwrap().count, 2);
}

/// The slow reads run on the sampler thread at their rates, each tier at most once after a
/// pass, and a caller's pass never queues behind one: while one runs, the GPUs' fast figures are
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
        // A caller now and then, not a loop that would keep the sampler thread off the lock.
        std::thread::sleep(Duration::from_micros(300));
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
        h.tiers
            .iter()
            .find(|t| t.tier == tier)
            .map_or(0, |t| t.reads)
    };
    let slow: u64 = [GpuTier::Energy, GpuTier::Counters, GpuTier::Health]
        .into_iter()
        .map(|t| reads(&after, t) - reads(&before, t))
        .sum();
    // Interval passes come once an interval at most (a caller's pass that comes due is the
    // interval's pass too: they are not told apart by the pass count).
    let interval_passes = u64::try_from((to - from).as_millis() / 20).unwrap_or(u64::MAX) + 1;
    assert!(slow > 10, "slow reads ran: {slow}");
    // The tiers' read counts are copied out after each interval pass's slow reads, while the
    // pass count is live: `before` may already count a pass whose reads it does not (or miss
    // the first delivery, with the start reads), and `after` may count a pass whose reads it
    // does not yet see. So one pass's reads at each end fall outside the count of passes.
    assert!(
        slow <= 3 * (interval_passes + 2),
        "at most each tier once after each interval pass: {slow} reads, {interval_passes} passes"
    );
    let energy = after
        .slow_calls
        .iter()
        .find(|c| c.function == "nvmlDeviceGetTotalEnergyConsumption")
        .expect("the energy read is named as a slow call");
    assert_eq!(energy.tier, GpuTier::Energy);
    assert!(energy.longest >= Duration::from_micros(3000));
    let mig = after
        .slow_calls
        .iter()
        .find(|c| c.function == "nvmlDeviceGetMigMode")
        .expect("the MIG mode read is named");
    assert_eq!(
        (mig.tier, mig.calls),
        (GpuTier::Static, 1),
        "read once, at start"
    );
}

/// A GPU drawing a steady 450 W, its energy counter advancing with it.
fn steady_gpu() -> FakeNvml {
    let mut gpu = Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    );
    gpu.power_mw = 450_000;
    gpu.extra = "gpu.0.energy_from_power=1\n".into();
    FakeNvml::new(&format!("{}{}", gpus(&[gpu]), h200_costs()))
}

/// The fake's energy counter, J, through a handle of the test's own on the same driver.
fn counter(fake: &FakeNvml) -> f64 {
    let nvml = nvml_wrapper::Nvml::builder()
        .lib_path(fake.library().as_os_str())
        .init()
        .unwrap();
    let e = nvml
        .device_by_index(0)
        .unwrap()
        .total_energy_consumption()
        .unwrap();
    e as f64 / 1e3
}

/// A `resmon.sample_now` span of `length` (exact ends), and a 50 ms plain span after it; the
/// long span's energy figure and key, and what the counter gained over it.
fn energy_of_spans(s: &Sampler, fake: &FakeNvml, length: Duration) -> (String, f64, f64) {
    let t = traced(ResourceLayer::builder(s).figures(FigureSet::Full));
    let gained = t.run(|| {
        let span = tracing::info_span!("long", resmon.sample_now = true);
        let before = counter(fake);
        let entered = span.enter();
        std::thread::sleep(length);
        drop(entered);
        let after = counter(fake);
        drop(span);
        let short = tracing::info_span!("short");
        std::thread::sleep(Duration::from_millis(50));
        drop(short);
        after - before
    });
    let short = t.span("short");
    for key in ["resmon.gpu.0.energy.estimate", "resmon.gpu.0.energy.delta"] {
        assert!(attr(&short, key).is_none(), "a 50 ms span has no {key}");
    }
    let long = t.span("long");
    let found: Vec<_> = ["resmon.gpu.0.energy.delta", "resmon.gpu.0.energy.estimate"]
        .into_iter()
        .filter(|k| attr(&long, k).is_some())
        .collect();
    assert_eq!(found.len(), 1, "one energy figure: {found:?}");
    (found[0].to_owned(), float(&long, found[0]), gained)
}

fn within_5_percent(key: &str, figure: f64, gained: f64) {
    println!("{key}: {figure:.1} J, the counter gained {gained:.1} J");
    assert!(
        (figure - gained).abs() <= 0.05 * gained,
        "{key} {figure:.1} J, the counter gained {gained:.1} J"
    );
}

/// At the default rates (the counter read every 10 s), a 5 s span's energy figure, whichever
/// it gets, is within 5 % of what the fake's counter gained over it at steady power; a 50 ms
/// span gets none.
#[test]
fn a_5_s_span_gets_its_energy_within_5_percent_at_the_default_rates() {
    let fake = steady_gpu();
    let s = sampler(&fake).build().unwrap();
    let (key, figure, gained) = energy_of_spans(&s, &fake, Duration::from_secs(5));
    within_5_percent(&key, figure, gained);
}

/// The counter never read during the span: the estimate from the span's power readings.
#[test]
fn without_counter_reads_the_span_gets_a_named_estimate_within_5_percent() {
    let fake = steady_gpu();
    let s = sampler(&fake)
        .gpu_counters_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let (key, figure, gained) = energy_of_spans(&s, &fake, Duration::from_secs(5));
    assert_eq!(key, "resmon.gpu.0.energy.estimate");
    within_5_percent(&key, figure, gained);
}

/// The counter read after every pass: each end holds a read of its own, and the span gets
/// the counter's difference.
#[test]
fn with_counter_reads_at_both_ends_the_span_gets_the_counter_difference() {
    let fake = steady_gpu();
    let s = sampler(&fake)
        .interval(Duration::from_millis(50))
        .gpu_counters_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    // Past the first reads, made at start.
    std::thread::sleep(Duration::from_millis(200));
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    let gained = t.run(|| {
        let span = tracing::info_span!("counted");
        let before = counter(&fake);
        std::thread::sleep(Duration::from_secs(2));
        let after = counter(&fake);
        drop(span);
        after - before
    });
    let span = t.span("counted");
    assert!(attr(&span, "resmon.gpu.0.energy.estimate").is_none());
    // A plain span's ends are the passes before it began and ended: up to one interval
    // (50 ms of 2 s) off at each end.
    let delta = float(&span, "resmon.gpu.0.energy.delta");
    assert!(
        (delta - gained).abs() <= 0.06 * gained,
        "counter difference {delta:.1} J, the counter gained {gained:.1} J"
    );
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
