//! Spans and windows longer than the raw history (issue 17), through the real sampler and
//! the real nvml-wrapper path against the fake driver: the levels answer beyond the raw
//! passes, a burst of `sample_now` passes does not shrink the time covered, a span's figures
//! come from its own passes, and a span that outlives every level says what it covers.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, FakeNvml, Gpu, GIB};
use common::otel::{attr, float, int, traced};
use common::passes;
use otel_resmon::{FigureSet, HistoryLevel, ResourceLayer, Sampler, SamplerBuilder};

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";
const GB: u64 = 1_000_000_000;

fn one_gpu(used: u64) -> String {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.memory_used = used;
    gpus(&[g])
}

fn builder(fake: &FakeNvml, interval: Duration) -> SamplerBuilder {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(interval)
        .on_warning(|_| {})
}

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

/// The measured case: 50 ms passes, 5 kept raw, a 1.5 s window during which GPU
/// memory rose to 9 GB between 0.2 s and 0.5 s. The raw passes alone answered 1 GB.
#[test]
fn the_measured_case_answers_9_gb() {
    let fake = FakeNvml::new(&one_gpu(GB));
    let s = builder(&fake, Duration::from_millis(50))
        .history(5)
        .build()
        .unwrap();
    let t = traced(ResourceLayer::builder(&s));
    let start = Instant::now();
    t.run(|| {
        let _span = tracing::info_span!("long").entered();
        sleep_until(start + Duration::from_millis(200));
        fake.set(&one_gpu(9 * GB));
        sleep_until(start + Duration::from_millis(500));
        fake.set(&one_gpu(GB));
        sleep_until(start + Duration::from_millis(1500));
    });
    let end = Instant::now();
    let w = s.window(start, end);
    let peak = w.gpus[0].memory_used.unwrap().max;
    eprintln!(
        "window over 1.5 s: peak {:.1} GB over {} samples, coverage {:.3}",
        peak / 1e9,
        w.samples,
        w.coverage
    );
    assert_eq!(peak, 9e9);
    assert!(w.samples > 20, "{} samples", w.samples);
    let span = t.span("long");
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.peak"),
        (9 * GB) as i64
    );
}

/// Item 4: a 1 s span sees a 60 GiB spike, then 300 short `sample_now` spans make 600 passes
/// in a burst. Those went into the same ring and pushed the spike out: the long span reported
/// 10 GiB. Extra passes now have their own ring; the interval passes keep their 2 minutes.
#[test]
fn a_burst_of_sample_now_passes_keeps_the_spike_of_a_long_span() {
    let fake = FakeNvml::new(&one_gpu(10 * GIB));
    let s = builder(&fake, Duration::from_millis(200)).build().unwrap();
    let t = traced(ResourceLayer::builder(&s));
    let burst = t.run(|| {
        let _long = tracing::info_span!("long").entered();
        fake.set(&one_gpu(60 * GIB));
        passes(&s, 2);
        fake.set(&one_gpu(10 * GIB));
        passes(&s, 1);
        let burst = Instant::now();
        for _ in 0..300 {
            drop(tracing::info_span!("short", resmon.sample_now = true).entered());
        }
        burst.elapsed()
    });
    let long = t.span("long");
    let health = s.health();
    eprintln!(
        "600 extra passes in {burst:?}; long span peak {} GiB, {} passes so far",
        int(&long, "resmon.gpu.0.memory.usage.peak") / GIB as i64,
        health.passes
    );
    assert!(health.passes >= 600);
    assert_eq!(
        int(&long, "resmon.gpu.0.memory.usage.peak"),
        (60 * GIB) as i64
    );
    assert!(
        attr(&long, "resmon.sample.coverage").is_none(),
        "all covered"
    );
}

