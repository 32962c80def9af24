//! The instruments of the catalogue's figures: one per metric name the catalogue's rows give
//! (several rows may share one, as the GPU's utilization by task does), each observing every
//! row that names it, with the attributes its row's shape says. A figure added to the
//! catalogue with a metric is exported without a line here.

use opentelemetry::metrics::{
    AsyncInstrument, Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
};
use opentelemetry::KeyValue;

use super::{gpu_identity, with};
use crate::keys::{attr, HW_ID};
use crate::sampler::Sampler;
use crate::snapshot::catalogue::{GpuFigure, HostFigure, Instrument, Labels, Metric};
use crate::snapshot::{GpuSample, Snapshot};

/// The instruments, by kind.
#[derive(Default)]
pub(super) struct Instruments {
    pub(super) gauges: Vec<ObservableGauge<f64>>,
    pub(super) up_downs: Vec<ObservableUpDownCounter<i64>>,
    pub(super) counters: Vec<ObservableCounter<f64>>,
}

/// A GPU's attributes for a row's shape.
fn gpu_labels(labels: Labels, g: &GpuSample) -> Vec<KeyValue> {
    match labels {
        Labels::GpuDevice => with(
            &gpu_identity(g),
            &[KeyValue::new(attr::HW_TYPE.clone(), "gpu")],
        ),
        Labels::GpuTask(task) => with(
            &gpu_identity(g),
            &[KeyValue::new(attr::HW_GPU_TASK.clone(), task)],
        ),
        // A sensor is a component of its own whose parent is the GPU.
        Labels::GpuSensor(kind) => vec![
            KeyValue::new(HW_ID.clone(), format!("{}:{kind}", g.uuid)),
            KeyValue::new(attr::HW_NAME.clone(), format!("{} {kind}", g.name)),
            KeyValue::new(attr::HW_TYPE.clone(), kind),
            KeyValue::new(attr::HW_PARENT.clone(), g.uuid.to_string()),
        ],
        Labels::Gpu | Labels::None | Labels::MemoryState(_) => gpu_identity(g).to_vec(),
    }
}

/// A host or process figure's attributes for a row's shape.
fn host_labels(labels: Labels) -> Vec<KeyValue> {
    match labels {
        Labels::MemoryState(state) => {
            vec![KeyValue::new(attr::SYSTEM_MEMORY_STATE.clone(), state)]
        }
        _ => Vec::new(),
    }
}

/// Every value of the rows that name one metric in the sampler's current snapshot (nothing
/// once it stopped or went stale).
fn observe<T>(
    s: &Snapshot,
    host: &[HostFigure],
    gpu: &[GpuFigure],
    o: &dyn AsyncInstrument<T>,
    cast: fn(f64) -> T,
) {
    for f in host {
        let row = f.figure();
        if let (Some(v), Some(m)) = ((row.read)(s), row.metric) {
            o.observe(cast(v), &host_labels(m.labels));
        }
    }
    for g in &s.gpus {
        for f in gpu {
            let row = f.figure();
            if let (Some(v), Some(m)) = ((row.read)(g), row.metric) {
                o.observe(cast(v), &gpu_labels(m.labels, g));
            }
        }
    }
}

/// Registers one instrument per metric the catalogue names.
pub(super) fn register(meter: &Meter, sampler: &Sampler) -> Instruments {
    let mut metrics: Vec<Metric> = Vec::new();
    let rows = HostFigure::ALL
        .iter()
        .filter_map(|f| f.figure().metric)
        .chain(GpuFigure::ALL.iter().filter_map(|f| f.figure().metric));
    for m in rows {
        if !metrics.iter().any(|known| known.name == m.name) {
            metrics.push(m);
        }
    }
    let mut out = Instruments::default();
    for m in metrics {
        let named = |row: Option<Metric>| row.is_some_and(|r| r.name == m.name);
        let host: Vec<HostFigure> = HostFigure::ALL
            .into_iter()
            .filter(|f| named(f.figure().metric))
            .collect();
        let gpu: Vec<GpuFigure> = GpuFigure::ALL
            .into_iter()
            .filter(|f| named(f.figure().metric))
            .collect();
        let s = sampler.clone();
        match m.instrument {
            Instrument::Gauge => out.gauges.push(
                meter
                    .f64_observable_gauge(m.name)
                    .with_unit(m.unit)
                    .with_callback(move |o| {
                        if let Some(latest) = s.current() {
                            observe(&latest, &host, &gpu, o, |v| v);
                        }
                    })
                    .build(),
            ),
            Instrument::Bytes => out.up_downs.push(
                meter
                    .i64_observable_up_down_counter(m.name)
                    .with_unit(m.unit)
                    .with_callback(move |o| {
                        if let Some(latest) = s.current() {
                            observe(&latest, &host, &gpu, o, |v| v as i64);
                        }
                    })
                    .build(),
            ),
            Instrument::Counter => out.counters.push(
                meter
                    .f64_observable_counter(m.name)
                    .with_unit(m.unit)
                    .with_callback(move |o| {
                        if let Some(latest) = s.current() {
                            observe(&latest, &host, &gpu, o, |v| v);
                        }
                    })
                    .build(),
            ),
        }
    }
    out
}
