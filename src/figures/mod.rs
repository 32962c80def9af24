//! What a span did to the machine: attributes from its start and end snapshots and the
//! snapshots in between, plus pressure events. One implementation for every entry point (the
//! tracing layer and the tower layer), so the figures mean the same everywhere.

mod histograms;
mod pressure;
mod span_window;

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::trace::SpanRef;
use opentelemetry::{Key, KeyValue, Value};

#[cfg(feature = "tower")]
pub(crate) use histograms::observed;
pub(crate) use histograms::SpanHistograms;
#[cfg(feature = "tower")]
pub(crate) use histograms::{BYTE_BUCKETS, CPU_SECONDS};
pub use histograms::{SPAN_CPU_TIME, SPAN_GPU_MEMORY_PEAK, SPAN_MEMORY_GROWTH};
pub(crate) use pressure::PressureEvent;
pub use pressure::PressureThresholds;
use span_window::SpanSnapshots;

use crate::keys::{self, GpuKeys};
use crate::snapshot::{DeviceState, GpuSample, Snapshot};
use crate::Sampler;

/// Which figures a span carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FigureSet {
    /// Each figure's end and delta (its start is end minus delta), and peaks: per GPU device
    /// memory end / delta / peak, this process's GPU memory end / delta, utilization peak /
    /// mean; process CPU time delta, RSS end / delta; host memory used and CPU utilization at
    /// end; GPU count (and GPU status when it is not `ok`); sample age. 14 attributes with one
    /// GPU, 7 more per GPU.
    ///
    /// A span whose start and end read the same snapshot (it lies within one sampling
    /// interval) gets no deltas, GPU memory peak or utilization mean: nothing was observed
    /// between its ends, so each would be a made-up 0 or a copy of the value. 8 attributes
    /// with one GPU, 3 more per GPU.
    #[default]
    Compact,
    /// Everything in `Compact`, plus the explicit starts (GPU memory, this process's GPU
    /// memory, RSS, host memory used), and per GPU memory limit, lowest free memory, this
    /// process's peak, memory-controller utilization peak, temperature peak, power mean /
    /// peak, energy used; host lowest available memory, CPU utilization mean, load average;
    /// process RSS peak and virtual memory; the number of snapshots used. About 15 + 17 per
    /// GPU attributes: beyond 6 GPUs that passes the SDK's default limit of 128 attributes per
    /// span, so pick GPUs with `ResourceLayerBuilder::gpus` or raise the SDK's span limits.
    Full,
}

thread_local! {
    static BUFFER: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Each GPU's peak device memory between two snapshots (UUID, bytes), over the sampler's
/// history in between.
pub(crate) fn gpu_memory_peaks(
    sampler: &Sampler,
    start: &Snapshot,
    end: &Snapshot,
    reported: impl Fn(&GpuSample) -> bool,
) -> Vec<(Arc<str>, f64)> {
    let end = if end.seq < start.seq { start } else { end };
    let snapshots = SpanSnapshots {
        sampler,
        start,
        end,
    };
    end.gpus
        .iter()
        .enumerate()
        .filter(|(_, g)| reported(g))
        .filter_map(|(j, g)| {
            let peak = snapshots.gpu(j, &g.uuid, false).memory_used.max?;
            Some((g.uuid.clone(), peak))
        })
        .collect()
}

/// One span at its end: what the figures are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndedSpan<'a> {
    pub(crate) start: &'a Snapshot,
    pub(crate) end: &'a Snapshot,
    /// The span's own thread CPU time, when measured.
    pub(crate) cpu_time: Option<f64>,
    pub(crate) name: &'static str,
    /// Field values for the per-span histograms.
    pub(crate) metric_fields: &'a [KeyValue],
}

/// What to compute at a span's end.
#[derive(Debug, Clone, Default)]
pub(crate) struct FigureConfig {
    pub(crate) set: FigureSet,
    /// CUDA ordinals to report; `None` for every visible GPU.
    pub(crate) gpus: Option<Arc<[u32]>>,
    pub(crate) pressure: Option<PressureThresholds>,
    /// Per-span histograms, when a meter was given.
    pub(crate) histograms: Option<SpanHistograms>,
    /// Span fields whose values become histogram attributes (the user vouches that they
    /// are low-cardinality).
    pub(crate) metric_fields: Arc<[String]>,
}

