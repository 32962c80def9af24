//! Window statistics: min / max / mean of every figure over the passes in a time range, from
//! the raw snapshots and the buckets of the history's levels.

use std::sync::Arc;
use std::time::Instant;

use super::history::{gpu_figure, host_figure, Bucket, Covered, Figures, Fold};
use crate::snapshot::{GpuSample, GpuTier, Snapshot};

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

/// Running min / max / sum of one figure.
#[derive(Debug, Clone, Copy, Default)]
struct Accumulator {
    min: f64,
    max: f64,
    sum: f64,
    count: u32,
}

impl Accumulator {
    fn add(&mut self, value: Option<f64>) {
        let Some(v) = value else { return };
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.sum += v;
        self.count += 1;
    }

    /// Adds figure `i` of a bucket.
    fn merge<const N: usize>(&mut self, f: &Figures<N>, i: usize) {
        if f.count[i] == 0 {
            return;
        }
        if self.count == 0 {
            self.min = f.min[i];
            self.max = f.max[i];
        } else {
            self.min = self.min.min(f.min[i]);
            self.max = self.max.max(f.max[i]);
        }
        self.sum += f.sum[i];
        self.count += f.count[i];
    }

    fn stats(&self) -> Option<Stats> {
        (self.count > 0).then(|| Stats {
            min: self.min,
            max: self.max,
            mean: self.sum / f64::from(self.count),
            count: self.count,
        })
    }
}

fn as_f64(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
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
}

#[derive(Default)]
pub(crate) struct WindowBuilder {
    samples: u32,
    first: Option<Instant>,
    last: Option<Instant>,
    cpu_utilization: Accumulator,
    load_average_1m: Accumulator,
    memory_used: Accumulator,
    memory_available: Accumulator,
    process_cpu_time: Accumulator,
    process_resident_memory: Accumulator,
    process_virtual_memory: Accumulator,
    gpus: Vec<(u32, Arc<str>, GpuAccumulator)>,
}

#[derive(Default)]
struct GpuAccumulator {
    memory_used: Accumulator,
    memory_free: Accumulator,
    utilization_gpu: Accumulator,
    memory_busy: Accumulator,
    temperature: Accumulator,
    power: Accumulator,
    energy: Accumulator,
    process_memory: Accumulator,
}

impl GpuAccumulator {
    /// Each tier's figures only where this pass read them.
    fn add(&mut self, g: &GpuSample) {
        if g.is_fresh(GpuTier::Energy) {
            self.energy.add(g.energy);
        }
        if !g.is_fresh(GpuTier::Fast) {
            return;
        }
        self.memory_used.add(as_f64(g.memory_used));
        self.memory_free.add(as_f64(g.memory_free));
        self.utilization_gpu.add(g.utilization_gpu);
        self.memory_busy.add(g.memory_busy);
        self.temperature.add(g.temperature);
        self.power.add(g.power);
        self.process_memory.add(as_f64(g.process_memory));
    }
}

impl GpuAccumulator {
    fn merge(&mut self, f: &Figures<{ gpu_figure::N }>) {
        use gpu_figure::*;
        self.memory_used.merge(f, MEMORY_USED);
        self.memory_free.merge(f, MEMORY_FREE);
        self.utilization_gpu.merge(f, UTILIZATION);
        self.memory_busy.merge(f, MEMORY_BUSY);
        self.temperature.merge(f, TEMPERATURE);
        self.power.merge(f, POWER);
        self.energy.merge(f, ENERGY);
        self.process_memory.merge(f, PROCESS_MEMORY);
    }
}

impl Fold for WindowBuilder {
    fn snapshot(&mut self, s: &Snapshot) {
        self.add(s);
    }

    fn bucket(&mut self, b: &Bucket) {
        use host_figure::*;
        self.samples += b.samples;
        self.first = Some(self.first.map_or(b.first, |t| t.min(b.first)));
        self.last = Some(self.last.map_or(b.last, |t| t.max(b.last)));
        let h = &b.host;
        self.cpu_utilization.merge(h, CPU_UTILIZATION);
        self.load_average_1m.merge(h, LOAD_1M);
        self.memory_used.merge(h, MEMORY_USED);
        self.memory_available.merge(h, MEMORY_AVAILABLE);
        self.process_cpu_time.merge(h, PROCESS_CPU_TIME);
        self.process_resident_memory.merge(h, RESIDENT);
        self.process_virtual_memory.merge(h, VIRTUAL);
        for g in &b.gpus {
            let slot = self.gpu_slot(g.index, &g.uuid);
            self.gpus[slot].2.merge(&g.figures);
        }
    }
}

impl WindowBuilder {
    fn gpu_slot(&mut self, index: u32, uuid: &Arc<str>) -> usize {
        match self.gpus.iter().position(|(_, u, _)| u == uuid) {
            Some(i) => i,
            None => {
                self.gpus
                    .push((index, uuid.clone(), GpuAccumulator::default()));
                self.gpus.len() - 1
            }
        }
    }

    pub(crate) fn add(&mut self, s: &Snapshot) {
        self.samples += 1;
        self.first = Some(self.first.map_or(s.taken_at, |t| t.min(s.taken_at)));
        self.last = Some(self.last.map_or(s.taken_at, |t| t.max(s.taken_at)));
        // A measurement carried from an earlier pass is counted where it was fresh.
        self.cpu_utilization
            .add(s.host.cpu_utilization.filter(|_| s.host.cpu_is_fresh()));
        self.load_average_1m.add(s.host.load_average_1m);
        self.memory_used.add(as_f64(s.host.memory_used));
        self.memory_available.add(as_f64(s.host.memory_available));
        self.process_cpu_time.add(s.process.cpu_time);
        self.process_resident_memory
            .add(as_f64(s.process.resident_memory));
        self.process_virtual_memory
            .add(as_f64(s.process.virtual_memory));
        for g in &s.gpus {
            let slot = self.gpu_slot(g.index, &g.uuid);
            self.gpus[slot].2.add(g);
        }
    }

    /// The window, with what the history covered of it.
    pub(crate) fn finish(mut self, covered: Covered) -> Window {
        self.gpus.sort_by_key(|(index, _, _)| *index);
        Window {
            samples: self.samples,
            coverage: covered.fraction(),
            covered: covered.range,
            first: self.first,
            last: self.last,
            cpu_utilization: self.cpu_utilization.stats(),
            load_average_1m: self.load_average_1m.stats(),
            memory_used: self.memory_used.stats(),
            memory_available: self.memory_available.stats(),
            process_cpu_time: self.process_cpu_time.stats(),
            process_resident_memory: self.process_resident_memory.stats(),
            process_virtual_memory: self.process_virtual_memory.stats(),
            gpus: self
                .gpus
                .into_iter()
                .map(|(index, uuid, a)| GpuWindow {
                    index,
                    uuid,
                    memory_used: a.memory_used.stats(),
                    memory_free: a.memory_free.stats(),
                    utilization_gpu: a.utilization_gpu.stats(),
                    memory_busy: a.memory_busy.stats(),
                    temperature: a.temperature.stats(),
                    power: a.power.stats(),
                    energy: a.energy.stats(),
                    process_memory: a.process_memory.stats(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulator_skips_absent_values() {
        let mut a = Accumulator::default();
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
        assert_eq!(Accumulator::default().stats(), None);
    }
}
