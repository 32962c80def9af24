//! The extremes and means of a span's snapshots: its start, its end, and every snapshot the
//! sampler took in between. Folded straight from the history ring, one pass, one allocation.

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

/// One GPU's figures over the span; indexed like the end snapshot's `gpus`.
#[derive(Debug, Clone, Default)]
pub(crate) struct GpuSpan {
    pub(crate) memory_used: Running,
    pub(crate) free_min: Option<(u64, SystemTime)>,
    pub(crate) process_memory: Running,
    pub(crate) utilization: Running,
    pub(crate) memory_utilization: Running,
    pub(crate) temperature: Running,
    pub(crate) power: Running,
}

#[derive(Debug, Default)]
pub(crate) struct SpanWindow {
    pub(crate) samples: u32,
    pub(crate) rss_peak: Option<u64>,
    pub(crate) available_min: Option<(u64, SystemTime)>,
    pub(crate) cpu_utilization: Running,
    pub(crate) gpus: Vec<GpuSpan>,
}

impl SpanWindow {
    pub(crate) fn fold(sampler: &Sampler, start: &Snapshot, end: &Snapshot) -> Self {
        let mut w = SpanWindow {
            gpus: vec![GpuSpan::default(); end.gpus.len()],
            ..SpanWindow::default()
        };
        w.add(start, end);
        if end.seq != start.seq {
            w.add(end, end);
        }
        if end.seq > start.seq + 1 {
            sampler.for_each_between(start.taken_at, end.taken_at, |s| {
                if s.seq > start.seq && s.seq < end.seq {
                    w.add(s, end);
                }
            });
        }
        w
    }

    fn add(&mut self, s: &Snapshot, end: &Snapshot) {
        self.samples += 1;
        if let Some(rss) = s.process.resident_memory {
            self.rss_peak = Some(self.rss_peak.map_or(rss, |p| p.max(rss)));
        }
        lowest(
            &mut self.available_min,
            s.host.memory_available,
            s.wall_time,
        );
        self.cpu_utilization.add(s.host.cpu_utilization);
        for (j, g) in s.gpus.iter().enumerate() {
            if let Some(slot) = position(end, j, g).and_then(|p| self.gpus.get_mut(p)) {
                slot.memory_used.add(g.memory_used.map(|v| v as f64));
                lowest(&mut slot.free_min, g.memory_free, s.wall_time);
                slot.process_memory.add(g.process_memory.map(|v| v as f64));
                slot.utilization.add(g.utilization_gpu);
                slot.memory_utilization.add(g.utilization_memory);
                slot.temperature.add(g.temperature);
                slot.power.add(g.power);
            }
        }
    }
}

/// Where `g` (at position `j` of its snapshot) sits in the end snapshot's GPU list.
fn position(end: &Snapshot, j: usize, g: &GpuSample) -> Option<usize> {
    match end.gpus.get(j) {
        Some(e) if e.uuid == g.uuid => Some(j),
        _ => end.gpus.iter().position(|e| e.uuid == g.uuid),
    }
}
