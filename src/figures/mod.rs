//! What a span did to the machine: attributes from its start and end snapshots and the
//! snapshots in between, plus pressure events. One implementation for every entry point (the
//! tracing layer and the tower layer), so the figures mean the same everywhere.

mod pressure;
mod span_window;

use std::sync::Arc;

use opentelemetry::{KeyValue, Value};

pub(crate) use pressure::PressureEvent;
pub use pressure::PressureThresholds;
use span_window::SpanWindow;

use crate::keys::{self, GpuKeys};
use crate::snapshot::{DeviceState, GpuSample, Snapshot};
use crate::Sampler;

/// Which figures a span carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FigureSet {
    /// GPU memory (device and this process) start / end / delta / peak and utilization peak /
    /// mean per GPU; process CPU time delta and RSS start / end / delta; host memory used and
    /// CPU utilization at end; GPU count and status; sample age. About 20 attributes with one
    /// GPU.
    #[default]
    Compact,
    /// Everything in `Compact`, plus per GPU memory limit, lowest free memory, this process's
    /// peak, memory-controller utilization peak, temperature peak, power mean / peak, energy
    /// used; host memory used at start and lowest available, CPU utilization mean, load
    /// average; process RSS peak and virtual memory; the number of snapshots used.
    Full,
}

/// What to compute at a span's end.
#[derive(Debug, Clone, Default)]
pub(crate) struct FigureConfig {
    pub(crate) set: FigureSet,
    /// CUDA ordinals to report; `None` for every visible GPU.
    pub(crate) gpus: Option<Arc<[u32]>>,
    pub(crate) pressure: Option<PressureThresholds>,
}

/// Attributes and events for one span, written in one batch by the caller.
#[derive(Debug, Default)]
pub(crate) struct SpanFigures {
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) events: Vec<PressureEvent>,
}

fn bytes(v: u64) -> Value {
    Value::I64(i64::try_from(v).unwrap_or(i64::MAX))
}

fn bytes_delta(start: u64, end: u64) -> Value {
    Value::I64((i128::from(end) - i128::from(start)).clamp(i64::MIN.into(), i64::MAX.into()) as i64)
}

impl FigureConfig {
    fn reports(&self, gpu: &GpuSample) -> bool {
        self.gpus
            .as_ref()
            .is_none_or(|list| list.contains(&gpu.index))
    }

