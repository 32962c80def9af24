//! Window statistics: min / max / mean of every figure over the passes in a time range, from
//! the raw snapshots and the buckets of the history's levels.

use std::sync::Arc;
use std::time::Instant;

use super::{Bucket, Covered, Fold};
use crate::snapshot::catalogue::{GpuFigure, HostFigure, Kind, Stat};
use crate::snapshot::Snapshot;

/// Minimum, maximum and mean of one figure over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean over the samples that had the figure.
    pub mean: f64,
    /// How many samples had the figure.
    pub count: u32,
}

impl Stat {
    /// The public statistics, when it holds any value.
    fn stats(&self) -> Option<Stats> {
        self.mean().map(|mean| Stats {
            min: self.min,
            max: self.max,
            mean,
            count: self.count,
        })
    }
}

/// Statistics of every figure over the snapshots taken in a time range; see
/// [`Sampler::window`](crate::sampler::Sampler::window). A figure no snapshot had is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Window {
    /// How many passes of the covered part of the range the figures hold.
    pub samples: u32,
    /// When the oldest of them was taken.
    pub first: Option<Instant>,
    /// When the newest of them was taken.
    pub last: Option<Instant>,
    /// The fraction of the range (from the sampler's first pass on) the figures cover, 0..1:
    /// below 1 when the range reaches past the oldest data the history keeps. The figures
    /// are then those of the covered part only (`covered`), never passed off as the range's.
    pub coverage: f64,
    /// The first and last instant covered, when any part is.
    pub covered: Option<(Instant, Instant)>,
    /// Host CPU utilization, 0..1.
    pub cpu_utilization: Option<Stats>,
    /// Host 1-minute load average.
    pub load_average_1m: Option<Stats>,
    /// Host memory in use, bytes.
    pub memory_used: Option<Stats>,
    /// Host memory available, bytes.
    pub memory_available: Option<Stats>,
    /// This process's CPU time, seconds (max - min is the CPU time used inside the window).
    pub process_cpu_time: Option<Stats>,
    /// This process's resident memory, bytes.
    pub process_resident_memory: Option<Stats>,
    /// This process's virtual memory, bytes.
    pub process_virtual_memory: Option<Stats>,
    /// One entry per GPU seen in the range, in CUDA order.
    pub gpus: Vec<GpuWindow>,
    /// Every host and process figure of the catalogue, in its order.
    figures: [Option<Stats>; HostFigure::N],
}

impl Window {
    /// The statistics of the host or process figure with this name (its metric's name, e.g.
    /// `process.memory.usage`), for every figure the sampler keeps, the fields above and any
    /// other.
    pub fn figure(&self, name: &str) -> Option<Stats> {
        HostFigure::named(name).and_then(|f| self.figures[f as usize])
    }

    /// How much of a counter (`process.cpu.time`) the window's passes saw used: its largest
    /// reading minus its smallest. `None` for a figure that is not a counter, or that no pass
    /// had.
    pub fn used(&self, name: &str) -> Option<f64> {
        let f = HostFigure::named(name)?;
        used(f.figure().kind, self.figures[f as usize]?)
    }
}

/// Statistics of one GPU's figures over a window.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GpuWindow {
    /// CUDA ordinal.
    pub index: u32,
    /// Device UUID.
    pub uuid: Arc<str>,
    /// Device memory used, bytes.
    pub memory_used: Option<Stats>,
    /// Device memory free, bytes.
    pub memory_free: Option<Stats>,
    /// GPU utilization, 0..1.
    pub utilization_gpu: Option<Stats>,
    /// Share of time device memory was read or written, 0..1 (see `GpuSample::memory_busy`).
    pub memory_busy: Option<Stats>,
    /// Temperature, °C.
    pub temperature: Option<Stats>,
    /// Power, W.
    pub power: Option<Stats>,
    /// Energy counter, J (max - min is the energy used inside the window).
    pub energy: Option<Stats>,
    /// This process's device memory, bytes.
    pub process_memory: Option<Stats>,
    /// Every figure of the catalogue for this GPU, in its order.
    figures: [Option<Stats>; GpuFigure::N],
}

impl GpuWindow {
    /// The statistics of this GPU's figure with this name (e.g. `hw.gpu.memory.usage`,
    /// `resmon.gpu.clock.sm`), for every figure the history keeps (`None` for the ones only
    /// exported, such as the encoder's use).
    pub fn figure(&self, name: &str) -> Option<Stats> {
        GpuFigure::named(name).and_then(|f| self.figures[f as usize])
    }

    /// How much of a counter (`hw.energy`) the window's passes saw used, as [`Window::used`].
    pub fn used(&self, name: &str) -> Option<f64> {
        let f = GpuFigure::named(name)?;
        used(f.figure().kind, self.figures[f as usize]?)
    }
}

