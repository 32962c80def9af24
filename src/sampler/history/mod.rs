//! The bounded history of snapshots, at several resolutions, written by the sampler and read
//! by anyone without a lock.
//!
//! - Raw: the last `history` interval passes in one ring, each with a bucket of the extra
//!   passes ([`Sampler::sample_now`](crate::sampler::Sampler::sample_now)) taken after it, and the
//!   last `history` extra passes themselves in another ring: a burst of extra passes never
//!   shortens the time the interval passes cover, and the extras stay exact at the edges.
//! - Levels: per [`HistoryLevel`], a ring of buckets of one width. Every pass goes into one
//!   bucket per level.
//!
//! A window ([`History::fold`]) takes the coarsest whole buckets inside it, then finer ones
//! towards its edges, and the raw snapshots at the edges: extremes are exact and means exact
//! over the passes taken, at a cost that grows with the number of levels, not with the
//! window's length. What no level still holds is left out and said so ([`Covered`]).

mod bucket;
mod cover;
mod levels;
mod ring;
#[cfg(test)]
mod tests;
mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use bucket::{Bucket, Fold};
pub use levels::HistoryLevel;
pub(crate) use levels::{check_levels, default_levels, parse_levels};
pub(crate) use window::WindowBuilder;
pub use window::{GpuWindow, Stats, Window};

use crate::snapshot::Snapshot;
use levels::Level;
use ring::{nanos_since, Ring};

/// Bytes an `Arc`'s allocation adds to its value (the two counts).
const ARC_HEADER: usize = 2 * std::mem::size_of::<usize>();

pub(crate) struct History {
    /// The first pass: bucket boundaries count from it.
    origin: Instant,
    interval_passes: Ring,
    extra_passes: Ring,
    levels: Box<[Level]>,
}

/// The part of a window the history still covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Covered {
    /// Nanoseconds of the window covered.
    pub(crate) nanos: u64,
    /// Nanoseconds of the window (from the first pass on), both ends included.
    pub(crate) total: u64,
    /// First and last instant covered.
    pub(crate) range: Option<(Instant, Instant)>,
}

impl History {
    pub(crate) fn new(first: Arc<Snapshot>, raw: usize, levels: &[HistoryLevel]) -> Self {
        let history = Self {
            origin: first.taken_at,
            interval_passes: Ring::new(raw, true),
            extra_passes: Ring::new(raw, false),
            levels: levels.iter().map(Level::new).collect(),
        };
        history.push(first, false);
        history
    }

    /// Interval passes the raw ring keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.interval_passes.capacity()
    }

    /// Stores a pass. Only one writer (the pass thread), in the
    /// order the passes were taken; `extra` for a pass asked for by `sample_now`.
    pub(crate) fn push(&self, snapshot: Arc<Snapshot>, extra: bool) {
        for level in &*self.levels {
            level.push(&snapshot, self.origin);
        }
        if extra {
            self.interval_passes.push_extra(&snapshot);
            self.extra_passes.push(snapshot, self.origin);
        } else {
            self.interval_passes.push(snapshot, self.origin);
        }
    }

    /// Folds every pass taken in `[from, to]` that the history still holds into `fold`, and
    /// says which part of the window that covers. Time before the first pass counts as
    /// covered: nothing was taken then, nothing was lost.
    pub(crate) fn fold(&self, from: Instant, to: Instant, fold: &mut impl Fold) -> Covered {
        let from = from.max(self.origin);
        if to < from {
            return Covered {
                nanos: 0,
                total: 0,
                range: None,
            };
        }
        let mut covered = cover::Parts::default();
        cover::cover(self, from, to, fold, &mut covered);
        covered.finish(nanos_since(from, to) + 1)
    }

    /// The instant `ns` nanoseconds after the origin.
    pub(crate) fn at(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns)
    }

    fn since_origin(&self, t: Instant) -> u64 {
        nanos_since(self.origin, t)
    }

    /// Nanoseconds since the origin from which the raw level holds every pass: the interval
    /// ring's oldest pass, once it has dropped one (each keeps the extra passes after it).
    pub(crate) fn raw_complete_from(&self) -> u64 {
        let ring = &self.interval_passes;
        if ring.complete_from() == 0 {
            return 0;
        }
        let oldest = ring.pushed().saturating_sub(ring.capacity() as u64);
        match ring.get(oldest) {
            Some(s) => self.since_origin(s.taken_at),
            // Overwritten while being read: the newest pass bounds it.
            None => ring
                .get(ring.pushed().saturating_sub(1))
                .map_or(u64::MAX, |s| self.since_origin(s.taken_at)),
        }
    }

    /// Bytes the history holds: `(raw, levels)`. Snapshots shared with `latest` count here.
    pub(crate) fn heap_bytes(&self) -> (usize, usize) {
        let snapshot = |s: &Snapshot| {
            ARC_HEADER + std::mem::size_of::<Snapshot>() + crate::snapshot::heap_bytes(s)
        };
        let raw =
            self.interval_passes.heap_bytes(snapshot) + self.extra_passes.heap_bytes(snapshot);
        let levels = self.levels.iter().map(Level::heap_bytes).sum();
        (raw, levels)
    }
}

impl Covered {
    /// The fraction of the window covered, 0..1 (1 for an empty window).
    pub(crate) fn fraction(&self) -> f64 {
        if self.total == 0 {
            return 1.0;
        }
        (self.nanos as f64 / self.total as f64).min(1.0)
    }

    /// Whether part of the window is not covered.
    pub(crate) fn is_partial(&self) -> bool {
        self.nanos < self.total
    }
}
