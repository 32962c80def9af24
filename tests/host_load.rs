//! Host and process figures react to real load: memory this test touches, CPU a thread burns.
//! Run one at a time (they measure the whole process).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{sample_after, thread_cpu};
use otel_resmon::Sampler;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const MIB: u64 = 1 << 20;

fn sampler() -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

#[test]
fn touching_512_mib_raises_resident_memory_in_the_next_sample() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = sampler();
    let before = s.sample_now();
    let rss_before = before.process.resident_memory.expect("RSS");

    // vec![1; n] writes every byte, so every page is resident (not the zero page).
    let block = std::hint::black_box(vec![1u8; 512 * MIB as usize]);
    let after = sample_after(&s, Instant::now());
    let rss_after = after.process.resident_memory.expect("RSS");
    let grown = rss_after.saturating_sub(rss_before);
    assert!(
        grown >= 400 * MIB,
        "RSS grew by {} MiB ({} -> {} MiB)",
        grown / MIB,
        rss_before / MIB,
        rss_after / MIB
    );
    assert!(after.process.virtual_memory.unwrap() >= rss_after);
    assert!(after.host.memory_used.unwrap() > 0);
    drop(block);
}

#[test]
fn a_thread_burning_500ms_of_cpu_raises_process_cpu_time() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = sampler();
    let before = s.sample_now();
    let cpu_before = before.process.cpu_time.expect("CPU time");

    let burned = std::thread::spawn(|| {
        let start = thread_cpu();
        let mut x = 0u64;
        while thread_cpu() - start < 0.5 {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        thread_cpu() - start
    })
    .join()
    .unwrap();

    let after = sample_after(&s, Instant::now());
    let used = after.process.cpu_time.unwrap() - cpu_before;
    assert!(
        used >= 0.35,
        "process CPU time rose by {used:.3} s (thread burned {burned:.3} s)"
    );
    let user = after.process.cpu_time_user.unwrap() - before.process.cpu_time_user.unwrap();
    assert!(user >= 0.3, "user CPU time rose by {user:.3} s");
}

/// Burns CPU on every core this process may use until `stop` is set.
fn burn_all_cores(stop: &std::sync::atomic::AtomicBool) {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..n {
            scope.spawn(|| {
                let mut x = 1u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            });
        }
    });
}

#[test]
fn host_cpu_utilization_is_a_fraction_that_rises_under_load() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = sampler();
    // The first snapshot comes from one CPU reading: no honest figure yet.
    let first = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert_eq!(first.latest().host.cpu_utilization, None);

    let stop = std::sync::atomic::AtomicBool::new(false);
    let loaded = std::thread::scope(|scope| {
        scope.spawn(|| burn_all_cores(&stop));
        // Two CPU readings at least 200 ms apart, both under load.
        std::thread::sleep(Duration::from_millis(50));
        let under_load = Instant::now();
        let deadline = under_load + Duration::from_secs(5);
        let snap = loop {
            let snap = s.latest();
            if snap
                .host
                .cpu_measured_at
                .is_some_and(|t| t >= under_load + Duration::from_millis(250))
            {
                break snap;
            }
            assert!(Instant::now() < deadline, "no CPU utilization after 5 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        snap
    });
    let u = loaded.host.cpu_utilization.unwrap();
    assert!((0.0..=1.0).contains(&u), "{u}");
    assert!(
        u >= 0.3,
        "host CPU utilization {u:.2} with every usable core busy"
    );
    assert!(loaded.host.memory_available.unwrap() <= loaded.host.memory_total.unwrap());
}
