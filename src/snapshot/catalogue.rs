//! The catalogue of figures: every figure the history keeps, a window reports and a span
//! folds over its own passes, in one table per subject (the host and this process, and each
//! GPU). A row says the figure's name, its kind, the tier it is read at, how it is read from
//! a snapshot, whether its lowest value's time is kept, and what a span writes of it. The
//! history's buckets, [`Window`](crate::sampler::Window), the span figures' peaks, lows and
//! means all derive from these rows, with one statistics type, [`Stat`].
//!
//! Adding a figure is a row here and its keys in `keys.rs`.

use opentelemetry::Key;

use super::{GpuSample, GpuTier, Snapshot};
use crate::keys::metric as m;
use crate::keys::{self, GpuKeys};

/// How a figure behaves over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A level (memory in use, utilization): its peak, low and mean mean something.
    Gauge,
    /// A running total (CPU time, energy): its difference over a stretch is what was used.
    Counter,
}

impl Kind {
    /// What changed between two readings: a level's difference, or what a counter rose by
    /// (`None` when it went backwards: the driver re-initialised, a new cgroup).
    pub(crate) fn change(self, start: f64, end: f64) -> Option<f64> {
        match self {
            Kind::Gauge => Some(end - start),
            Kind::Counter => (end >= start).then_some(end - start),
        }
    }
}

/// When a figure is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Every pass (host and process figures).
    Pass,
    /// The host CPU utilization: it needs 200 ms between two readings of the counters, so a
    /// pass sooner than that carries the last measurement.
    HostCpu,
    /// A GPU tier: the figure counts only in a pass that read that tier.
    Gpu(GpuTier),
}

/// Which statistic of a span's own passes a span writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statistic {
    Peak,
    Low,
    Mean,
}

/// How a span attribute's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// A whole number of bytes (`Int`).
    Bytes,
    /// A whole number (`Int`), e.g. MHz.
    Int,
    /// A number as measured (`Double`).
    Float,
}

/// One attribute a span gets of a figure, and when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanOutput<K: 'static> {
    pub(crate) statistic: Statistic,
    /// Only in the full figure set.
    pub(crate) full_only: bool,
    /// Only when the span observed the figure change (two passes, two readings of a GPU).
    pub(crate) observed: bool,
    pub(crate) key: K,
    pub(crate) encoding: Encoding,
}

/// A host or process attribute's key.
pub(crate) type HostKey = fn() -> &'static Key;
/// A GPU attribute's key, among the GPU's keys.
pub(crate) type GpuKey = fn(&'static GpuKeys) -> &'static Key;

/// The instrument a figure is exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Instrument {
    /// An `f64` gauge.
    Gauge,
    /// An `i64` up-down counter of bytes.
    Bytes,
    /// An `f64` counter.
    Counter,
}

/// The attributes of a figure's metric points, by shape (`metrics/` makes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Labels {
    /// None.
    None,
    /// `system.memory.state`.
    MemoryState(&'static str),
    /// The GPU's identity (`hw.id`, `hw.name`, `hw.vendor`).
    Gpu,
    /// The GPU's identity and `hw.type = gpu`.
    GpuDevice,
    /// The GPU's identity and `hw.gpu.task`.
    GpuTask(&'static str),
    /// A sensor of the GPU, a component of its own whose parent is the GPU.
    GpuSensor(&'static str),
}

/// How a figure is exported as a metric. Several rows may share one metric (the GPU's
/// utilization by task); metrics that are no one figure (a ratio, a limit, the container's
/// cgroup files) are written in `metrics/` by hand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) instrument: Instrument,
    pub(crate) unit: &'static str,
    pub(crate) labels: Labels,
}

const fn metric(
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

/// One row of the catalogue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure<T: 'static, K: 'static> {
    /// The figure's name (its metric's, where it has one).
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) tier: Tier,
    /// The value in a snapshot; `None` where the figure is absent, or (for a figure read
    /// less often than every pass) not read by that pass.
    pub(crate) read: fn(&T) -> Option<f64>,
    /// Whether the time of its lowest value is kept (for pressure events).
    pub(crate) low_at: bool,
    /// What a span writes of its statistics over the span's own passes.
    pub(crate) span: &'static [SpanOutput<K>],
    /// The metric it is exported as, if any.
    pub(crate) metric: Option<Metric>,
    /// Whether the history keeps it (its buckets, so windows and long spans have it); a row
    /// says `kept false` only for a figure exported and nothing else, to keep the history's
    /// memory. Every row with span outputs or a low's time is kept (checked at compile time).
    pub(crate) kept: bool,
    /// The per-span histogram of it, if any.
    pub(crate) histogram: Option<SpanHistogram>,
}

