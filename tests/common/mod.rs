//! Shared test helpers.
#![allow(dead_code)]

pub mod axum_server;
pub mod fake_nvml;
pub mod metrics;
pub mod otel;
pub mod prometheus;
pub mod rotel;
pub mod sdk_log;
pub mod tls_front;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use otel_resmon::{Sampler, Snapshot, Warning};

/// Collects warnings delivered by a sampler.
#[derive(Clone, Default)]
pub struct Collected(pub Arc<Mutex<Vec<Warning>>>);

impl Collected {
    pub fn sink(&self) -> impl Fn(&Warning) + Send + Sync + 'static {
        let store = self.0.clone();
        move |w: &Warning| store.lock().unwrap().push(w.clone())
    }

    pub fn all(&self) -> Vec<Warning> {
        self.0.lock().unwrap().clone()
    }
}

/// Waits until the sampler thread has published a snapshot newer than `after`.
pub fn next_sample(sampler: &Sampler, after: &Snapshot) -> Arc<Snapshot> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let latest = sampler.latest();
        if latest.seq > after.seq {
            return latest;
        }
        assert!(
            Instant::now() < deadline,
            "the sampler thread published nothing for 10 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the sampler thread has read this process's figures after `t`.
pub fn sample_after(sampler: &Sampler, t: Instant) -> Arc<Snapshot> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let latest = sampler.latest();
        if latest.process.taken_at.is_some_and(|at| at > t) {
            return latest;
        }
        assert!(
            Instant::now() < deadline,
            "no sample after the work for 10 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits for `n` more passes of the sampler thread.
pub fn passes(sampler: &Sampler, n: u64) -> Arc<Snapshot> {
    let mut s = sampler.latest();
    for _ in 0..n {
        s = next_sample(sampler, &s);
    }
    s
}

/// An example program, as `cargo build --examples` leaves it beside the test binaries.
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build --examples`, as scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// CPU time of the calling thread, seconds.
pub fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a valid pointer.
    assert_eq!(
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) },
        0
    );
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Burns `seconds` of this thread's CPU time; returns what it burned.
pub fn burn_cpu(seconds: f64) -> f64 {
    let start = thread_cpu();
    let mut x = 1u64;
    while thread_cpu() - start < seconds {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    thread_cpu() - start
}

/// A 2-worker tokio runtime whose threads all have `dispatch` as their default subscriber (so
/// spans that end on a worker, with a response body, end under it).
pub fn runtime_under(dispatch: &tracing::Dispatch) -> tokio::runtime::Runtime {
    let dispatch = dispatch.clone();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&dispatch)))
        .build()
        .expect("a tokio runtime")
}

/// A loopback address nothing listens on at the moment.
pub fn free_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// A loopback port nothing listens on at the moment.
pub fn free_port() -> u16 {
    free_addr().port()
}

/// This process's resident memory now, bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages in /proc/self/statm");
    // SAFETY: sysconf only reads a configuration value.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}
