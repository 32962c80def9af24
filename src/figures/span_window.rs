//! The extremes and means of a span's own passes: every pass after its start snapshot (the
//! state at entry, up to one interval older than the span), up to and including its end.
//! Read from the sampler's history (raw snapshots at the edges, whole buckets inside) without
//! allocating; a span shorter than one interval (its ends are the same or adjacent passes)
//! never touches the history at all.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::sampler::Sampler;
use crate::sampler::{Bucket, Covered, Fold};
use crate::snapshot::catalogue::{GpuFigure, HostFigure, Stat};
use crate::snapshot::{GpuTier, Snapshot};

/// The snapshots of one span.
pub(crate) struct SpanSnapshots<'a> {
    pub(crate) sampler: &'a Sampler,
    pub(crate) start: &'a Snapshot,
    pub(crate) end: &'a Snapshot,
}

/// Host and process figures over a span: each figure of the catalogue's statistics over the
/// span's own passes, and when the figures that keep it were lowest.
#[derive(Debug)]
pub(crate) struct HostSpan {
    /// Passes taken during the span (its end included, its start not).
    pub(crate) samples: u32,
    figures: [Stat; HostFigure::FOLDED],
    low_at: [Option<SystemTime>; HostFigure::LOWS],
    /// The fraction of the span the history still covered, when below 1.
    pub(crate) coverage: Option<f64>,
}

impl Default for HostSpan {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl HostSpan {
    /// No pass of the span's own (a span within one interval): nothing to fold, nothing to
    /// build.
    pub(crate) const EMPTY: HostSpan = HostSpan {
        samples: 0,
        figures: [Stat::EMPTY; HostFigure::FOLDED],
        low_at: [None; HostFigure::LOWS],
        coverage: None,
    };

    /// The statistics of figure `f` over the span's own passes (none for a figure no span
    /// folds).
    pub(crate) fn stat(&self, f: HostFigure) -> &Stat {
        f.fold_slot().map_or(&Stat::EMPTY, |k| &self.figures[k])
    }

    /// The lowest value of a figure that keeps its low's time (bytes), and when.
    pub(crate) fn low(&self, f: HostFigure) -> Option<(u64, SystemTime)> {
        let at = self.low_at[f.low_slot()?]?;
        Some((self.stat(f).min()? as u64, at))
    }
}

/// One GPU's figures over a span, as [`HostSpan`]'s.
#[derive(Debug)]
pub(crate) struct GpuSpan {
    figures: [Stat; GpuFigure::FOLDED],
    low_at: [Option<SystemTime>; GpuFigure::LOWS],
    /// Every clock-event reason bit seen.
    pub(crate) clock_event_reasons: u64,
}

impl Default for GpuSpan {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl GpuSpan {
    /// As [`HostSpan::EMPTY`].
    pub(crate) const EMPTY: GpuSpan = GpuSpan {
        figures: [Stat::EMPTY; GpuFigure::FOLDED],
        low_at: [None; GpuFigure::LOWS],
        clock_event_reasons: 0,
    };

    /// The statistics of figure `f` over the span's own passes (none for a figure no span
    /// folds).
    pub(crate) fn stat(&self, f: GpuFigure) -> &Stat {
        f.fold_slot().map_or(&Stat::EMPTY, |k| &self.figures[k])
    }

    /// The lowest value of a figure that keeps its low's time (bytes), and when.
    pub(crate) fn low(&self, f: GpuFigure) -> Option<(u64, SystemTime)> {
        let at = self.low_at[f.low_slot()?]?;
        Some((self.stat(f).min()? as u64, at))
    }
}

/// Adds a value (or a bucket's statistics) of a figure, keeping when a new low was seen.
fn keep_low(low: bool, slot: Option<usize>, low_at: &mut [Option<SystemTime>], at: SystemTime) {
    if let (true, Some(slot)) = (low, slot) {
        low_at[slot] = Some(at);
    }
}

impl Fold for HostSpan {
    fn snapshot(&mut self, s: &Snapshot) {
        self.samples += 1;
        // Each figure as the catalogue reads it (a carried measurement counts where fresh).
        for (j, f) in HostFigure::FOLDED_ROWS.into_iter().enumerate() {
            let low = self.figures[j].add(f.figure().value(s));
            keep_low(low, f.low_slot(), &mut self.low_at, s.wall_time);
        }
    }

    fn bucket(&mut self, b: &Bucket) {
        self.samples += b.samples;
        for (j, f) in HostFigure::FOLDED_ROWS.into_iter().enumerate() {
            // A folded row is kept in the history (the catalogue checks it).
            let Some(k) = f.kept_slot() else { continue };
            let low = self.figures[j].merge(&b.host[k]);
            if let Some(at) = b.host_low_at(f) {
                keep_low(low, f.low_slot(), &mut self.low_at, at);
            }
        }
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
        let Some(g) = s.gpu_near(self.j, self.uuid) else {
            return;
        };
        let w = &mut self.span;
        // The figures this span writes (or needs for its events), each only where this
        // pass read its tier: a figure carried from an earlier read is not a reading.
        for (j, f) in GpuFigure::FOLDED_ROWS.into_iter().enumerate() {
            if f.figure().needed(self.full) {
                let low = w.figures[j].add(f.figure().value(g));
                keep_low(low, f.low_slot(), &mut w.low_at, s.wall_time);
            }
        }
        if let (true, Some(r)) = (g.is_fresh(GpuTier::Fast), g.condition.clock_event_reasons) {
            w.clock_event_reasons |= r.0;
        }
    }

    fn bucket(&mut self, b: &Bucket) {
        let Some(g) = b.gpu(self.j, self.uuid) else {
            return;
        };
        let w = &mut self.span;
        for (j, f) in GpuFigure::FOLDED_ROWS.into_iter().enumerate() {
            // A needed row is kept in the history (the catalogue checks it).
            if let (true, Some(k)) = (f.figure().needed(self.full), f.kept_slot()) {
                let low = w.figures[j].merge(&g.figures[k]);
                if let Some(at) = g.low_at(f) {
                    keep_low(low, f.low_slot(), &mut w.low_at, at);
                }
            }
        }
        w.clock_event_reasons |= g.clock_event_reasons;
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
