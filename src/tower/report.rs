//! The per-request summary on stderr, as the Python backend this crate grew from printed it,
//! off by default. It is read by people, so it ends with a fresh sample (exact figures) and
//! keeps that backend's rolling averages of host memory and CPU over the last requests.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;

use super::exchange::Exchange;
use crate::snapshot::Snapshot;

const GIB: f64 = (1u64 << 30) as f64;
/// Readings the rolling averages cover, as in the Python backend.
const READINGS: usize = 10;

fn gib(v: Option<u64>) -> String {
    v.map_or_else(
        || "not available".to_owned(),
        |b| format!("{:.2} GiB", b as f64 / GIB),
    )
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(
        || "not available".to_owned(),
        |f| format!("{:.1} %", f * 100.0),
    )
}

/// One request's host memory share and CPU utilization at its end.
type Reading = (Option<f64>, Option<f64>);

/// The readings of the last requests of one layer.
#[derive(Debug, Default)]
pub(crate) struct Recent(Mutex<VecDeque<Reading>>);

impl Recent {
    /// Adds this request's reading; the means over the last [`READINGS`] (each over the
    /// readings that had the figure) and how many readings there are.
    fn add(&self, memory: Option<f64>, cpu: Option<f64>) -> (Option<f64>, Option<f64>, usize) {
        let mut q = crate::sync::lock(&self.0);
        if q.len() == READINGS {
            q.pop_front();
        }
        q.push_back((memory, cpu));
        let mean = |pick: fn(&Reading) -> Option<f64>| {
            let (sum, n) = q
                .iter()
                .filter_map(pick)
                .fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
            (n > 0).then(|| sum / f64::from(n))
        };
        (mean(|r| r.0), mean(|r| r.1), q.len())
    }
}

/// Prints the block for a finished request; `end` is a fresh snapshot.
pub(crate) fn print(r: &Exchange, end: &Snapshot, recent: &Recent) {
    let line = "=".repeat(70);
    let mut s = String::new();
    let _ = writeln!(s, "{line}");
    let _ = writeln!(
        s,
        "{} {} -> {}{}",
        r.method,
        r.route.as_deref().unwrap_or("(no route)"),
        r.status
            .map_or_else(|| "no response".to_owned(), |c| c.to_string()),
        r.error.map_or_else(String::new, |e| format!(" ({e})")),
    );
    let _ = writeln!(
        s,
        "Response time: {:.3} s",
        r.started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        s,
        "Request size: {} bytes, response size: {} bytes",
        r.request_bytes
            .map_or_else(|| "not available".to_owned(), |b| b.to_string()),
        r.response_bytes
    );
    let h = &end.host;
    let used_share = h
        .memory_used
        .zip(h.memory_total)
        .map(|(u, t)| u as f64 / t as f64);
    let _ = writeln!(
        s,
        "Memory: {} of {} ({})",
        gib(h.memory_used),
        gib(h.memory_total),
        pct(used_share)
    );
    let (memory_mean, cpu_mean, readings) = recent.add(used_share, h.cpu_utilization);
    let _ = writeln!(s, "Average memory (last {readings}): {}", pct(memory_mean));
    let _ = writeln!(s, "CPU: {}", pct(h.cpu_utilization));
    let _ = writeln!(s, "Average CPU (last {readings}): {}", pct(cpu_mean));
    let start = &r.start;
    let cpu_time = start
        .process
        .cpu_time
        .zip(end.process.cpu_time)
        .map_or_else(
            || "not available".to_owned(),
            |(a, b)| {
                crate::figures::counter_delta(a, b).map_or_else(
                    || "not available (the counter went backwards)".to_owned(),
                    |d| format!("{d:.3} s"),
                )
            },
        );
    let _ = writeln!(
        s,
        "Process CPU time during the request (all threads): {cpu_time}"
    );
    if end.gpus.is_empty() {
        let _ = writeln!(s, "GPU: none ({})", end.gpu_status);
    }
    for g in &end.gpus {
        let _ = writeln!(
            s,
            "GPU {} {}: memory {} of {}, utilization {}, temperature {}",
            g.index,
            g.name,
            gib(g.memory_used),
            gib(g.memory_total),
            pct(g.utilization_gpu),
            g.temperature
                .map_or_else(|| "not available".to_owned(), |t| format!("{t:.0} °C")),
        );
    }
    let _ = writeln!(s, "{line}");
    eprint!("{s}");
}
