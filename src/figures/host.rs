//! The process's and the host's figures over a span.

use super::entry::{byte_count, byte_delta, counter_delta, put_statistics, Num, Out};
use super::span_window::HostSpan;
use super::SpanEnds;
use crate::keys;
use crate::snapshot::catalogue::HostFigure;

/// This process's CPU time and resident memory.
pub(super) fn process(span: &SpanEnds<'_>, host: &HostSpan, out: &mut Out<'_>) {
    let (s, e) = (&span.start.process, &span.end.process);
    if let (true, Some(s), Some(e)) = (span.observed, s.cpu_time, e.cpu_time) {
        if let Some(d) = counter_delta(s, e) {
            out.put(&keys::PROCESS_CPU_TIME_DELTA, Num::Float(d));
        }
    }
    if let (true, Some(s)) = (span.full, s.resident_memory) {
        out.put(&keys::PROCESS_MEMORY_START, byte_count(s));
    }
    if let Some(e) = e.resident_memory {
        out.put(&keys::PROCESS_MEMORY_END, byte_count(e));
    }
    if let (true, Some(s), Some(e)) = (span.observed, s.resident_memory, e.resident_memory) {
        out.put(&keys::PROCESS_MEMORY_DELTA, byte_delta(s, e));
    }
    if let (true, Some(v)) = (span.full, e.virtual_memory) {
        out.put(&keys::PROCESS_VIRTUAL_END, byte_count(v));
    }
    // The peaks, lows and means of the span's own passes, as the catalogue says (none
    // for a span within one interval, which has no pass of its own).
    if host.samples > 0 {
        for f in HostFigure::ALL {
            let rows = f.figure().span;
            put_statistics(rows, host.stat(f), span.full, span.observed, out, |key| {
                key()
            });
        }
    }
}

/// The host's memory, CPU utilization and load.
pub(super) fn host(span: &SpanEnds<'_>, out: &mut Out<'_>) {
    let end = &span.end.host;
    if let Some(m) = end.memory_used {
        out.put(&keys::SYSTEM_MEMORY_END, byte_count(m));
    }
    if let Some(u) = end.cpu_utilization {
        out.put(&keys::SYSTEM_CPU_UTILIZATION_END, Num::Float(u));
    }
    if !span.full {
        return;
    }
    if let Some(m) = span.start.host.memory_used {
        out.put(&keys::SYSTEM_MEMORY_START, byte_count(m));
    }
    if let Some(l) = end.load_average_1m {
        out.put(&keys::SYSTEM_LOAD_AVERAGE_END, Num::Float(l));
    }
}
