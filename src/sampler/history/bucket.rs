//! A bucket: per figure the min, max, sum and count of every pass that fell in one stretch of
//! time, so a window can take whole stretches without their snapshots.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::snapshot::{position_by_uuid, GpuSample, GpuTier, Snapshot};

/// Min / max / sum / count of `N` figures, kept side by side (28 bytes a figure).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Figures<const N: usize> {
    pub(crate) min: [f64; N],
    pub(crate) max: [f64; N],
    pub(crate) sum: [f64; N],
    pub(crate) count: [u32; N],
}

impl<const N: usize> Default for Figures<N> {
    fn default() -> Self {
        Self {
            min: [f64::INFINITY; N],
            max: [f64::NEG_INFINITY; N],
            sum: [0.0; N],
            count: [0; N],
        }
    }
}

impl<const N: usize> Figures<N> {
    /// Adds one value of figure `i`; returns whether it is a new low.
    pub(crate) fn add(&mut self, i: usize, v: Option<f64>) -> bool {
        let Some(v) = v else { return false };
        let low = v < self.min[i];
        self.min[i] = self.min[i].min(v);
        self.max[i] = self.max[i].max(v);
        self.sum[i] += v;
        self.count[i] += 1;
        low
    }
}

/// The host and process figures a bucket keeps, by position.
pub(crate) mod host {
    pub(crate) const CPU_UTILIZATION: usize = 0;
    pub(crate) const LOAD_1M: usize = 1;
    pub(crate) const MEMORY_USED: usize = 2;
    pub(crate) const MEMORY_AVAILABLE: usize = 3;
    pub(crate) const PROCESS_CPU_TIME: usize = 4;
    pub(crate) const RESIDENT: usize = 5;
    pub(crate) const VIRTUAL: usize = 6;
    /// The cgroup's headroom under its memory limit (limit − working set).
    pub(crate) const CONTAINER_HEADROOM: usize = 7;
    pub(crate) const N: usize = 8;
}

/// The figures of one GPU a bucket keeps, by position.
pub(crate) mod gpu {
    pub(crate) const MEMORY_USED: usize = 0;
    pub(crate) const MEMORY_FREE: usize = 1;
    pub(crate) const UTILIZATION: usize = 2;
    pub(crate) const MEMORY_BUSY: usize = 3;
    pub(crate) const TEMPERATURE: usize = 4;
    pub(crate) const POWER: usize = 5;
    pub(crate) const ENERGY: usize = 6;
    pub(crate) const PROCESS_MEMORY: usize = 7;
    pub(crate) const CLOCK_SM: usize = 8;
    pub(crate) const N: usize = 9;
}

fn as_f64(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
}

/// Every pass that fell in `[start, start + width)` of one level.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Index of the stretch on its level (time since the origin / width).
    pub(crate) index: u64,
    pub(crate) samples: u32,
    /// When the first and the last of its passes were taken.
    pub(crate) first: Instant,
    pub(crate) last: Instant,
    pub(crate) host: Figures<{ host::N }>,
    /// When host available memory and container headroom were lowest.
    pub(crate) available_low_at: SystemTime,
    pub(crate) headroom_low_at: SystemTime,
    pub(crate) gpus: Vec<GpuBucket>,
}

/// One GPU's figures in a bucket.
#[derive(Debug, Clone)]
pub(crate) struct GpuBucket {
    pub(crate) uuid: Arc<str>,
    pub(crate) index: u32,
    pub(crate) figures: Figures<{ gpu::N }>,
    /// When free device memory was lowest.
    pub(crate) free_low_at: SystemTime,
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
            host: Figures::default(),
            available_low_at: s.wall_time,
            headroom_low_at: s.wall_time,
            gpus: Vec::with_capacity(s.gpus.len()),
        };
        bucket.add(s);
        bucket
    }

    /// Folds one pass in.
    pub(crate) fn add(&mut self, s: &Snapshot) {
        use host::*;
        self.samples += 1;
        self.first = self.first.min(s.taken_at);
        self.last = self.last.max(s.taken_at);
        let h = &mut self.host;
        // A measurement carried from an earlier pass is counted where it was fresh.
        h.add(
            CPU_UTILIZATION,
            s.host.cpu_utilization.filter(|_| s.host.cpu_is_fresh()),
        );
        h.add(LOAD_1M, s.host.load_average_1m);
        h.add(MEMORY_USED, as_f64(s.host.memory_used));
        if h.add(MEMORY_AVAILABLE, as_f64(s.host.memory_available)) {
            self.available_low_at = s.wall_time;
        }
        h.add(PROCESS_CPU_TIME, s.process.cpu_time);
        h.add(RESIDENT, as_f64(s.process.resident_memory));
        h.add(VIRTUAL, as_f64(s.process.virtual_memory));
        let headroom = s.container.as_ref().and_then(|c| c.memory_available());
        if h.add(CONTAINER_HEADROOM, as_f64(headroom)) {
            self.headroom_low_at = s.wall_time;
        }
        for (j, g) in s.gpus.iter().enumerate() {
            let at = match position_by_uuid(&self.gpus, j, &g.uuid, |b| &b.uuid) {
                Some(i) => i,
                None => {
                    self.gpus.push(GpuBucket {
                        uuid: g.uuid.clone(),
                        index: g.index,
                        figures: Figures::default(),
                        free_low_at: s.wall_time,
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

    /// Heap bytes this bucket holds beyond its own size.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.gpus.capacity() * std::mem::size_of::<GpuBucket>()
    }
}

impl GpuBucket {
    /// Folds one pass's sample in: each tier's figures only where this pass read them (a
    /// figure carried from an earlier read is not a new reading).
    fn add(&mut self, g: &GpuSample, wall: SystemTime) {
        use gpu::*;
        let f = &mut self.figures;
        if g.is_fresh(GpuTier::Energy) {
            f.add(ENERGY, g.energy);
        }
        if !g.is_fresh(GpuTier::Fast) {
            return;
        }
        f.add(MEMORY_USED, as_f64(g.memory_used));
        if f.add(MEMORY_FREE, as_f64(g.memory_free)) {
            self.free_low_at = wall;
        }
        f.add(UTILIZATION, g.utilization_gpu);
        f.add(MEMORY_BUSY, g.memory_busy);
        f.add(TEMPERATURE, g.temperature);
        f.add(POWER, g.power);
        f.add(PROCESS_MEMORY, as_f64(g.process_memory));
        f.add(CLOCK_SM, g.condition.clock_sm_mhz.map(f64::from));
        if let Some(r) = g.condition.clock_event_reasons {
            self.clock_event_reasons |= r.0;
        }
    }
}

/// What a window folds: whole snapshots at its edges, whole buckets inside.
pub(crate) trait Fold {
    fn snapshot(&mut self, s: &Snapshot);
    fn bucket(&mut self, b: &Bucket);
}
