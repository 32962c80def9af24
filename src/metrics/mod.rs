//! OpenTelemetry metrics from the sampler: asynchronous (observable) instruments with the
//! semantic conventions' names, units and instrument kinds, read from the latest snapshot in
//! their callbacks (the export path never samples).
//!
//! Attributes are bounded: GPU identity (`hw.id` = UUID, `hw.name`, `hw.vendor`, `hw.type`),
//! `system.memory.state`, `cpu.mode`, `hw.gpu.task`. Never a pid, a command line or a request
//! value.

use opentelemetry::metrics::{
    AsyncInstrument, Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
};
use opentelemetry::KeyValue;

mod catalogue;
mod condition;

use crate::keys::metric as name;
use crate::keys::{attr, HW_ID};
use crate::sampler::Sampler;
use crate::snapshot::{GpuSample, Snapshot};

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

fn as_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An instrument callback: `f` on the sampler's current snapshot, nothing when there is none
/// (stopped, or stale).
fn on_current<T: 'static>(
    sampler: Sampler,
    f: fn(&Snapshot, &dyn AsyncInstrument<T>),
) -> impl Fn(&dyn AsyncInstrument<T>) + Send + Sync + 'static {
    move |o| {
        if let Some(latest) = sampler.current() {
            f(&latest, o);
        }
    }
}

type Callback<T> = fn(&Snapshot, &dyn AsyncInstrument<T>);

fn gauge(
    meter: &Meter,
    s: &Sampler,
    n: &'static str,
    unit: &'static str,
    f: Callback<f64>,
) -> ObservableGauge<f64> {
    meter
        .f64_observable_gauge(n)
        .with_unit(unit)
        .with_callback(on_current(s.clone(), f))
        .build()
}

fn up_down(
    meter: &Meter,
    s: &Sampler,
    n: &'static str,
    unit: &'static str,
    f: Callback<i64>,
) -> ObservableUpDownCounter<i64> {
    meter
        .i64_observable_up_down_counter(n)
        .with_unit(unit)
        .with_callback(on_current(s.clone(), f))
        .build()
}

fn counter(
    meter: &Meter,
    s: &Sampler,
    n: &'static str,
    unit: &'static str,
    f: Callback<f64>,
) -> ObservableCounter<f64> {
    meter
        .f64_observable_counter(n)
        .with_unit(unit)
        .with_callback(on_current(s.clone(), f))
        .build()
}

/// Registers every resource instrument on `meter`, each reading `sampler`'s latest snapshot.
/// Once the sampler has stopped, or while its latest snapshot is older than three intervals,
/// they report nothing: an old figure would read as today's.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
/// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder().build();
/// let _metrics = otel_resmon::metrics::register(&provider.meter("otel-resmon"), &sampler);
/// # Ok::<(), otel_resmon::Error>(())
/// ```
pub fn register(meter: &Meter, sampler: &Sampler) -> ResourceMetrics {
    let gauge = |n, unit, f| gauge(meter, sampler, n, unit, f);
    let up_down = |n, unit, f| up_down(meter, sampler, n, unit, f);
    let counter = |n, unit, f| counter(meter, sampler, n, unit, f);

    let mut gauges = vec![gauge(name::HW_GPU_MEMORY_UTILIZATION, "1", |s, o| {
        for g in &s.gpus {
            if let (Some(used), Some(total)) = (g.memory_used, g.memory_total) {
                if total > 0 {
                    o.observe(used as f64 / total as f64, &gpu_identity(g));
                }
            }
        }
    })];
    let mut up_downs = vec![
        up_down(name::HW_GPU_MEMORY_LIMIT, "By", |s, o| {
            for g in &s.gpus {
                if let Some(v) = g.memory_total {
                    o.observe(as_i64(v), &gpu_identity(g));
                }
            }
        }),
        up_down(name::SYSTEM_MEMORY_LIMIT, "By", |s, o| {
            if let Some(v) = s.host.memory_total {
                o.observe(as_i64(v), &[]);
            }
        }),
    ];
    // The limits of a pod's container, under the Kubernetes names (only in a pod).
    let in_pod = sampler.container_identity().pod_uid.is_some();
    if in_pod {
        up_downs.push(up_down(name::K8S_CONTAINER_MEMORY_LIMIT, "By", |s, o| {
            if let Some(v) = s.container.as_ref().and_then(|c| c.memory_limit) {
                o.observe(as_i64(v), &[]);
            }
        }));
    }
    let cpu_limit = in_pod.then(|| {
        let s = sampler.clone();
        meter
            .f64_observable_up_down_counter(name::K8S_CONTAINER_CPU_LIMIT)
            .with_unit("{cpu}")
            .with_callback(on_current(s, |s, o| {
                if let Some(v) = s.container.as_ref().and_then(|c| c.cpu_limit) {
                    o.observe(v, &[]);
                }
            }))
            .build()
    });
    let mut counters = vec![counter(name::PROCESS_CPU_TIME, "s", |s, o| {
        if let Some(t) = s.process.cpu_time_user {
            o.observe(t, &[KeyValue::new(attr::CPU_MODE.clone(), "user")]);
        }
        if let Some(t) = s.process.cpu_time_system {
            o.observe(t, &[KeyValue::new(attr::CPU_MODE.clone(), "system")]);
        }
    })];
    // The figures of the catalogue, each as its row says.
    let from_catalogue = catalogue::register(meter, sampler);
    gauges.extend(from_catalogue.gauges);
    up_downs.extend(from_catalogue.up_downs);
    counters.extend(from_catalogue.counters);
    gauges.extend(condition::gauges(meter, sampler));
    up_downs.extend(condition::up_downs(meter, sampler));
    counters.extend(condition::counters(meter, sampler));
    ResourceMetrics {
        _gauges: gauges,
        _up_down: up_downs,
        _up_down_f64: cpu_limit.into_iter().collect(),
        _counters: counters,
    }
}