impl<T, K> Figure<T, K> {
    /// Whether a span folding its passes needs this figure: always where its low's time is
    /// kept (pressure events), else where the span writes something of it in this set.
    pub(crate) fn needed(&self, full: bool) -> bool {
        self.low_at || self.span.iter().any(|o| full || !o.full_only)
    }
}

/// Min / max / sum / count of one figure over some passes: the one statistics type of the
/// history's buckets, windows and spans. Empty (all zero, cheap to make) until a value
/// comes: `min` and `max` mean something only while `count > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Stat {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) sum: f64,
    pub(crate) count: u32,
}

impl Stat {
    /// No value yet.
    pub(crate) const EMPTY: Stat = Stat {
        min: 0.0,
        max: 0.0,
        sum: 0.0,
        count: 0,
    };

    /// Adds one value; returns whether it is a new low (the first value is).
    #[inline]
    pub(crate) fn add(&mut self, v: Option<f64>) -> bool {
        let Some(v) = v else { return false };
        let low = self.count == 0 || v < self.min;
        if low {
            self.min = v;
        }
        if self.count == 0 || v > self.max {
            self.max = v;
        }
        self.sum += v;
        self.count += 1;
        low
    }

    /// Adds another stretch's statistics; returns whether its low is a new low.
    #[inline]
    pub(crate) fn merge(&mut self, other: &Stat) -> bool {
        if other.count == 0 {
            return false;
        }
        let low = self.count == 0 || other.min < self.min;
        if low {
            self.min = other.min;
        }
        if self.count == 0 || other.max > self.max {
            self.max = other.max;
        }
        self.sum += other.sum;
        self.count += other.count;
        low
    }

    pub(crate) fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    pub(crate) fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / f64::from(self.count))
    }

    /// One statistic of it.
    pub(crate) fn get(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Peak => self.max(),
            Statistic::Low => self.min(),
            Statistic::Mean => self.mean(),
        }
    }
}

/// `Some` of the expression, or `None` without one.
macro_rules! optional {
    () => {
        None
    };
    ($e:expr) => {
        Some($e)
    };
}

