//! `Sampler::window`: min / max / mean over the snapshots in a time range, with the fake
//! driver's values changing between samples; and the history staying bounded.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{gpus, FakeNvml, Gpu, GIB};
use otel_resmon::Sampler;

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";
const UUID1: &str = "GPU-22222222-bbbb-4000-8000-000000000002";

fn config(used0: u64, util0: u32, power0_mw: u32, self1: u64) -> String {
    let mut g0 = Gpu::new(0, UUID0, "0000:01:00.0");
    g0.memory_used = used0;
    g0.utilization_gpu = util0;
    g0.power_mw = power0_mw;
    let mut g1 = Gpu::new(1, UUID1, "0000:41:00.0");
    g1.compute = format!("self:{self1}");
    gpus(&[g0, g1])
}

#[test]
fn window_gives_min_max_mean_over_the_samples_in_range() {
    let fake = FakeNvml::new(&config(GIB, 10, 100_000, GIB));
    // The thread stays out of the way: every sample here is an explicit pass.
    let s = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();

    let mut taken = Vec::new();
    for (used, util, power, own) in [
        (2 * GIB, 20, 200_000, 4 * GIB),
        (6 * GIB, 90, 300_000, 2 * GIB),
        (4 * GIB, 40, 250_000, 3 * GIB),
    ] {
        fake.set(&config(used, util, power, own));
        taken.push(s.sample_now().taken_at);
        std::thread::sleep(Duration::from_millis(2));
    }

    let w = s.window(taken[0], taken[2]);
    assert_eq!(w.samples, 3);
    assert_eq!(w.first, Some(taken[0]));
    assert_eq!(w.last, Some(taken[2]));
    assert_eq!(w.gpus.len(), 2);
    let g0 = &w.gpus[0];
    assert_eq!(&*g0.uuid, UUID0);
    let mem = g0.memory_used.unwrap();
    assert_eq!(
        (mem.min, mem.max, mem.mean, mem.count),
        ((2 * GIB) as f64, (6 * GIB) as f64, (4 * GIB) as f64, 3)
    );
    let util = g0.utilization_gpu.unwrap();
    assert_eq!((util.min, util.max), (0.2, 0.9));
    assert!((util.mean - 0.5).abs() < 1e-12, "{}", util.mean);
    let power = g0.power.unwrap();
    assert_eq!((power.min, power.max, power.mean), (200.0, 300.0, 250.0));
    let own = w.gpus[1].process_memory.unwrap();
    assert_eq!(
        (own.min, own.max, own.mean),
        ((2 * GIB) as f64, (4 * GIB) as f64, (3 * GIB) as f64)
    );
    // Unchanged figures: min = max = mean.
    let temp = w.gpus[1].temperature.unwrap();
    assert_eq!((temp.min, temp.max, temp.mean), (51.0, 51.0, 51.0));
    // Host and process figures are in the window too.
    assert_eq!(w.process_resident_memory.unwrap().count, 3);
    assert!(w.process_cpu_time.unwrap().max >= w.process_cpu_time.unwrap().min);
    assert_eq!(w.memory_used.unwrap().count, 3);

    // A narrower range leaves the first sample out.
    let w = s.window(taken[1], taken[2]);
    assert_eq!(w.samples, 2);
    let mem = w.gpus[0].memory_used.unwrap();
    assert_eq!(
        (mem.min, mem.max, mem.mean),
        ((4 * GIB) as f64, (6 * GIB) as f64, (5 * GIB) as f64)
    );

    // A range with no sample has no figures, not zeros.
    let later = Instant::now() + Duration::from_secs(1);
    let empty = s.window(later, later + Duration::from_secs(1));
    assert_eq!(empty.samples, 0);
    assert!(empty.gpus.is_empty());
    assert_eq!(empty.memory_used, None);
}

#[test]
fn history_is_bounded() {
    let s = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .history(4)
        .build()
        .unwrap();
    let start = s.latest().taken_at;
    for _ in 0..10 {
        s.sample_now();
    }
    let held = s.health().history_raw_bytes;
    for _ in 0..100 {
        s.sample_now();
    }
    assert_eq!(
        s.health().history_raw_bytes,
        held,
        "4 extra passes kept raw, whatever the number taken"
    );
    // The extra passes beyond those 4 live on in the bucket of the interval pass before
    // them: the window still counts every pass.
    let w = s.window(start, Instant::now());
    assert_eq!(w.samples, 111);
    assert_eq!(w.coverage, 1.0);
    assert_eq!(w.last, Some(s.latest().taken_at));
    assert_eq!(s.health().history_capacity, 4);
    assert_eq!(s.health().passes, 111);
}

#[test]
fn shutdown_joins_the_thread_and_reads_keep_working() {
    let s = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_millis(5))
        .build()
        .unwrap();
    assert!(s.health().running);
    s.shutdown();
    assert!(!s.health().running);
    let last = s.latest().seq;
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(s.latest().seq, last, "no pass after shutdown");
    // No thread is left to make a pass: the driver is called on the sampler's threads only.
    let started = std::time::Instant::now();
    assert_eq!(
        s.sample_now().seq,
        last,
        "sample_now returns the last snapshot"
    );
    assert!(
        started.elapsed() < Duration::from_millis(5),
        "without waiting"
    );
    s.shutdown();
}

#[test]
fn latest_follows_new_passes_and_never_mixes_samplers() {
    let off = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let other = Sampler::builder()
        .ignore_env(true)
        .nvml_library("/nonexistent/libnvidia-ml.so.1")
        .interval(Duration::from_secs(3600))
        .on_warning(|_| {})
        .build()
        .unwrap();
    for _ in 0..3 {
        // Same thread, alternating: each read is its own sampler's latest pass.
        let a = off.sample_now();
        assert_eq!(off.latest().seq, a.seq);
        assert_eq!(off.latest().gpu_status.as_str(), "disabled");
        let b = other.sample_now();
        assert_eq!(other.latest().seq, b.seq);
        assert_eq!(other.latest().gpu_status.as_str(), "no_library");
        assert!(std::sync::Arc::ptr_eq(&off.latest(), &a));
    }
}
