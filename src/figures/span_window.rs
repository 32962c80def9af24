//! The extremes and means of a span's own passes: every pass after its start snapshot (the
//! state at entry, up to one interval older than the span), up to and including its end.
//! Read from the sampler's history (raw snapshots at the edges, whole buckets inside) without
//! allocating; a span shorter than one interval (its ends are the same or adjacent passes)
//! never touches the history at all.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::sampler::Sampler;
use crate::sampler::{gpu_figure, host_figure, Bucket, Covered, Fold};
use crate::snapshot::{GpuTier, Snapshot};

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

    /// Adds figure `i` of a bucket.
    fn merge<const N: usize>(&mut self, f: &crate::sampler::Figures<N>, i: usize) {
        if f.count[i] > 0 {
            let v = f.max[i];
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
            self.sum += f.sum[i];
            self.count += f.count[i];
        }
    }

    /// How many readings it holds.
    pub(crate) fn count(&self) -> u32 {
        self.count
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

/// The lowest value of figure `i` of a bucket, with when it was seen.
fn lowest_of<const N: usize>(
    slot: &mut Option<(u64, SystemTime)>,
    f: &crate::sampler::Figures<N>,
    i: usize,
    at: SystemTime,
) {
    if f.count[i] > 0 {
        lowest(slot, Some(f.min[i] as u64), at);
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
    /// Passes taken during the span (its end included, its start not).
    pub(crate) samples: u32,
    pub(crate) rss_peak: Option<u64>,
    pub(crate) available_min: Option<(u64, SystemTime)>,
    /// Lowest headroom under the cgroup's memory limit (limit minus working set).
    pub(crate) container_available_min: Option<(u64, SystemTime)>,
    pub(crate) cpu_utilization: Running,
    /// The fraction of the span the history still covered, when below 1.
    pub(crate) coverage: Option<f64>,
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
    /// Lowest SM clock, MHz.
    pub(crate) clock_sm_min: Option<f64>,
    /// Every clock-event reason bit seen.
    pub(crate) clock_event_reasons: u64,
}

impl Fold for HostSpan {
    fn snapshot(&mut self, s: &Snapshot) {
        self.samples += 1;
        if let Some(rss) = s.process.resident_memory {
            self.rss_peak = Some(self.rss_peak.map_or(rss, |p| p.max(rss)));
        }
        lowest(
            &mut self.available_min,
            s.host.memory_available,
            s.wall_time,
        );
        let headroom = s.container.as_ref().and_then(|c| c.memory_available());
        lowest(&mut self.container_available_min, headroom, s.wall_time);
        // A measurement carried from an earlier pass is counted where it was fresh.
        self.cpu_utilization
            .add(s.host.cpu_utilization.filter(|_| s.host.cpu_is_fresh()));
    }

    fn bucket(&mut self, b: &Bucket) {
        use host_figure::*;
        let h = &b.host;
        self.samples += b.samples;
        if h.count[RESIDENT] > 0 {
            let rss = h.max[RESIDENT] as u64;
            self.rss_peak = Some(self.rss_peak.map_or(rss, |p| p.max(rss)));
        }
        lowest_of(
            &mut self.available_min,
            h,
            MEMORY_AVAILABLE,
            b.available_low_at,
        );
        lowest_of(
            &mut self.container_available_min,
            h,
            CONTAINER_HEADROOM,
            b.headroom_low_at,
        );
        self.cpu_utilization.merge(h, CPU_UTILIZATION);
    }
}

/// One GPU's figures, folded from the passes that list it.
struct GpuFold<'u> {
    j: usize,
    uuid: &'u Arc<str>,
    full: bool,
    span: GpuSpan,
}

impl Fold for GpuFold<'_> {
    fn snapshot(&mut self, s: &Snapshot) {
        // A figure carried from an earlier read is not a reading of the span's.
        let Some(g) = s
            .gpu_near(self.j, self.uuid)
            .filter(|g| g.is_fresh(GpuTier::Fast))
        else {
            return;
        };
        let w = &mut self.span;
        w.memory_used.add(g.memory_used.map(|v| v as f64));
        lowest(&mut w.free_min, g.memory_free, s.wall_time);
        w.utilization.add(g.utilization_gpu);
        if let Some(clock) = g.condition.clock_sm_mhz {
            let clock = f64::from(clock);
            w.clock_sm_min = Some(w.clock_sm_min.map_or(clock, |m| m.min(clock)));
        }
        if let Some(r) = g.condition.clock_event_reasons {
            w.clock_event_reasons |= r.0;
        }
        if self.full {
            w.process_memory.add(g.process_memory.map(|v| v as f64));
            w.memory_busy.add(g.memory_busy);
            w.temperature.add(g.temperature);
            w.power.add(g.power);
        }
    }

    fn bucket(&mut self, b: &Bucket) {
        use gpu_figure::*;
        let Some(g) = b.gpu(self.j, self.uuid) else {
            return;
        };
        let (w, f) = (&mut self.span, &g.figures);
        w.memory_used.merge(f, MEMORY_USED);
        lowest_of(&mut w.free_min, f, MEMORY_FREE, g.free_low_at);
        w.utilization.merge(f, UTILIZATION);
        if f.count[CLOCK_SM] > 0 {
            let clock = f.min[CLOCK_SM];
            w.clock_sm_min = Some(w.clock_sm_min.map_or(clock, |m| m.min(clock)));
        }
        w.clock_event_reasons |= g.clock_event_reasons;
        if self.full {
            w.process_memory.merge(f, PROCESS_MEMORY);
            w.memory_busy.merge(f, MEMORY_BUSY);
            w.temperature.merge(f, TEMPERATURE);
            w.power.merge(f, POWER);
        }
    }
}

impl SpanSnapshots<'_> {
    /// Folds the span's own passes: the end, and every pass the history holds strictly
    /// between the start and the end. The start snapshot is the state at entry, read up to
    /// one interval before the span began: nothing from it counts as seen during the span. A
    /// span within one interval (its ends read the same pass) has no pass of its own: it
    /// gets no peak, low, mean or event at all.
    fn fold(&self, f: &mut impl Fold) -> Option<Covered> {
        let (start, end) = (self.start, self.end);
        if end.seq == start.seq {
            return None;
        }
        f.snapshot(end);
        if end.seq <= start.seq + 1 {
            return None;
        }
        let ns = Duration::from_nanos(1);
        Some(self.sampler.fold(start.taken_at + ns, end.taken_at - ns, f))
    }

    pub(crate) fn host(&self) -> HostSpan {
        let mut h = HostSpan::default();
        if let Some(covered) = self.fold(&mut h) {
            h.coverage = covered.is_partial().then(|| covered.fraction());
        }
        h
    }

    /// The figures of the GPU at position `j` of the end snapshot, matched by UUID in the
    /// other snapshots; `full` adds the figures only the full set reports.
    pub(crate) fn gpu(&self, j: usize, uuid: &Arc<str>, full: bool) -> GpuSpan {
        let mut f = GpuFold {
            j,
            uuid,
            full,
            span: GpuSpan::default(),
        };
        self.fold(&mut f);
        f.span
    }
}