/// Item 5: GPU memory fell from 79.6 to 10 GiB just before a span began. The start
/// snapshot (the latest pass, older than the span) still read 79.6 GiB; the span reported
/// that as its peak and a pressure event stamped before its own start. Now the peak and the
/// events come from the passes taken during the span; the start is the state at entry.
#[test]
fn a_spike_that_ended_before_the_span_began_is_not_the_span_s() {
    let high = 80 * GIB - 512 * 1024 * 1024 - 400 * 1024 * 1024; // 400 MiB free
    let fake = FakeNvml::new(&one_gpu(high));
    let s = builder(&fake, Duration::from_millis(100)).build().unwrap();
    let t = traced(ResourceLayer::builder(&s).figures(FigureSet::Full));
    // A pass reads the high value; then it falls, and the span starts before the next pass.
    let at_high = passes(&s, 1);
    assert_eq!(at_high.gpus[0].memory_used, Some(high));
    fake.set(&one_gpu(10 * GIB));
    t.run(|| {
        let _span = tracing::info_span!("after").entered();
        passes(&s, 3);
    });
    let span = t.span("after");
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.start"),
        high as i64,
        "the state at entry"
    );
    assert_eq!(
        int(&span, "resmon.gpu.0.memory.usage.peak"),
        (10 * GIB) as i64,
        "no peak from before the span"
    );
    assert!(int(&span, "resmon.gpu.0.memory.free.min") > (60 * GIB) as i64);
    for event in span.events.iter() {
        assert!(
            event.timestamp >= span.start_time,
            "an event stamped before the span: {event:?}"
        );
    }
    assert!(span.events.is_empty(), "{:?}", span.events);
}

/// A span longer than every level: its figures are those of the part still covered, and it
/// says how much that is. The 9 GB at its start is gone from every level.
#[test]
fn a_span_that_outlives_every_level_reports_its_coverage() {
    let fake = FakeNvml::new(&one_gpu(GB));
    let ms = Duration::from_millis(1);
    let s = builder(&fake, 10 * ms)
        .history(5)
        .levels([
            HistoryLevel::new(20 * ms, 100 * ms),
            HistoryLevel::new(40 * ms, 200 * ms),
        ])
        .build()
        .unwrap();
    let t = traced(ResourceLayer::builder(&s));
    let start = Instant::now();
    t.run(|| {
        let _span = tracing::info_span!("outlives").entered();
        fake.set(&one_gpu(9 * GB));
        sleep_until(start + 100 * ms);
        fake.set(&one_gpu(GB));
        sleep_until(start + 800 * ms);
    });
    let w = s.window(start, Instant::now());
    let span = t.span("outlives");
    let coverage = float(&span, "resmon.sample.coverage");
    eprintln!(
        "800 ms span, levels reaching back 200 ms: coverage {coverage:.3} (window {:.3}), \
         peak {} GB",
        w.coverage,
        int(&span, "resmon.gpu.0.memory.usage.peak") as f64 / 1e9
    );
    assert!(coverage > 0.1 && coverage < 0.5, "{coverage}");
    assert!(w.coverage < 0.5, "{}", w.coverage);
    assert!(w.covered.unwrap().0 > start + 300 * ms);
    // The peak of what is covered, not of the span: the 9 GB fell out of every level.
    assert_eq!(int(&span, "resmon.gpu.0.memory.usage.peak"), GB as i64);
    assert_eq!(w.gpus[0].memory_used.unwrap().max, 1e9);
}

/// Levels are settings like the others: code over environment over default, and a bad value
/// names its setting.
#[test]
fn levels_from_code_and_their_errors() {
    let fake = FakeNvml::new(&one_gpu(GB));
    let err = builder(&fake, Duration::from_millis(200))
        .levels([HistoryLevel::new(
            Duration::from_secs(100),
            Duration::from_secs(3600),
        )])
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("SamplerBuilder::levels"), "{err}");
    let s = builder(&fake, Duration::from_millis(200))
        .levels([])
        .build()
        .unwrap();
    assert!(
        s.health().history_level_bytes < 1024,
        "no level: nothing kept"
    );
}
