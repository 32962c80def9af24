//! The container's (this process's cgroup's) figures over a span.

use super::entry::{byte_count, byte_delta, Num, Out};
use super::SpanEnds;
use crate::keys;

/// Working set end and delta; the CPU-throttled time delta only when the span saw throttling
/// (a short quiet span does not grow).
pub(super) fn container(span: &SpanEnds<'_>, out: &mut Out<'_>) {
    let Some(e) = &span.end.container else {
        return;
    };
    if let Some(ws) = e.memory_working_set {
        out.put(&keys::CONTAINER_MEMORY_WORKING_SET_END, byte_count(ws));
    }
    if !span.observed {
        return;
    }
    let Some(s) = &span.start.container else {
        return;
    };
    if let (Some(s), Some(e)) = (s.memory_working_set, e.memory_working_set) {
        out.put(&keys::CONTAINER_MEMORY_WORKING_SET_DELTA, byte_delta(s, e));
    }
    // A counter that went backwards (a new cgroup) gives nothing, never 0.
    if let (Some(s), Some(e)) = (s.cpu_throttled_time, e.cpu_throttled_time) {
        if e > s {
            out.put(&keys::CONTAINER_CPU_THROTTLED_TIME_DELTA, Num::Float(e - s));
        }
    }
}
