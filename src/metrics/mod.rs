//! OpenTelemetry metrics from the sampler: asynchronous (observable) instruments with the
//! semantic conventions' names, units and instrument kinds, read from the latest snapshot in
//! their callbacks (the export path never samples).
//!
//! Every instrument is a metric named by rows of the catalogue of figures
//! (`snapshot/catalogue/tables/`); this module registers them and makes their attributes.
//! Attributes are bounded, each value a constant of its row: GPU identity (`hw.id` = UUID,
//! `hw.name`, `hw.vendor`, `hw.type`), `system.memory.state`, `cpu.mode`, `hw.gpu.task`,
//! `hw.limit_type`, `hw.state`, `error.type`, `network.io.direction`, the clock's domain and
//! the clock-event reason. Never a pid, a command line or a request value.
#![doc = include_str!("reference.md")]

use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter};
use opentelemetry::KeyValue;

mod catalogue;
mod monotonic;

use crate::keys::{attr, HW_ID};
use crate::sampler::Sampler;
use crate::snapshot::GpuSample;

pub use crate::keys::metric::{
    PROCESS_GPU_MEMORY_USAGE, SPAN_CPU_TIME, SPAN_GPU_MEMORY_PEAK, SPAN_MEMORY_GROWTH,
};

/// The registered instruments. Keep it alive as long as the metrics should be reported
/// (the meter provider also keeps the callbacks until it shuts down).
#[derive(Debug)]
#[must_use = "the instruments stop reporting when dropped"]
pub struct ResourceMetrics {
    _gauges: Vec<ObservableGauge<f64>>,
    _up_down: Vec<ObservableUpDownCounter<i64>>,
    _up_down_f64: Vec<ObservableUpDownCounter<f64>>,
    _counters: Vec<ObservableCounter<f64>>,
}

pub(super) fn gpu_identity(g: &GpuSample) -> [KeyValue; 3] {
    [
        KeyValue::new(HW_ID.clone(), g.uuid.to_string()),
        KeyValue::new(attr::HW_NAME.clone(), g.name.to_string()),
        KeyValue::new(attr::HW_VENDOR.clone(), "NVIDIA"),
    ]
}

pub(super) fn with(base: &[KeyValue], extra: &[KeyValue]) -> Vec<KeyValue> {
    base.iter().chain(extra).cloned().collect()
}

/// Registers every resource instrument on `meter`, each reading `sampler`'s latest snapshot.
/// Once the sampler has stopped, or while its latest snapshot is older than three intervals,
/// they report nothing: an old figure would read as today's. A cumulative counter whose source
/// restarts (a driver reload, a new cgroup) stays monotonic: each series carries what it
/// counted before the restart.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let _metrics = otel_resmon::metrics::register(&provider.meter("otel-resmon"), &sampler);
/// # Ok::<(), otel_resmon::Error>(())
/// ```
pub fn register(meter: &Meter, sampler: &Sampler) -> ResourceMetrics {
    // Every metric is a figure of the catalogue, each as its row says.
    let i = catalogue::register(meter, sampler);
    ResourceMetrics {
        _gauges: i.gauges,
        _up_down: i.int_up_downs,
        _up_down_f64: i.up_downs,
        _counters: i.counters,
    }
}
