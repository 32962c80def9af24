//! The extremes and means of a span's snapshots: its start, its end, and every snapshot the
//! sampler took in between. Read straight from the history ring; nothing is allocated, and a
//! span shorter than one interval (start and end are the same or adjacent snapshots) never
//! touches the ring at all.

use std::sync::Arc;
use std::time::SystemTime;

use crate::snapshot::{GpuSample, Snapshot};
use crate::Sampler;

/// Running max / sum of one figure.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Running {
    pub(crate) max: Option<f64>,
    sum: f64,
    count: u32,
}

impl Running {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
            self.sum += v;
            self.count += 1;
        }
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / f64::from(self.count))
    }
}

/// Keeps the lowest value and when it was seen.
fn lowest(slot: &mut Option<(u64, SystemTime)>, v: Option<u64>, at: SystemTime) {
    if let Some(v) = v {
        if slot.is_none_or(|(m, _)| v < m) {
            *slot = Some((v, at));
        }
    }
}

/// The snapshots of one span.
pub(crate) struct SpanSnapshots<'a> {
    pub(crate) sampler: &'a Sampler,
    pub(crate) start: &'a Snapshot,
    pub(crate) end: &'a Snapshot,
}

/// Host and process figures over a span.
#[derive(Debug, Default)]
pub(crate) struct HostSpan {
    pub(crate) samples: u32,
    pub(crate) rss_peak: Option<u64>,
    pub(crate) available_min: Option<(u64, SystemTime)>,
    /// Lowest headroom under the cgroup's memory limit (limit minus working set).
    pub(crate) container_available_min: Option<(u64, SystemTime)>,
    pub(crate) cpu_utilization: Running,
}

/// One GPU's figures over a span.
#[derive(Debug, Default)]
pub(crate) struct GpuSpan {
    pub(crate) memory_used: Running,
    pub(crate) free_min: Option<(u64, SystemTime)>,
    pub(crate) process_memory: Running,
    pub(crate) utilization: Running,
    pub(crate) memory_busy: Running,
    pub(crate) temperature: Running,
    pub(crate) power: Running,
}

impl SpanSnapshots<'_> {
    /// Calls `f` with the start, the end, and every kept snapshot in between.
    fn visit(&self, mut f: impl FnMut(&Snapshot)) {
        let (start, end) = (self.start, self.end);
        f(start);
        if end.seq != start.seq {
            f(end);
        }
        if end.seq > start.seq + 1 {
            self.sampler
                .for_each_between(start.taken_at, end.taken_at, |s| {
                    if s.seq > start.seq && s.seq < end.seq {
                        f(s);
                    }
                });
        }
    }

    pub(crate) fn host(&self) -> HostSpan {
        let mut h = HostSpan::default();
        self.visit(|s| {
            h.samples += 1;
            if let Some(rss) = s.process.resident_memory {
                h.rss_peak = Some(h.rss_peak.map_or(rss, |p| p.max(rss)));
            }
            lowest(&mut h.available_min, s.host.memory_available, s.wall_time);
            let headroom = s.container.as_ref().and_then(|c| c.memory_available());
            lowest(&mut h.container_available_min, headroom, s.wall_time);
            h.cpu_utilization.add(s.host.cpu_utilization);
        });
        h
    }

    /// The figures of the GPU at position `j` of the end snapshot, matched by UUID in the
    /// other snapshots; `full` adds the figures only the full set reports.
    pub(crate) fn gpu(&self, j: usize, uuid: &Arc<str>, full: bool) -> GpuSpan {
        let mut w = GpuSpan::default();
        self.visit(|s| {
            if let Some(g) = find(s, j, uuid) {
                w.memory_used.add(g.memory_used.map(|v| v as f64));
                lowest(&mut w.free_min, g.memory_free, s.wall_time);
                w.utilization.add(g.utilization_gpu);
                if full {
                    w.process_memory.add(g.process_memory.map(|v| v as f64));
                    w.memory_busy.add(g.memory_busy);
                    w.temperature.add(g.temperature);
                    w.power.add(g.power);
                }
            }
        });
        w
    }
}

/// The GPU with this UUID in `s`, looked for first at position `j`.
pub(crate) fn find<'s>(s: &'s Snapshot, j: usize, uuid: &Arc<str>) -> Option<&'s GpuSample> {
    let same = |g: &&GpuSample| Arc::ptr_eq(&g.uuid, uuid) || g.uuid == *uuid;
    s.gpus
        .get(j)
        .filter(same)
        .or_else(|| s.gpus.iter().find(same))
}