/// Defines a table: an enum naming its rows (their positions) and the rows themselves.
macro_rules! catalogue {
    (
        $(#[$meta:meta])*
        enum $enum:ident of $subject:ty, keys $key:ty {
            $(
                $(#[doc = $doc:literal])*
                $row:ident = $name:literal, $kind:ident, $tier:expr, low_at $low:literal,
                    read $read:expr,
                    span [$($out:expr),* $(,)?],
                    metric $metric:expr $(, kept $kept:literal)? $(, histogram $hist:expr)?;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum $enum {
            $( $(#[doc = $doc])* $row, )*
        }

        impl $enum {
            /// Every row, in table order.
            pub(crate) const ALL: [$enum; [$(stringify!($row)),*].len()] = [$($enum::$row),*];
            /// How many rows.
            pub(crate) const N: usize = Self::ALL.len();
            const TABLE: [Figure<$subject, $key>; Self::N] = [
                $(
                    Figure {
                        name: $name,
                        kind: Kind::$kind,
                        tier: $tier,
                        low_at: $low,
                        read: $read,
                        span: &[$($out),*],
                        metric: $metric,
                        kept: true $(&& $kept)?,
                        histogram: optional!($($hist)?),
                    },
                )*
            ];
            /// How many rows keep their low's time.
            pub(crate) const LOWS: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].low_at {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };

            /// The row with this name.
            pub(crate) fn named(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|f| f.figure().name == name)
            }

            /// This row.
            #[inline]
            pub(crate) fn figure(self) -> &'static Figure<$subject, $key> {
                &Self::TABLE[self as usize]
            }

            /// How many rows the history keeps.
            pub(crate) const KEPT: usize = {
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    let row = &Self::TABLE[i];
                    assert!(
                        row.kept || (row.span.is_empty() && !row.low_at),
                        "a row with span outputs or a low's time must be kept in the history"
                    );
                    if row.kept {
                        n += 1;
                    }
                    i += 1;
                }
                n
            };

            /// Each kept row's position among the kept rows.
            const KEPT_SLOTS: [Option<usize>; Self::N] = {
                let mut slots = [None; Self::N];
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].kept {
                        slots[i] = Some(n);
                        n += 1;
                    }
                    i += 1;
                }
                slots
            };

            /// Its position among the rows the history keeps.
            #[inline]
            pub(crate) fn kept_slot(self) -> Option<usize> {
                Self::KEPT_SLOTS[self as usize]
            }

            /// Each row's position among the rows that keep their low's time.
            const LOW_SLOTS: [Option<usize>; Self::N] = {
                let mut slots = [None; Self::N];
                let mut n = 0;
                let mut i = 0;
                while i < Self::N {
                    if Self::TABLE[i].low_at {
                        slots[i] = Some(n);
                        n += 1;
                    }
                    i += 1;
                }
                slots
            };

            /// Its position among the rows that keep their low's time.
            #[inline]
            pub(crate) fn low_slot(self) -> Option<usize> {
                Self::LOW_SLOTS[self as usize]
            }
        }
    };
}

const fn out<K>(
    statistic: Statistic,
    full_only: bool,
    observed: bool,
    key: K,
    encoding: Encoding,
) -> SpanOutput<K> {
    SpanOutput {
        statistic,
        full_only,
        observed,
        key,
        encoding,
    }
}

use Encoding::{Bytes, Float, Int};
use Statistic::{Low, Mean, Peak};

/// Full set only.
const FULL: bool = true;
/// Compact set too.
const COMPACT: bool = false;
/// Only when the span observed the figure change.
const OBSERVED: bool = true;
/// Whenever the span has passes of its own.
const ANY: bool = false;

fn bytes(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
}