/// A counter's use over a window: its largest reading minus its smallest.
fn used(kind: Kind, s: Stats) -> Option<f64> {
    (kind == Kind::Counter).then_some(s.max - s.min)
}

pub(crate) struct WindowBuilder {
    samples: u32,
    first: Option<Instant>,
    last: Option<Instant>,
    /// The history's kept rows, in their slots (as a bucket's).
    host: [Stat; HostFigure::KEPT],
    gpus: Vec<(u32, Arc<str>, [Stat; GpuFigure::KEPT])>,
}

impl Default for WindowBuilder {
    fn default() -> Self {
        Self {
            samples: 0,
            first: None,
            last: None,
            host: [Stat::default(); HostFigure::KEPT],
            gpus: Vec::new(),
        }
    }
}

impl Fold for WindowBuilder {
    fn snapshot(&mut self, s: &Snapshot) {
        self.add(s);
    }

    fn bucket(&mut self, b: &Bucket) {
        self.samples += b.samples;
        self.first = Some(self.first.map_or(b.first, |t| t.min(b.first)));
        self.last = Some(self.last.map_or(b.last, |t| t.max(b.last)));
        for (acc, stat) in self.host.iter_mut().zip(&b.host) {
            acc.merge(stat);
        }
        for g in &b.gpus {
            let slot = self.gpu_slot(g.index, &g.uuid);
            for (acc, stat) in self.gpus[slot].2.iter_mut().zip(&g.figures) {
                acc.merge(stat);
            }
        }
    }
}

impl WindowBuilder {
    fn gpu_slot(&mut self, index: u32, uuid: &Arc<str>) -> usize {
        match self.gpus.iter().position(|(_, u, _)| u == uuid) {
            Some(i) => i,
            None => {
                self.gpus
                    .push((index, uuid.clone(), [Stat::default(); GpuFigure::KEPT]));
                self.gpus.len() - 1
            }
        }
    }

    /// Folds one pass in: each figure as the catalogue reads it.
    pub(crate) fn add(&mut self, s: &Snapshot) {
        self.samples += 1;
        self.first = Some(self.first.map_or(s.taken_at, |t| t.min(s.taken_at)));
        self.last = Some(self.last.map_or(s.taken_at, |t| t.max(s.taken_at)));
        for f in HostFigure::ALL {
            if let Some(k) = f.kept_slot() {
                self.host[k].add(f.figure().value(s));
            }
        }
        for g in &s.gpus {
            let slot = self.gpu_slot(g.index, &g.uuid);
            for f in GpuFigure::ALL {
                if let Some(k) = f.kept_slot() {
                    self.gpus[slot].2[k].add(f.figure().value(g));
                }
            }
        }
    }

    /// The window, with what the history covered of it.
    pub(crate) fn finish(mut self, covered: Covered) -> Window {
        use GpuFigure as G;
        use HostFigure as H;
        self.gpus.sort_by_key(|(index, _, _)| *index);
        let kept = self.host;
        let host = HostFigure::ALL.map(|f| f.kept_slot().and_then(|k| kept[k].stats()));
        Window {
            samples: self.samples,
            coverage: covered.fraction(),
            covered: covered.range,
            first: self.first,
            last: self.last,
            cpu_utilization: host[H::CpuUtilization as usize],
            load_average_1m: host[H::Load1m as usize],
            memory_used: host[H::MemoryUsed as usize],
            memory_available: host[H::MemoryAvailable as usize],
            process_cpu_time: host[H::ProcessCpuTime as usize],
            process_resident_memory: host[H::Resident as usize],
            process_virtual_memory: host[H::Virtual as usize],
            figures: host,
            gpus: self
                .gpus
                .into_iter()
                .map(|(index, uuid, kept)| {
                    let f = GpuFigure::ALL.map(|f| f.kept_slot().and_then(|k| kept[k].stats()));
                    GpuWindow {
                        index,
                        uuid,
                        memory_used: f[G::MemoryUsed as usize],
                        memory_free: f[G::MemoryFree as usize],
                        utilization_gpu: f[G::Utilization as usize],
                        memory_busy: f[G::MemoryBusy as usize],
                        temperature: f[G::Temperature as usize],
                        power: f[G::Power as usize],
                        energy: f[G::Energy as usize],
                        process_memory: f[G::ProcessMemory as usize],
                        figures: f,
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_skip_absent_values() {
        let mut a = Stat::default();
        for v in [Some(3.0), None, Some(1.0), Some(5.0)] {
            a.add(v);
        }
        assert_eq!(
            a.stats(),
            Some(Stats {
                min: 1.0,
                max: 5.0,
                mean: 3.0,
                count: 3
            })
        );
        assert_eq!(Stat::default().stats(), None);
    }
}