fn bytes(v: u64) -> Num {
    Num::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

fn bytes_delta(start: u64, end: u64) -> Num {
    Num::Int(signed_delta(start, end))
}

/// `end - start` for byte counts, saturating at the ends of `i64`.
pub(crate) fn signed_delta(start: u64, end: u64) -> i64 {
    (i128::from(end) - i128::from(start)).clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

/// An attribute value before it becomes an OTel `Value`: small and `Copy`, so the figures are
/// gathered cheaply and turned into `KeyValue`s only as the SDK takes them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
    Str(&'static str),
}

impl From<Num> for Value {
    fn from(n: Num) -> Value {
        match n {
            Num::Int(v) => Value::I64(v),
            Num::Float(v) => Value::F64(v),
            Num::Str(v) => Value::from(v),
        }
    }
}

/// One attribute: a key that lives for the whole process and its value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    key: &'static Key,
    value: Num,
}

impl FigureConfig {
    fn reports(&self, gpu: &GpuSample) -> bool {
        self.gpus
            .as_ref()
            .is_none_or(|list| list.contains(&gpu.index))
    }

    /// Writes a span's figures to its OpenTelemetry span in one batch, with its pressure
    /// events, and `extra` attributes in the same batch; records the per-span histograms when
    /// configured.
    pub(crate) fn write(
        &self,
        sampler: &Sampler,
        ended: &EndedSpan<'_>,
        span: &SpanRef<'_>,
        extra: Vec<KeyValue>,
    ) {
        let EndedSpan {
            start,
            end,
            cpu_time: span_cpu_time,
            name: span_name,
            metric_fields,
        } = *ended;
        // A per-thread buffer, so a span end does not allocate once it has grown. Taken out
        // of the thread-local while in use: a re-entrant call finds it empty, not borrowed.
        let mut attributes = BUFFER
            .try_with(|b| std::mem::take(&mut *b.borrow_mut()))
            .unwrap_or_default();
        attributes.push(Entry {
            key: &keys::SAMPLE_AGE,
            value: Num::Float(end.age_coarse().as_secs_f64()),
        });
        if let Some(t) = span_cpu_time {
            attributes.push(Entry {
                key: &keys::SPAN_CPU_TIME,
                value: Num::Float(t),
            });
        }
        let events = self.compute(sampler, start, end, &mut attributes);
        self.record_histograms(sampler, start, end, span_name, metric_fields);
        span.set_attributes(
            attributes
                .drain(..)
                .map(|e| KeyValue::new(e.key.clone(), Value::from(e.value)))
                .chain(extra),
        );
        let _ = BUFFER.try_with(|b| *b.borrow_mut() = attributes);
        for event in events {
            span.add_event_with_timestamp(keys::PRESSURE_EVENT, event.at, event.attributes);
        }
    }

    /// Records the per-span histograms, when configured (for every span, sampled or not).
    pub(crate) fn record_histograms(
        &self,
        sampler: &Sampler,
        start: &Snapshot,
        end: &Snapshot,
        span_name: &'static str,
        metric_fields: &[KeyValue],
    ) {
        let Some(h) = &self.histograms else {
            return;
        };
        // A span whose ends read one snapshot observed nothing: a 0 would be made up (the
        // attributes follow the same rule).
        if !histograms::observed(start, end) {
            return;
        }
        let peaks = gpu_memory_peaks(sampler, start, end, |g| self.reports(g));
        h.record(span_name, metric_fields, start, end, &peaks);
    }

    /// The figures that depend only on the start and end snapshots (and the history between
    /// them), appended to `a`, and the pressure events.
    fn compute(
        &self,
        sampler: &Sampler,
        start: &Snapshot,
        end: &Snapshot,
        a: &mut Vec<Entry>,
    ) -> Vec<PressureEvent> {
        let snapshots = SpanSnapshots {
            sampler,
            start,
            end,
        };
        let host = snapshots.host();
        let mut events = Vec::new();
        let full = self.set == FigureSet::Full;
        // Both ends read the same snapshot (the span lies within one sampling interval):
        // nothing was observed between them, so there is no delta to report (0 would be made
        // up), and a peak or mean over one reading is the reading itself.
        let observed = histograms::observed(start, end);
        macro_rules! put {
            ($key:expr, $value:expr) => {
                a.push(Entry {
                    key: $key,
                    value: $value,
                })
            };
        }

        put!(&keys::GPU_COUNT, Num::Int(end.gpus.len() as i64));
        if end.gpu_status != crate::GpuStatus::Ok {
            put!(&keys::GPU_STATUS, Num::Str(end.gpu_status.as_str()));
        }
        if full {
            put!(&keys::SAMPLE_COUNT, Num::Int(i64::from(host.samples)));
        }

        let (ps, pe) = (&start.process, &end.process);
        if let (true, Some(s), Some(e)) = (observed, ps.cpu_time, pe.cpu_time) {
            put!(&keys::PROCESS_CPU_TIME_DELTA, Num::Float((e - s).max(0.0)));
        }
        if let (true, Some(s)) = (full, ps.resident_memory) {
            put!(&keys::PROCESS_MEMORY_START, bytes(s));
        }
        if let Some(e) = pe.resident_memory {
            put!(&keys::PROCESS_MEMORY_END, bytes(e));
        }
        if let (true, Some(s), Some(e)) = (observed, ps.resident_memory, pe.resident_memory) {
            put!(&keys::PROCESS_MEMORY_DELTA, bytes_delta(s, e));
        }
        if let Some(m) = end.host.memory_used {
            put!(&keys::SYSTEM_MEMORY_END, bytes(m));
        }
        if let Some(u) = end.host.cpu_utilization {
            put!(&keys::SYSTEM_CPU_UTILIZATION_END, Num::Float(u));
        }
        if full {
            if let Some(p) = host.rss_peak {
                put!(&keys::PROCESS_MEMORY_PEAK, bytes(p));
            }
            if let Some(v) = pe.virtual_memory {
                put!(&keys::PROCESS_VIRTUAL_END, bytes(v));
            }
            if let Some(m) = start.host.memory_used {
                put!(&keys::SYSTEM_MEMORY_START, bytes(m));
            }
            if let Some((m, _)) = host.available_min {
                put!(&keys::SYSTEM_MEMORY_AVAILABLE_MIN, bytes(m));
            }
            if let Some(mean) = host.cpu_utilization.mean() {
                put!(&keys::SYSTEM_CPU_UTILIZATION_MEAN, Num::Float(mean));
            }
            if let Some(l) = end.host.load_average_1m {
                put!(&keys::SYSTEM_LOAD_AVERAGE_END, Num::Float(l));
            }
        }

        for (j, g) in end.gpus.iter().enumerate() {
            if !self.reports(g) {
                continue;
            }
            let k = GpuKeys::of(g.index);
            let s = span_window::find(start, j, &g.uuid);
            let w = snapshots.gpu(j, &g.uuid, full);
            if let Some(thresholds) = &self.pressure {
                events.extend(thresholds.gpu_event(g, &w));
            }
            match &g.state {
                DeviceState::Ok => {}
                DeviceState::Lost => put!(&k.state, Num::Str("lost")),
                DeviceState::Error(_) => put!(&k.state, Num::Str("error")),
            }
            if let (true, Some(v)) = (full, s.and_then(|s| s.memory_used)) {
                put!(&k.memory_start, bytes(v));
            }
            if let Some(v) = g.memory_used {
                put!(&k.memory_end, bytes(v));
            }
            if let (true, Some(s), Some(e)) =
                (observed, s.and_then(|s| s.memory_used), g.memory_used)
            {
                put!(&k.memory_delta, bytes_delta(s, e));
            }
            if let (true, Some(v)) = (observed, w.memory_used.max) {
                put!(&k.memory_peak, bytes(v as u64));
            }
            if let (true, Some(v)) = (full, s.and_then(|s| s.process_memory)) {
                put!(&k.process_memory_start, bytes(v));
            }
            if let Some(v) = g.process_memory {
                put!(&k.process_memory_end, bytes(v));
            }
            if let (true, Some(s), Some(e)) =
                (observed, s.and_then(|s| s.process_memory), g.process_memory)
            {
                put!(&k.process_memory_delta, bytes_delta(s, e));
            }
            if let Some(v) = w.utilization.max {
                put!(&k.utilization_peak, Num::Float(v));
            }
            if let (true, Some(v)) = (observed, w.utilization.mean()) {
                put!(&k.utilization_mean, Num::Float(v));
            }
            if full {
                if let Some(v) = g.memory_total {
                    put!(&k.memory_limit, bytes(v));
                }
                if let Some((v, _)) = w.free_min {
                    put!(&k.memory_free_min, bytes(v));
                }
                if let Some(v) = w.process_memory.max {
                    put!(&k.process_memory_peak, bytes(v as u64));
                }
                if let Some(v) = w.memory_busy.max {
                    put!(&k.memory_busy_peak, Num::Float(v));
                }
                if let Some(v) = w.temperature.max {
                    put!(&k.temperature_peak, Num::Float(v));
                }
                if let Some(v) = w.power.mean() {
                    put!(&k.power_mean, Num::Float(v));
                }
                if let Some(v) = w.power.max {
                    put!(&k.power_peak, Num::Float(v));
                }
                if let (true, Some(s), Some(e)) = (observed, s.and_then(|s| s.energy), g.energy) {
                    put!(&k.energy_delta, Num::Float((e - s).max(0.0)));
                }
            }
        }

        if let Some(thresholds) = &self.pressure {
            events.extend(thresholds.ram_event(end, &host));
        }
        events
    }
}
