//! What the sampler costs where a GPU user feels it, with the fake NVML driver at a real
//! H200's call costs (`tests/fake_nvml/h200-costs.conf`), each beside a baseline measured in
//! the same run:
//! - `pass/*`: one `sample_now()` (what a caller waits for): host only (GPU off, the
//!   baseline), then 1 and 8 fake H200s (targets: ≤ 150 µs and ≤ 500 µs on 2 cores);
//! - `span/sample_now_8_gpus`: a `resmon.sample_now = true` span with 8 GPUs, start to end,
//!   beside the same span without `sample_now` (target ≤ 1 ms for its caller);
//! - `read/*`: `latest()` against cloning an `Arc` the caller already holds;
//! - after criterion's report: the sampler thread's own CPU at the default interval (1 and 8
//!   GPUs, against host only; targets ≤ 0.3 % and ≤ 1 % of a core), and the p50 / p99 of
//!   `sample_now()` while the sampler thread makes a slow read after every pass.
//!
//! Run: `cargo bench --bench sampler` (about 3 minutes; `-- --test` runs each once, shortly).

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
        .on_warning(|_| {})
        .build()
        .expect("sampler")
}

/// `cargo bench -- --test`: every measurement once, shortly.
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pass");
    let host_only = quiet(Sampler::builder().gpu(false));
    host_only.sample_now();
    std::thread::sleep(Duration::from_millis(250));
    group.bench_function("host_only", |b| {
        b.iter(|| black_box(host_only.sample_now()))
    });

    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let fakes = [1usize, 8].map(|n| (n, fake_nvml::FakeNvml::new(&fake_nvml::h200s(n))));
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    for (n, fake) in &fakes {
        let sampler = quiet(Sampler::builder().nvml_library(fake.library()));
        assert_eq!(
            sampler.latest().gpus.len(),
            *n,
            "the fake's GPUs are visible"
        );
        group.bench_function(format!("h200_x{n}"), |b| {
            b.iter(|| black_box(sampler.sample_now()))
        });
    }
    group.finish();

    #[cfg(all(feature = "nvml", target_os = "linux"))]
    spans(c, &fakes[1].1);

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

    #[cfg(all(feature = "nvml", target_os = "linux"))]
    {
        thread_cpu(&fakes);
        for (n, fake) in &fakes {
            sample_now_beside_slow_reads(*n, fake);
        }
    }
}

/// A `resmon.sample_now = true` span with 8 GPUs against the same span without it, through
/// the whole stack (registry, `ResourceLayer`, tracing-opentelemetry, an SDK tracer).
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn spans(c: &mut Criterion, fake: &fake_nvml::FakeNvml) {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .on_warning(|_| {})
        .build()
        .expect("sampler");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(otel_resmon::ResourceLayer::new(&sampler))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let dispatch = tracing::Dispatch::new(subscriber);
    let mut group = c.benchmark_group("span");
    tracing::dispatcher::with_default(&dispatch, || {
        group.bench_function("plain_8_gpus", |b| {
            b.iter(|| drop(tracing::info_span!("generate").entered()))
        });
        group.bench_function("sample_now_8_gpus", |b| {
            b.iter(|| drop(tracing::info_span!("generate", resmon.sample_now = true).entered()))
        });
    });
    group.finish();
}

/// CPU time of this process's threads whose name starts with `prefix`, from the scheduler's
/// own count (ns); `None` when there is none. (The kernel keeps 15 bytes of a name.)
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn thread_cpu_ns(prefix: &str) -> Option<u64> {
    let mut found = None;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end().starts_with(prefix) {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
            found = Some(found.unwrap_or(0) + ns);
        }
    }
    found
}

/// CPU time of the sampler's pass threads and GPU threads (the XID watchers left out, as
/// before the GPU thread existed), ns.
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn sampler_cpu_ns() -> Option<u64> {
    let pass = thread_cpu_ns("otel-resmon-sam");
    let gpu = thread_cpu_ns("otel-resmon-gpu");
    pass.map(|p| p + gpu.unwrap_or(0))
}

/// The sampler threads' share of a core at the default settings (200 ms interval, counters
/// every 10 s, health every 30 s, activity every 10 s with one GPU and 20 s with eight) over
/// two activity periods of eight GPUs, with host only, 1 and 8 GPUs.
/// The threads are found by name: the other samplers alive meanwhile sleep (1 h interval).
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn thread_cpu(fakes: &[(usize, fake_nvml::FakeNvml)]) {
    let run = if test_mode() {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(40)
    };
    let measure = |builder: otel_resmon::SamplerBuilder| {
        let sampler = builder
            .ignore_env(true)
            .on_warning(|_| {})
            .build()
            .expect("sampler");
        // Past the start-up, whose first reads run on the builder's thread.
        std::thread::sleep(Duration::from_millis(300));
        let (t0, c0) = (Instant::now(), sampler_cpu_ns());
        std::thread::sleep(run);
        let c1 = sampler_cpu_ns();
        let share = c0
            .zip(c1)
            .map(|(a, b)| (b - a) as f64 / t0.elapsed().as_nanos() as f64);
        let health = sampler.health();
        drop(sampler);
        (share.expect("the sampler thread's schedstat"), health)
    };
    let (host, _) = measure(Sampler::builder().gpu(false));
    println!("sampler.cpu_share_host_only {:.5}", host);
    for (n, fake) in fakes {
        let (share, health) = measure(Sampler::builder().nvml_library(fake.library()));
        println!("sampler.cpu_share_h200_x{n} {share:.5}");
        for t in &health.tiers {
            println!(
                "sampler.tier_{}_h200_x{n}_per_pass_us {:.1}",
                t.tier.as_str(),
                t.per_pass.as_secs_f64() * 1e6
            );
            println!(
                "sampler.tier_{}_h200_x{n}_per_read_us {:.1}",
                t.tier.as_str(),
                t.per_read.as_secs_f64() * 1e6
            );
        }
    }
}

/// `sample_now()` on a caller's thread while the sampler thread makes a slow read (energy,
/// counters, health in turn) after every 20 ms pass: its median and p99, which a caller
/// queued behind a 3.1 ms energy read would show.
#[cfg(all(feature = "nvml", target_os = "linux"))]
fn sample_now_beside_slow_reads(gpus: usize, fake: &fake_nvml::FakeNvml) {
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .gpu_counters_interval(Duration::from_millis(1))
        .gpu_health_interval(Duration::from_millis(1))
        .on_warning(|_| {})
        .build()
        .expect("sampler");
    let n = if test_mode() { 50 } else { 2000 };
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        // Land at every phase of the sampler's cycle.
        std::thread::sleep(Duration::from_micros(500 + (i as u64 * 7919) % 3000));
        let t = Instant::now();
        black_box(sampler.sample_now());
        took.push(t.elapsed().as_nanos() as f64 / 1e3);
    }
    let slow_reads: u64 = sampler
        .health()
        .tiers
        .iter()
        .filter(|t| t.tier != otel_resmon::GpuTier::Fast)
        .map(|t| t.reads)
        .sum();
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    let name = format!("sampler.sample_now_beside_slow_reads_h200_x{gpus}");
    println!("{name}_slow_reads {slow_reads}");
    println!("{name}_p50_us {:.1}", at(0.5));
    println!("{name}_p99_us {:.1}", at(0.99));
    println!("{name}_max_us {:.1}", at(1.0));
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
