//! Window statistics: min / max / mean of every figure over the snapshots in a time range.

use std::sync::Arc;
use std::time::Instant;

use crate::snapshot::{GpuSample, Snapshot};

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

    fn stats(&self) -> Option<Stats> {
        (self.count > 0).then(|| Stats {
            min: self.min,
            max: self.max,
            mean: self.sum / f64::from(self.count),
            count: self.count,
        })
    }
}

fn bytes(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
}

/// Statistics of every figure over the snapshots taken in a time range; see
/// [`Sampler::window`](crate::Sampler::window). A figure no snapshot had is `None`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Window {
    /// How many snapshots fell in the range.
    pub samples: u32,
    /// When the oldest of them was taken.
    pub first: Option<Instant>,
    /// When the newest of them was taken.
    pub last: Option<Instant>,
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
    /// One entry per GPU seen in the range, newest snapshot's order first.
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
    fn add(&mut self, g: &GpuSample) {
        self.memory_used.add(bytes(g.memory_used));
        self.memory_free.add(bytes(g.memory_free));
        self.utilization_gpu.add(g.utilization_gpu);
        self.memory_busy.add(g.memory_busy);
        self.temperature.add(g.temperature);
        self.power.add(g.power);
        self.energy.add(g.energy);
        self.process_memory.add(bytes(g.process_memory));
    }
}

impl WindowBuilder {
    pub(crate) fn add(&mut self, s: &Snapshot) {
        self.samples += 1;
        self.first = Some(self.first.map_or(s.taken_at, |t| t.min(s.taken_at)));
        self.last = Some(self.last.map_or(s.taken_at, |t| t.max(s.taken_at)));
        self.cpu_utilization.add(s.host.cpu_utilization);
        self.load_average_1m.add(s.host.load_average_1m);
        self.memory_used.add(bytes(s.host.memory_used));
        self.memory_available.add(bytes(s.host.memory_available));
        self.process_cpu_time.add(s.process.cpu_time);
        self.process_resident_memory
            .add(bytes(s.process.resident_memory));
        self.process_virtual_memory
            .add(bytes(s.process.virtual_memory));
        for g in &s.gpus {
            let slot = match self.gpus.iter().position(|(_, uuid, _)| *uuid == g.uuid) {
                Some(i) => i,
                None => {
                    self.gpus
                        .push((g.index, g.uuid.clone(), GpuAccumulator::default()));
                    self.gpus.len() - 1
                }
            };
            self.gpus[slot].2.add(g);
        }
    }

    pub(crate) fn finish(self) -> Window {
        Window {
            samples: self.samples,
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
