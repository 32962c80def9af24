//! What `ResourceLayer` adds to a span, against the usual stack in the same run:
//! - `baseline`: registry + tracing-opentelemetry + SDK tracer (simple processor, an exporter
//!   that discards);
//! - `with_resource_layer`: the same plus `ResourceLayer` (default figure set, one fake H200
//!   at a real H200's call costs through the real NVML path, cached snapshots at the default
//!   200 ms interval).
//!
//! After criterion's own report it runs both alternately (a b a b ...) and prints the median
//! per-span cost of each, the added cost in ns and the median over the pairs of the ratio
//! added / baseline (target ≤ 0.5). Then it times the end of spans 20 s old that cover every
//! level of the history against the end of short spans (`span_end.*`).
//! Run: `cargo bench --bench span_overhead`.

#[cfg(all(feature = "nvml", target_os = "linux"))]
#[path = "../tests/common/fake_nvml.rs"]
mod fake_nvml;

#[path = "common/stack.rs"]
mod stack;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use otel_resmon::Sampler;
use stack::{baseline, with_layer};
use tracing::Dispatch;

fn one_span() {
    let span = tracing::info_span!("request", route = "/api/chat");
    let _entered = span.enter();
}

/// Runs `rounds` pairs of `n` spans, one dispatcher then the other, and returns the medians of
/// the per-span costs and of the per-pair added/baseline ratios (a pair shares the machine's
/// momentary load, so its ratio is steadier than a ratio of medians).
fn alternate(a: &Dispatch, b: &Dispatch, rounds: usize, n: u32) -> (f64, f64, f64) {
    let time = |d: &Dispatch| {
        tracing::dispatcher::with_default(d, || {
            let start = Instant::now();
            for _ in 0..n {
                one_span();
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
    };
    let (mut ta, mut tb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (x, y) = (time(a), time(b));
        ta.push(x);
        tb.push(y);
        ratios.push((y - x) / x);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb), median(&mut ratios))
}

fn bench(c: &mut Criterion) {
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let fake = fake_nvml::FakeNvml::new(&fake_nvml::h200s(1));
    let builder = Sampler::builder().ignore_env(true);
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let builder = builder.nvml_library(fake.library());
    let sampler = builder.build().expect("sampler");
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    assert_eq!(sampler.latest().gpus.len(), 1, "one fake GPU");

    let (base, _p1) = baseline();
    let (layered, _p2) = with_layer(&sampler);

    let mut group = c.benchmark_group("span");
    group.bench_function("baseline", |b| {
        tracing::dispatcher::with_default(&base, || b.iter(one_span))
    });
    group.bench_function("with_resource_layer", |b| {
        tracing::dispatcher::with_default(&layered, || b.iter(one_span))
    });
    group.finish();

    let (b_ns, l_ns, ratio) = alternate(&base, &layered, 401, 2_000);
    println!("span_overhead.baseline_ns {b_ns:.0}");
    println!("span_overhead.with_resource_layer_ns {l_ns:.0}");
    println!("span_overhead.added_ns {:.0}", l_ns - b_ns);
    println!("span_overhead.ratio {ratio:.3}");

    // `RESMON_BENCH_SHORT=1` leaves the 25 s case out (for A/B runs of the ratio).
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    if std::env::var_os("RESMON_BENCH_SHORT").is_none() {
        long_span_end(&fake);
    }
}

/// The end of a span that covers every level of the history, against the end of a short span
/// in the same run, alternated. Levels scaled down 200 times from the defaults, with the same
/// ratios between them (5 passes, 10, 60), so a 20 s span folds what a day-long span folds at
/// the defaults, but for the coarsest level's buckets (5 here, at most 144 there).
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn long_span_end(fake: &fake_nvml::FakeNvml) {
    use otel_resmon::HistoryLevel;
    let ms = Duration::from_millis(1);
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(ms)
        .history(100)
        .levels([
            HistoryLevel::new(5 * ms, 900 * ms),
            HistoryLevel::new(50 * ms, 18_000 * ms),
            HistoryLevel::new(3000 * ms, 432_000 * ms),
        ])
        .build()
        .expect("sampler");
    let (layered, _provider) = with_layer(&sampler);
    let n = 3000;
    let long: Vec<tracing::Span> = tracing::dispatcher::with_default(&layered, || {
        (0..n).map(|_| tracing::info_span!("long")).collect()
    });
    std::thread::sleep(Duration::from_secs(20));
    let (mut long_ns, mut short_ns) = (Vec::new(), Vec::new());
    tracing::dispatcher::with_default(&layered, || {
        for span in long {
            let short = tracing::info_span!("short");
            let t = Instant::now();
            drop(short);
            short_ns.push(t.elapsed().as_nanos() as f64);
            let t = Instant::now();
            drop(span);
            long_ns.push(t.elapsed().as_nanos() as f64);
        }
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (l, s) = (median(&mut long_ns), median(&mut short_ns));
    println!("span_end.short_ns {s:.0}");
    println!("span_end.covering_every_level_ns {l:.0}");
    println!("span_end.covering_every_level_ratio {:.2}", l / s);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