catalogue! {
    /// The host's and this process's figures.
    enum HostFigure of Snapshot, keys HostKey {
        /// Host CPU utilization, 0..1: counted where measured (not carried).
        CpuUtilization = "system.cpu.utilization", Gauge, Tier::HostCpu, low_at false,
            read |s| s.host.cpu_utilization,
            span [out(Mean, FULL, ANY, || &keys::SYSTEM_CPU_UTILIZATION_MEAN, Float)],
            metric metric(m::SYSTEM_CPU_UTILIZATION, Instrument::Gauge, "1", Labels::None);
        /// Host 1-minute load average.
        Load1m = "resmon.system.load_average.1m", Gauge, Tier::Pass, low_at false,
            read |s| s.host.load_average_1m,
            span [],
            metric None;
        /// Host memory in use, bytes.
        MemoryUsed = "system.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.host.memory_used),
            span [],
            metric metric(m::SYSTEM_MEMORY_USAGE, Instrument::Bytes, "By", Labels::MemoryState("used"));
        /// Host memory available, bytes.
        MemoryAvailable = "system.memory.linux.available", Gauge, Tier::Pass, low_at true,
            read |s| bytes(s.host.memory_available),
            span [out(Low, FULL, ANY, || &keys::SYSTEM_MEMORY_AVAILABLE_MIN, Bytes)],
            metric None;
        /// This process's CPU time, seconds.
        ProcessCpuTime = "process.cpu.time", Counter, Tier::Pass, low_at false,
            read |s| s.process.cpu_time,
            // Exported by CPU mode, user and system, which `metrics/` writes.
            span [],
            metric None,
            histogram SpanHistogram {
                name: m::SPAN_CPU_TIME,
                description: "Process CPU time used during a span",
                unit: "s",
                buckets: &CPU_SECONDS,
                measure: Measure::Delta,
            };
        /// This process's resident memory, bytes.
        Resident = "process.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.process.resident_memory),
            span [out(Peak, FULL, ANY, || &keys::PROCESS_MEMORY_PEAK, Bytes)],
            metric metric(m::PROCESS_MEMORY_USAGE, Instrument::Bytes, "By", Labels::None),
            histogram SpanHistogram {
                name: m::SPAN_MEMORY_GROWTH,
                description: "Growth of the process's resident memory during a span",
                unit: "By",
                buckets: &BYTE_BUCKETS,
                measure: Measure::Growth,
            };
        /// This process's virtual memory, bytes.
        Virtual = "process.memory.virtual", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.process.virtual_memory),
            span [],
            metric None;
        /// The cgroup's headroom under its memory limit (limit − working set), bytes.
        ContainerHeadroom = "container.memory.available", Gauge, Tier::Pass, low_at true,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_available())),
            // Exported with the container's other cgroup figures in `metrics/`.
            span [],
            metric None;
    }
}

catalogue! {
    /// One GPU's figures.
    enum GpuFigure of GpuSample, keys GpuKey {
        /// Device memory in use, bytes.
        MemoryUsed = "hw.gpu.memory.usage", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| bytes(g.memory_used),
            span [out(Peak, COMPACT, OBSERVED, |k| &k.memory_peak, Bytes)],
            metric metric(m::HW_GPU_MEMORY_USAGE, Instrument::Bytes, "By", Labels::Gpu),
            histogram SpanHistogram {
                name: m::SPAN_GPU_MEMORY_PEAK,
                description: "Peak device memory of a GPU during a span",
                unit: "By",
                buckets: &BYTE_BUCKETS,
                measure: Measure::Peak,
            };
        /// Device memory free, bytes.
        MemoryFree = "resmon.gpu.memory.free", Gauge, Tier::Gpu(GpuTier::Fast), low_at true,
            read |g| bytes(g.memory_free),
            span [out(Low, FULL, ANY, |k| &k.memory_free_min, Bytes)],
            metric None;
        /// GPU utilization, 0..1.
        Utilization = "hw.gpu.utilization", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.utilization_gpu,
            span [
                out(Peak, COMPACT, ANY, |k| &k.utilization_peak, Float),
                out(Mean, COMPACT, OBSERVED, |k| &k.utilization_mean, Float),
            ],
            metric metric(m::HW_GPU_UTILIZATION, Instrument::Gauge, "1", Labels::GpuTask("general"));
        /// Share of time device memory was read or written, 0..1.
        MemoryBusy = "resmon.gpu.memory.busy", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.memory_busy,
            span [out(Peak, FULL, ANY, |k| &k.memory_busy_peak, Float)],
            metric None;
        /// Temperature, °C.
        Temperature = "hw.temperature", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.temperature,
            span [out(Peak, FULL, ANY, |k| &k.temperature_peak, Float)],
            metric metric(m::HW_TEMPERATURE, Instrument::Gauge, "Cel", Labels::GpuSensor("temperature"));
        /// Power, W.
        Power = "hw.power", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.power,
            span [
                out(Mean, FULL, ANY, |k| &k.power_mean, Float),
                out(Peak, FULL, ANY, |k| &k.power_peak, Float),
            ],
            metric metric(m::HW_POWER, Instrument::Gauge, "W", Labels::GpuDevice);
        /// The energy counter, J (its difference is the energy used).
        Energy = "hw.energy", Counter, Tier::Gpu(GpuTier::Energy), low_at false,
            read |g| g.energy,
            span [],
            metric metric(m::HW_ENERGY, Instrument::Counter, "J", Labels::GpuDevice);
        /// This process's device memory, bytes.
        ProcessMemory = "process.gpu.memory.usage", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| bytes(g.process_memory),
            span [out(Peak, FULL, ANY, |k| &k.process_memory_peak, Bytes)],
            metric metric(m::PROCESS_GPU_MEMORY_USAGE, Instrument::Bytes, "By", Labels::Gpu);
        /// The SM clock, MHz.
        ClockSm = "resmon.gpu.clock.sm", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.condition.clock_sm_mhz.map(f64::from),
            span [out(Low, COMPACT, OBSERVED, |k| &k.clock_sm_min, Int)],
            // Exported with the memory clock by clock type in `metrics/`.
            metric None;
        /// The memory clock, MHz: an HBM clock pulled down under heat or power.
        ClockMemory = "resmon.gpu.clock.memory", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.condition.clock_memory_mhz.map(f64::from),
            span [out(Low, FULL, OBSERVED, |k| &k.clock_memory_min, Int)],
            metric None;
        /// Encoder use, 0..1.
        EncoderUtilization = "resmon.gpu.encoder.utilization", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| g.condition.encoder_utilization,
            span [],
            metric metric(m::HW_GPU_UTILIZATION, Instrument::Gauge, "1", Labels::GpuTask("encoder")),
            kept false;
        /// Decoder use, 0..1.
        DecoderUtilization = "resmon.gpu.decoder.utilization", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| g.condition.decoder_utilization,
            span [],
            metric metric(m::HW_GPU_UTILIZATION, Instrument::Gauge, "1", Labels::GpuTask("decoder")),
            kept false;
    }
}

