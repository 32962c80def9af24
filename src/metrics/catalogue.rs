//! The instruments of the catalogue's figures: one per metric name the catalogue's rows give
//! (several rows may share one, as the GPU's utilization by task does), each observing every
//! row that names it, with the attributes its row's shape says. A figure added to the
//! catalogue with a metric is exported without a line here.

use std::sync::{Arc, Mutex};

use opentelemetry::metrics::{
    AsyncInstrument, Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
};
use opentelemetry::{Key, KeyValue};

use super::monotonic::Offsets;
use super::{gpu_identity, with};
use crate::keys::{attr, HW_ID};
use crate::sampler::Sampler;
use crate::snapshot::catalogue::{GpuFigure, HostFigure, Instrument, Labels, Metric};
use crate::snapshot::{GpuSample, Snapshot};
use crate::sync::lock;

/// The instruments, by kind.
#[derive(Default)]
pub(super) struct Instruments {
    pub(super) gauges: Vec<ObservableGauge<f64>>,
    pub(super) int_up_downs: Vec<ObservableUpDownCounter<i64>>,
    pub(super) up_downs: Vec<ObservableUpDownCounter<f64>>,
    pub(super) counters: Vec<ObservableCounter<f64>>,
}

/// A GPU's attributes for a row's shape.
fn gpu_labels(labels: Labels, g: &GpuSample) -> Vec<KeyValue> {
    let gpu = || KeyValue::new(attr::HW_TYPE.clone(), "gpu");
    let and = |key: &Key, value: &'static str| {
        with(&gpu_identity(g), &[KeyValue::new(key.clone(), value)])
    };
    match labels {
        Labels::GpuDevice => with(&gpu_identity(g), &[gpu()]),
        Labels::GpuTask(task) => and(&attr::HW_GPU_TASK, task),
        Labels::GpuClock(domain) => and(&attr::CLOCK_DOMAIN, domain),
        Labels::GpuClockReason(reason) => and(&attr::CLOCK_EVENT_REASON, reason),
        Labels::GpuDirection(direction) => and(&attr::NETWORK_IO_DIRECTION, direction),
        Labels::GpuActivity(kind) => and(&attr::GPU_ACTIVITY_TYPE, kind),
        Labels::GpuLink(link, direction) => with(
            &gpu_identity(g),
            &[
                KeyValue::new(attr::GPU_LINK.clone(), link),
                KeyValue::new(attr::NETWORK_IO_DIRECTION.clone(), direction),
            ],
        ),
        Labels::GpuError(kind) => with(
            &gpu_identity(g),
            &[gpu(), KeyValue::new(attr::ERROR_TYPE.clone(), kind)],
        ),
        Labels::GpuState(state) => with(
            &gpu_identity(g),
            &[gpu(), KeyValue::new(attr::HW_STATE.clone(), state)],
        ),
        // A sensor is a component of its own whose parent is the GPU.
        Labels::GpuSensor(kind) => sensor(g, kind).to_vec(),
        Labels::GpuSensorLimit(kind, limit) => with(
            &sensor(g, kind),
            &[KeyValue::new(attr::HW_LIMIT_TYPE.clone(), limit)],
        ),
        Labels::Gpu | Labels::None | Labels::MemoryState(_) | Labels::CpuMode(_) => {
            gpu_identity(g).to_vec()
        }
    }
}

/// A sensor of the GPU: a component of its own whose parent is the GPU.
fn sensor(g: &GpuSample, kind: &'static str) -> [KeyValue; 4] {
    [
        KeyValue::new(HW_ID.clone(), format!("{}:{kind}", g.uuid)),
        KeyValue::new(attr::HW_NAME.clone(), format!("{} {kind}", g.name)),
        KeyValue::new(attr::HW_TYPE.clone(), kind),
        KeyValue::new(attr::HW_PARENT.clone(), g.uuid.to_string()),
    ]
}

/// A host or process figure's attributes for a row's shape.
fn host_labels(labels: Labels) -> Vec<KeyValue> {
    match labels {
        Labels::MemoryState(state) => {
            vec![KeyValue::new(attr::SYSTEM_MEMORY_STATE.clone(), state)]
        }
        Labels::CpuMode(mode) => vec![KeyValue::new(attr::CPU_MODE.clone(), mode)],
        _ => Vec::new(),
    }
}

