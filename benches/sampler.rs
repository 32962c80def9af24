//! Cost of one sampler pass (host + 2 fake GPUs through the real nvml-wrapper path) and of
//! `latest()`, each beside a baseline measured in the same run:
//! - `pass/host_only` (GPU off) for the pass: the GPU share is the difference;
//! - `arc_clone` (cloning an `Arc<Snapshot>` the caller already holds) for `latest()`.
//!
//! Targets on the 2-core CI machine: a pass at most 250 µs, `latest()` at most 20 ns.
//! Run: `cargo bench --bench sampler`.

#[cfg(all(feature = "nvml", target_os = "linux"))]
#[path = "../tests/common/fake_nvml.rs"]
mod fake_nvml;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use otel_resmon::Sampler;

fn quiet(builder: otel_resmon::SamplerBuilder) -> Sampler {
    // The thread sleeps through the run: every pass measured here is an explicit one.
    builder
        .ignore_env(true)
        .interval(Duration::from_secs(3600))
        .build()
        .expect("sampler")
}

fn bench(c: &mut Criterion) {
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let fake = fake_nvml::FakeNvml::new(&fake_nvml::two_gpus());

    let mut group = c.benchmark_group("pass");
    let host_only = quiet(Sampler::builder().gpu(false));
    host_only.sample_now();
    std::thread::sleep(Duration::from_millis(250));
    group.bench_function("host_only", |b| {
        b.iter(|| black_box(host_only.sample_now()))
    });

    #[cfg(all(feature = "nvml", target_os = "linux"))]
    {
        let with_gpus = quiet(Sampler::builder().nvml_library(fake.library()));
        assert_eq!(
            with_gpus.latest().gpus.len(),
            2,
            "the fake's 2 GPUs are visible"
        );
        group.bench_function("host_and_2_fake_gpus", |b| {
            b.iter(|| black_box(with_gpus.sample_now()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("read");
    let sampler = quiet(Sampler::builder().gpu(false));
    let held = sampler.latest();
    group.bench_function("arc_clone_baseline", |b| {
        b.iter(|| black_box(Arc::clone(&held)))
    });
    group.bench_function("latest", |b| b.iter(|| black_box(sampler.latest())));
    for _ in 0..10 {
        sampler.sample_now();
    }
    let (from, to) = (held.taken_at, Instant::now());
    group.bench_function("window_over_11_samples", |b| {
        b.iter(|| black_box(sampler.window(from, to)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
