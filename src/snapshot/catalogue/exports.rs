//! What a row exports beside the span: its metric (instrument, unit, attribute shape) and
//! its per-span histogram (what it measures, its buckets).

/// The instrument a figure is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instrument {
    /// An `f64` gauge.
    Gauge,
    /// An `i64` up-down counter: bytes, or a state's 0 or 1.
    IntUpDown,
    /// An `f64` up-down counter (a CPU limit).
    UpDown,
    /// An `f64` counter.
    Counter,
}

/// The attributes of a figure's metric points, by shape (`metrics/` makes them). Every value
/// is a constant of the row: the attributes stay bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Labels {
    /// None.
    None,
    /// `system.memory.state`.
    MemoryState(&'static str),
    /// `cpu.mode`.
    CpuMode(&'static str),
    /// The GPU's identity (`hw.id`, `hw.name`, `hw.vendor`).
    Gpu,
    /// The GPU's identity and `hw.type = gpu`.
    GpuDevice,
    /// The GPU's identity and `hw.gpu.task`.
    GpuTask(&'static str),
    /// A sensor of the GPU, a component of its own whose parent is the GPU.
    GpuSensor(&'static str),
    /// A sensor of the GPU (as [`Labels::GpuSensor`]) and `hw.limit_type`.
    GpuSensorLimit(&'static str, &'static str),
    /// The GPU's identity and the clock's domain (`sm`, `memory`).
    GpuClock(&'static str),
    /// The GPU's identity and the clock-event reason: one series per reason.
    GpuClockReason(&'static str),
    /// The GPU's identity and `network.io.direction`.
    GpuDirection(&'static str),
    /// The GPU's identity, `hw.type = gpu` and `error.type`.
    GpuError(&'static str),
    /// The GPU's identity, `hw.type = gpu` and `hw.state`.
    GpuState(&'static str),
    /// The GPU's identity and which unit's activity (`resmon.gpu.activity.type`).
    GpuActivity(&'static str),
    /// The GPU's identity, the link (`resmon.gpu.link`: `pcie`, `nvlink`) and
    /// `network.io.direction`.
    GpuLink(&'static str, &'static str),
}

/// How a figure is exported as a metric. Several rows may share one metric (the GPU's
/// utilization by task, the errors by type), each with its own attribute values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) instrument: Instrument,
    pub(crate) unit: &'static str,
    pub(crate) labels: Labels,
    /// Registered only when the process runs in a Kubernetes pod (the `k8s.container.*`
    /// names).
    pub(crate) pod_only: bool,
}

pub(super) const fn metric(
    name: &'static str,
    instrument: Instrument,
    unit: &'static str,
    labels: Labels,
) -> Option<Metric> {
    Some(Metric {
        name,
        instrument,
        unit,
        labels,
        pod_only: false,
    })
}

/// As [`metric`], registered only in a Kubernetes pod.
pub(super) const fn pod_metric(
    name: &'static str,
    instrument: Instrument,
    unit: &'static str,
) -> Option<Metric> {
    Some(Metric {
        name,
        instrument,
        unit,
        labels: Labels::None,
        pod_only: true,
    })
}

/// What a per-span histogram records of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Measure {
    /// A counter's difference between the span's ends (nothing when it went backwards).
    Delta,
    /// A level's rise between the span's ends (0 when it fell).
    Growth,
    /// The span's peak over its own passes, per GPU.
    Peak,
}

/// A per-span histogram of a figure (with `ResourceLayerBuilder::metrics`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanHistogram {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) buckets: &'static [f64],
    pub(crate) measure: Measure,
}

/// Buckets for CPU time, seconds (half a millisecond to half a minute).
pub(crate) const CPU_SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];
const MIB: f64 = 1048576.0;
/// Buckets for memory, bytes (1 MiB to 192 GiB).
pub(crate) const BYTE_BUCKETS: [f64; 11] = [
    MIB,
    4.0 * MIB,
    16.0 * MIB,
    64.0 * MIB,
    256.0 * MIB,
    1024.0 * MIB,
    4096.0 * MIB,
    16384.0 * MIB,
    40960.0 * MIB,
    81920.0 * MIB,
    196608.0 * MIB,
];