impl Figure<Snapshot, HostKey> {
    /// The value a pass read of it: every host figure is read every pass, but a CPU
    /// utilization carried from an earlier pass is not a new reading.
    #[inline]
    pub(crate) fn value(&self, s: &Snapshot) -> Option<f64> {
        match self.tier {
            Tier::HostCpu if !s.host.cpu_is_fresh() => None,
            _ => (self.read)(s),
        }
    }
}

impl Figure<GpuSample, GpuKey> {
    /// The value a pass read of it: nothing where the pass did not read its tier (a figure
    /// carried from an earlier read is not a new reading).
    #[inline]
    pub(crate) fn value(&self, g: &GpuSample) -> Option<f64> {
        match self.tier {
            Tier::Gpu(tier) if !g.is_fresh(tier) => None,
            _ => (self.read)(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_name_each_figure_once_and_slot_their_lows() {
        let mut names: Vec<&str> = HostFigure::ALL.iter().map(|f| f.figure().name).collect();
        names.extend(GpuFigure::ALL.iter().map(|f| f.figure().name));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a figure named twice");
        assert_eq!(HostFigure::LOWS, 2);
        assert_eq!(HostFigure::MemoryAvailable.low_slot(), Some(0));
        assert_eq!(HostFigure::ContainerHeadroom.low_slot(), Some(1));
        assert_eq!(GpuFigure::MemoryFree.low_slot(), Some(0));
        assert_eq!(GpuFigure::Power.low_slot(), None);
    }

    #[test]
    fn a_stat_keeps_min_max_mean_and_merges() {
        let mut a = Stat::default();
        assert!(a.add(Some(3.0)));
        assert!(!a.add(None));
        assert!(a.add(Some(1.0)));
        assert!(!a.add(Some(5.0)));
        assert_eq!(
            (a.min(), a.max(), a.mean(), a.count),
            (Some(1.0), Some(5.0), Some(3.0), 3)
        );
        let mut b = Stat::default();
        assert!(!b.merge(&Stat::default()));
        assert!(b.merge(&a));
        assert_eq!(b, a);
        assert_eq!(Stat::default().get(Statistic::Mean), None);
    }
}