    /// Computes a span's figures from its start and end snapshots and the sampler's history
    /// in between. `span_cpu_time` is the span's own thread CPU time when that is measured.
    pub(crate) fn compute(
        &self,
        sampler: &Sampler,
        start: &Snapshot,
        end: &Snapshot,
        span_cpu_time: Option<f64>,
    ) -> SpanFigures {
        let window = SpanWindow::fold(sampler, start, end);
        let full = self.set == FigureSet::Full;
        let mut a = Vec::with_capacity(if full {
            24 + 18 * end.gpus.len()
        } else {
            12 + 10 * end.gpus.len()
        });
        let mut put =
            |key: &opentelemetry::Key, value: Value| a.push(KeyValue::new(key.clone(), value));

        put(&keys::SAMPLE_AGE, Value::F64(end.age().as_secs_f64()));
        put(&keys::GPU_COUNT, Value::I64(end.gpus.len() as i64));
        put(&keys::GPU_STATUS, Value::from(end.gpu_status.as_str()));
        if full {
            put(&keys::SAMPLE_COUNT, Value::I64(i64::from(window.samples)));
        }

        let (ps, pe) = (&start.process, &end.process);
        if let (Some(s), Some(e)) = (ps.cpu_time, pe.cpu_time) {
            put(&keys::PROCESS_CPU_TIME_DELTA, Value::F64((e - s).max(0.0)));
        }
        if let Some(t) = span_cpu_time {
            put(&keys::SPAN_CPU_TIME, Value::F64(t));
        }
        if let Some(s) = ps.resident_memory {
            put(&keys::PROCESS_MEMORY_START, bytes(s));
        }
        if let Some(e) = pe.resident_memory {
            put(&keys::PROCESS_MEMORY_END, bytes(e));
        }
        if let (Some(s), Some(e)) = (ps.resident_memory, pe.resident_memory) {
            put(&keys::PROCESS_MEMORY_DELTA, bytes_delta(s, e));
        }
        if let Some(m) = end.host.memory_used {
            put(&keys::SYSTEM_MEMORY_END, bytes(m));
        }
        if let Some(u) = end.host.cpu_utilization {
            put(&keys::SYSTEM_CPU_UTILIZATION_END, Value::F64(u));
        }
        if full {
            if let Some(p) = window.rss_peak {
                put(&keys::PROCESS_MEMORY_PEAK, bytes(p));
            }
            if let Some(v) = pe.virtual_memory {
                put(&keys::PROCESS_VIRTUAL_END, bytes(v));
            }
            if let Some(m) = start.host.memory_used {
                put(&keys::SYSTEM_MEMORY_START, bytes(m));
            }
            if let Some((m, _)) = window.available_min {
                put(&keys::SYSTEM_MEMORY_AVAILABLE_MIN, bytes(m));
            }
            if let Some(mean) = window.cpu_utilization.mean() {
                put(&keys::SYSTEM_CPU_UTILIZATION_MEAN, Value::F64(mean));
            }
            if let Some(l) = end.host.load_average_1m {
                put(&keys::SYSTEM_LOAD_AVERAGE_END, Value::F64(l));
            }
        }

        for (j, g) in end.gpus.iter().enumerate() {
            if !self.reports(g) {
                continue;
            }
            let k = GpuKeys::of(g.index);
            let s = start
                .gpus
                .get(j)
                .filter(|s| s.uuid == g.uuid)
                .or_else(|| start.gpus.iter().find(|s| s.uuid == g.uuid));
            let w = &window.gpus[j];
            match &g.state {
                DeviceState::Ok => {}
                DeviceState::Lost => put(&k.state, Value::from("lost")),
                DeviceState::Error(_) => put(&k.state, Value::from("error")),
            }
            if let Some(v) = s.and_then(|s| s.memory_used) {
                put(&k.memory_start, bytes(v));
            }
            if let Some(v) = g.memory_used {
                put(&k.memory_end, bytes(v));
            }
            if let (Some(s), Some(e)) = (s.and_then(|s| s.memory_used), g.memory_used) {
                put(&k.memory_delta, bytes_delta(s, e));
            }
            if let Some(v) = w.memory_used.max {
                put(&k.memory_peak, bytes(v as u64));
            }
            if let Some(v) = s.and_then(|s| s.process_memory) {
                put(&k.process_memory_start, bytes(v));
            }
            if let Some(v) = g.process_memory {
                put(&k.process_memory_end, bytes(v));
            }
            if let (Some(s), Some(e)) = (s.and_then(|s| s.process_memory), g.process_memory) {
                put(&k.process_memory_delta, bytes_delta(s, e));
            }
            if let Some(v) = w.utilization.max {
                put(&k.utilization_peak, Value::F64(v));
            }
            if let Some(v) = w.utilization.mean() {
                put(&k.utilization_mean, Value::F64(v));
            }
            if full {
                if let Some(v) = g.memory_total {
                    put(&k.memory_limit, bytes(v));
                }
                if let Some((v, _)) = w.free_min {
                    put(&k.memory_free_min, bytes(v));
                }
                if let Some(v) = w.process_memory.max {
                    put(&k.process_memory_peak, bytes(v as u64));
                }
                if let Some(v) = w.memory_utilization.max {
                    put(&k.memory_utilization_peak, Value::F64(v));
                }
                if let Some(v) = w.temperature.max {
                    put(&k.temperature_peak, Value::F64(v));
                }
                if let Some(v) = w.power.mean() {
                    put(&k.power_mean, Value::F64(v));
                }
                if let Some(v) = w.power.max {
                    put(&k.power_peak, Value::F64(v));
                }
                if let (Some(s), Some(e)) = (s.and_then(|s| s.energy), g.energy) {
                    put(&k.energy_delta, Value::F64((e - s).max(0.0)));
                }
            }
        }

        let events = match &self.pressure {
            Some(thresholds) => thresholds.events(end, &window, |g| self.reports(g)),
            None => Vec::new(),
        };
        SpanFigures {
            attributes: a,
            events,
        }
    }
}