/// Every value of the rows that name one metric in the sampler's current snapshot (nothing
/// once it stopped or went stale), each through `value` with its series: its row's position
/// among `host` then `gpu`, and the GPU's UUID.
fn observe<T>(
    s: &Snapshot,
    host: &[HostFigure],
    gpu: &[GpuFigure],
    o: &dyn AsyncInstrument<T>,
    mut value: impl FnMut(usize, Option<&Arc<str>>, f64) -> T,
) {
    for (k, f) in host.iter().enumerate() {
        let row = f.figure();
        if let (Some(v), Some(m)) = ((row.read)(s), row.metric) {
            o.observe(value(k, None, v), &host_labels(m.labels));
        }
    }
    for g in &s.gpus {
        for (k, f) in gpu.iter().enumerate() {
            let row = f.figure();
            if let (Some(v), Some(m)) = ((row.read)(g), row.metric) {
                let v = value(host.len() + k, Some(&g.uuid), v);
                o.observe(v, &gpu_labels(m.labels, g));
            }
        }
    }
}

/// The rows exported under one metric name.
fn rows_of(name: &str) -> (Vec<HostFigure>, Vec<GpuFigure>) {
    let named = |row: Option<Metric>| row.is_some_and(|r| r.name == name);
    let host = HostFigure::ALL
        .into_iter()
        .filter(|f| named(f.figure().metric))
        .collect();
    let gpu = GpuFigure::ALL
        .into_iter()
        .filter(|f| named(f.figure().metric))
        .collect();
    (host, gpu)
}

/// An instrument's callback: every row under its name, from the sampler's current snapshot
/// (nothing once it stopped or went stale).
fn callback<T: 'static>(
    sampler: &Sampler,
    name: &str,
    cast: fn(f64) -> T,
) -> impl Fn(&dyn AsyncInstrument<T>) + Send + Sync + 'static {
    let s = sampler.clone();
    let (host, gpu) = rows_of(name);
    move |o| {
        if let Some(latest) = s.current() {
            observe(&latest, &host, &gpu, o, |_, _, v| cast(v));
        }
    }
}

/// A cumulative counter's callback: as [`callback`], each series kept monotonic across a
/// restart of its source by the offsets this callback alone holds (`monotonic.rs`).
fn counter_callback(
    sampler: &Sampler,
    name: &str,
) -> impl Fn(&dyn AsyncInstrument<f64>) + Send + Sync + 'static {
    let s = sampler.clone();
    let (host, gpu) = rows_of(name);
    let offsets = Mutex::new(Offsets::default());
    move |o| {
        if let Some(latest) = s.current() {
            let mut offsets = lock(&offsets);
            observe(&latest, &host, &gpu, o, |row, gpu, v| {
                offsets.monotonic(row, gpu, v)
            });
        }
    }
}

/// A figure as a whole number (a byte count, a state's 0 or 1).
fn as_i64(v: f64) -> i64 {
    v as i64
}

/// Registers one instrument per metric the catalogue names (a pod's only in a pod).
pub(super) fn register(meter: &Meter, sampler: &Sampler) -> Instruments {
    let in_pod = sampler.container_identity().pod_uid.is_some();
    let mut metrics: Vec<Metric> = Vec::new();
    let rows = HostFigure::ALL
        .iter()
        .filter_map(|f| f.figure().metric)
        .chain(GpuFigure::ALL.iter().filter_map(|f| f.figure().metric))
        .filter(|m| in_pod || !m.pod_only);
    for m in rows {
        if !metrics.iter().any(|known| known.name == m.name) {
            metrics.push(m);
        }
    }
    let mut out = Instruments::default();
    for m in metrics {
        let float = || callback(sampler, m.name, |v| v);
        match m.instrument {
            Instrument::Gauge => out.gauges.push(
                meter
                    .f64_observable_gauge(m.name)
                    .with_unit(m.unit)
                    .with_callback(float())
                    .build(),
            ),
            Instrument::UpDown => out.up_downs.push(
                meter
                    .f64_observable_up_down_counter(m.name)
                    .with_unit(m.unit)
                    .with_callback(float())
                    .build(),
            ),
            Instrument::Counter => out.counters.push(
                meter
                    .f64_observable_counter(m.name)
                    .with_unit(m.unit)
                    .with_callback(counter_callback(sampler, m.name))
                    .build(),
            ),
            Instrument::IntUpDown => out.int_up_downs.push(
                meter
                    .i64_observable_up_down_counter(m.name)
                    .with_unit(m.unit)
                    .with_callback(callback(sampler, m.name, as_i64))
                    .build(),
            ),
        }
    }
    out
}
