//! A bucket: per figure the min, max, sum and count of every pass that fell in one stretch of
//! time, so a window can take whole stretches without their snapshots.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::snapshot::catalogue::{GpuFigure, HostFigure, Stat};
use crate::snapshot::{position_by_uuid, GpuSample, GpuTier, Snapshot};

/// Every pass that fell in `[start, start + width)` of one level: per figure of the catalogue
/// ([`HostFigure`], [`GpuFigure`]) its statistics, and when the figures whose low's time is
/// kept were lowest.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Index of the stretch on its level (time since the origin / width).
    pub(crate) index: u64,
    pub(crate) samples: u32,
    /// When the first and the last of its passes were taken.
    pub(crate) first: Instant,
    pub(crate) last: Instant,
    /// The kept rows' statistics ([`HostFigure::kept_slot`]).
    pub(crate) host: [Stat; HostFigure::KEPT],
    /// When each host figure that keeps its low's time was lowest ([`HostFigure::low_slot`]).
    pub(crate) host_low_at: [SystemTime; HostFigure::LOWS],
    pub(crate) gpus: Vec<GpuBucket>,
}

/// One GPU's figures in a bucket.
#[derive(Debug, Clone)]
pub(crate) struct GpuBucket {
    pub(crate) uuid: Arc<str>,
    pub(crate) index: u32,
    /// The kept rows' statistics ([`GpuFigure::kept_slot`]).
    pub(crate) figures: [Stat; GpuFigure::KEPT],
    /// When each figure that keeps its low's time was lowest ([`GpuFigure::low_slot`]).
    pub(crate) low_at: [SystemTime; GpuFigure::LOWS],
    /// Every clock-event reason bit seen in the bucket's passes.
    pub(crate) clock_event_reasons: u64,
}

impl Bucket {
    pub(crate) fn new(index: u64, s: &Snapshot) -> Self {
        let mut bucket = Self {
            index,
            samples: 0,
            first: s.taken_at,
            last: s.taken_at,
            host: [Stat::default(); HostFigure::KEPT],
            host_low_at: [s.wall_time; HostFigure::LOWS],
            gpus: Vec::with_capacity(s.gpus.len()),
        };
        bucket.add(s);
        bucket
    }

    /// Folds one pass in: each figure as the catalogue reads it (a measurement carried from
    /// an earlier pass is counted where it was fresh).
    pub(crate) fn add(&mut self, s: &Snapshot) {
        self.samples += 1;
        self.first = self.first.min(s.taken_at);
        self.last = self.last.max(s.taken_at);
        for (k, f) in HostFigure::KEPT_ROWS.into_iter().enumerate() {
            let low = self.host[k].add(f.figure().value(s));
            if let (true, Some(slot)) = (low, f.low_slot()) {
                self.host_low_at[slot] = s.wall_time;
            }
        }
        for (j, g) in s.gpus.iter().enumerate() {
            let at = match position_by_uuid(&self.gpus, j, &g.uuid, |b| &b.uuid) {
                Some(i) => i,
                None => {
                    self.gpus.push(GpuBucket {
                        uuid: g.uuid.clone(),
                        index: g.index,
                        figures: [Stat::default(); GpuFigure::KEPT],
                        low_at: [s.wall_time; GpuFigure::LOWS],
                        clock_event_reasons: 0,
                    });
                    self.gpus.len() - 1
                }
            };
            self.gpus[at].add(g, s.wall_time);
        }
    }

    /// The GPU with this UUID, looked for first at position `j`.
    pub(crate) fn gpu(&self, j: usize, uuid: &Arc<str>) -> Option<&GpuBucket> {
        position_by_uuid(&self.gpus, j, uuid, |b| &b.uuid).map(|i| &self.gpus[i])
    }

    /// When host figure `f` was lowest in the bucket (for figures that keep it).
    pub(crate) fn host_low_at(&self, f: HostFigure) -> Option<SystemTime> {
        f.low_slot().map(|slot| self.host_low_at[slot])
    }

    /// Heap bytes this bucket holds beyond its own size.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.gpus.capacity() * std::mem::size_of::<GpuBucket>()
    }
}

impl GpuBucket {
    /// Folds one pass's sample in: each figure only where this pass read its tier (a figure
    /// carried from an earlier read is not a new reading).
    fn add(&mut self, g: &GpuSample, wall: SystemTime) {
        for (k, f) in GpuFigure::KEPT_ROWS.into_iter().enumerate() {
            let low = self.figures[k].add(f.figure().value(g));
            if let (true, Some(slot)) = (low, f.low_slot()) {
                self.low_at[slot] = wall;
            }
        }
        if let (true, Some(r)) = (g.is_fresh(GpuTier::Fast), g.condition.clock_event_reasons) {
            self.clock_event_reasons |= r.0;
        }
    }

    /// When figure `f` was lowest in the bucket (for figures that keep it).
    pub(crate) fn low_at(&self, f: GpuFigure) -> Option<SystemTime> {
        f.low_slot().map(|slot| self.low_at[slot])
    }
}

/// What a window folds: whole snapshots at its edges, whole buckets inside.
pub(crate) trait Fold {
    fn snapshot(&mut self, s: &Snapshot);
    fn bucket(&mut self, b: &Bucket);
}
