//! The per-request summary on stderr: the seed's terminal block, off by default.

use std::fmt::Write as _;

use super::request::RequestState;
use crate::snapshot::Snapshot;

const GIB: f64 = (1u64 << 30) as f64;

fn gib(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |b| format!("{:.2} GB", b as f64 / GIB))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |f| format!("{:.1}%", f * 100.0))
}

pub(crate) fn print(r: &RequestState, end: &Snapshot) {
    let line = "=".repeat(70);
    let mut s = String::new();
    let _ = writeln!(s, "{line}");
    let _ = writeln!(
        s,
        "{} {} -> {}{}",
        r.method(),
        r.route().unwrap_or("(no route)"),
        r.status()
            .map_or_else(|| "no response".to_owned(), |c| c.to_string()),
        r.error().map_or_else(String::new, |e| format!(" ({e})")),
    );
    let _ = writeln!(
        s,
        "Response time: {:.3} s",
        r.started().elapsed().as_secs_f64()
    );
    let _ = writeln!(
        s,
        "Request size: {} bytes, response size: {} bytes",
        r.request_bytes()
            .map_or_else(|| "n/a".to_owned(), |b| b.to_string()),
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
    let _ = writeln!(s, "CPU: {}", pct(h.cpu_utilization));
    let start = r.start_snapshot();
    if let (Some(a), Some(b)) = (start.process.cpu_time, end.process.cpu_time) {
        let _ = writeln!(
            s,
            "Process CPU time during the request: {:.3} s",
            (b - a).max(0.0)
        );
    }
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
                .map_or_else(|| "n/a".to_owned(), |t| format!("{t:.0} °C")),
        );
    }
    let _ = writeln!(s, "{line}");
    eprint!("{s}");
}
