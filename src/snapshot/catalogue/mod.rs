//! The catalogue of figures, one table per subject (`tables/`: the host and this process,
//! and each GPU). A row says the figure's name, its kind, the tier it is read at, how it is
//! read from a snapshot, whether the history keeps it and its lowest value's time, what a
//! span writes of its statistics, its metric and its per-span histogram (`exports.rs`). The
//! history's buckets, [`Window`](crate::sampler::Window), the span figures' peaks, lows and
//! means, the metrics of one figure each, the per-span histograms and `so_far()` derive from
//! these rows, with one statistics type, [`Stat`] (`stat.rs`).
//!
//! Adding a figure is a row in `tables/` and its keys in `keys.rs`. Every metric of the crate
//! is a row's (a figure exported by attribute value is a row per value), so a figure that is
//! only exported is a row with `kept false` and no span outputs: it costs neither the history
//! nor a span anything.

use opentelemetry::Key;

use super::{GpuSample, GpuTier, Snapshot};
use crate::keys::GpuKeys;

/// How a figure behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A level (memory in use, utilization): its peak, low and mean mean something.
    Gauge,
    /// A running total (CPU time, energy): its difference over a stretch is what was used.
    Counter,
}

impl Kind {
    /// What changed between two readings: a level's difference, or what a counter rose by
    /// (`None` when it went backwards: the driver re-initialised, a new cgroup).
    pub(crate) fn change(self, start: f64, end: f64) -> Option<f64> {
        match self {
            Kind::Gauge => Some(end - start),
            Kind::Counter => (end >= start).then_some(end - start),
        }
    }
}

/// When a figure is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Every pass (host and process figures).
    Pass,
    /// The host CPU utilization: it needs 200 ms between two readings of the counters, so a
    /// pass sooner than that carries the last measurement.
    HostCpu,
    /// A GPU tier: the figure counts only in a pass that read that tier.
    Gpu(GpuTier),
}

/// What a span writes of a figure: its value at an end, its change between the ends, or a
/// statistic of the span's own passes (folded from the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statistic {
    /// The value at the span's start (the state at entry).
    Start,
    /// The value at the span's end.
    End,
    /// The change between the ends ([`Kind::change`]).
    Delta,
    /// The change between the ends, only when above 0 (time throttled: a short quiet span
    /// does not grow, and a 0 would only say so on every span).
    Rise,
    Peak,
    Low,
    Mean,
}

impl Statistic {
    /// Whether it comes from the span's own passes (the history), not from its ends.
    pub(crate) const fn is_folded(self) -> bool {
        matches!(self, Statistic::Peak | Statistic::Low | Statistic::Mean)
    }
}

/// How a span attribute's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// A whole number of bytes (`Int`).
    Bytes,
    /// A whole number (`Int`), e.g. MHz.
    Int,
    /// A number as measured (`Double`).
    Float,
}

/// One attribute a span gets of a figure, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanOutput<K: 'static> {
    pub(crate) statistic: Statistic,
    /// Only in the full figure set.
    pub(crate) full_only: bool,
    /// Only when the span observed the figure change (two passes, two readings of a GPU).
    pub(crate) observed: bool,
    pub(crate) key: K,
    pub(crate) encoding: Encoding,
}

/// A host or process attribute's key.
pub(crate) type HostKey = fn() -> &'static Key;
/// A GPU attribute's key, among the GPU's keys.
pub(crate) type GpuKey = fn(&'static GpuKeys) -> &'static Key;

/// One row of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure<T: 'static, K: 'static> {
    /// The figure's name (its metric's, where it has one).
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) tier: Tier,
    /// The value in a snapshot; `None` where the figure is absent, or (for a figure read
    /// less often than every pass) not read by that pass.
    pub(crate) read: fn(&T) -> Option<f64>,
    /// Whether the time of its lowest value is kept (for pressure events).
    pub(crate) low_at: bool,
    /// What a span writes of its statistics over the span's own passes.
    pub(crate) span: &'static [SpanOutput<K>],
    /// The metric it is exported as, if any.
    pub(crate) metric: Option<Metric>,
    /// Whether the history keeps it (its buckets, so windows and long spans have it); a row
    /// says `kept false` only for a figure exported and nothing else, to keep the history's
    /// memory. Every row with span outputs or a low's time is kept (checked at compile time).
    pub(crate) kept: bool,
    /// The per-span histogram of it, if any.
    pub(crate) histogram: Option<SpanHistogram>,
}

impl<T, K> Figure<T, K> {
    /// Whether a span folding its passes needs this figure: always where its low's time is
    /// kept (pressure events), else where the span writes something of it in this set.
    pub(crate) fn needed(&self, full: bool) -> bool {
        self.low_at
            || self
                .span
                .iter()
                .any(|o| o.statistic.is_folded() && (full || !o.full_only))
    }

    /// Whether any of its span outputs is folded from the history.
    const fn folds(&self) -> bool {
        let mut i = 0;
        while i < self.span.len() {
            if self.span[i].statistic.is_folded() {
                return true;
            }
            i += 1;
        }
        false
    }
}

#[macro_use]
mod table_macro;
mod exports;
mod stat;
mod tables;
#[cfg(test)]
mod tests;

pub(crate) use exports::{
    Instrument, Labels, Measure, Metric, SpanHistogram, BYTE_BUCKETS, CPU_SECONDS,
};

pub(crate) use stat::Stat;
pub(crate) use tables::{GpuFigure, HostFigure};

impl Figure<Snapshot, HostKey> {
    /// The value a pass read of it: every host figure is read every pass, but a CPU
    /// utilization carried from an earlier pass is not a new reading.
    #[inline]
    pub(crate) fn value(&self, s: &Snapshot) -> Option<f64> {
        match self.tier {
            Tier::HostCpu if !s.host.cpu_is_fresh() => None,
            _ => (self.read)(s),
        }
    }
}

impl Figure<GpuSample, GpuKey> {
    /// The value a pass read of it: nothing where the pass did not read its tier (a figure
    /// carried from an earlier read is not a new reading).
    #[inline]
    pub(crate) fn value(&self, g: &GpuSample) -> Option<f64> {
        match self.tier {
            Tier::Gpu(tier) if !g.is_fresh(tier) => None,
            _ => (self.read)(g),
        }
    }
}
