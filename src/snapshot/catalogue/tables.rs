//! The two tables: the host's and this process's figures, and each GPU's. A row per
//! figure; adding a figure is a row here and its keys in `keys.rs`.

use super::exports::metric;
use super::{Encoding, GpuKey, HostKey, Statistic};
use super::{
    Figure, Instrument, Kind, Labels, Measure, SpanHistogram, SpanOutput, Tier, BYTE_BUCKETS,
    CPU_SECONDS,
};
use crate::keys;
use crate::keys::metric as m;
use crate::snapshot::{GpuSample, GpuTier, Snapshot};

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
use Statistic::{Delta, End, Low, Mean, Peak, Rise, Start};

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
            span [
                out(End, COMPACT, ANY, || &keys::SYSTEM_CPU_UTILIZATION_END, Float),
                out(Mean, FULL, ANY, || &keys::SYSTEM_CPU_UTILIZATION_MEAN, Float),
            ],
            metric metric(m::SYSTEM_CPU_UTILIZATION, Instrument::Gauge, "1", Labels::None);
        /// Host 1-minute load average.
        Load1m = "resmon.system.load_average.1m", Gauge, Tier::Pass, low_at false,
            read |s| s.host.load_average_1m,
            span [out(End, FULL, ANY, || &keys::SYSTEM_LOAD_AVERAGE_END, Float)],
            metric None;
        /// Host memory in use, bytes.
        MemoryUsed = "system.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.host.memory_used),
            span [
                out(Start, FULL, ANY, || &keys::SYSTEM_MEMORY_START, Bytes),
                out(End, COMPACT, ANY, || &keys::SYSTEM_MEMORY_END, Bytes),
            ],
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
            span [out(Delta, COMPACT, OBSERVED, || &keys::PROCESS_CPU_TIME_DELTA, Float)],
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
            span [
                out(Start, FULL, ANY, || &keys::PROCESS_MEMORY_START, Bytes),
                out(End, COMPACT, ANY, || &keys::PROCESS_MEMORY_END, Bytes),
                out(Delta, COMPACT, OBSERVED, || &keys::PROCESS_MEMORY_DELTA, Bytes),
                out(Peak, FULL, ANY, || &keys::PROCESS_MEMORY_PEAK, Bytes),
            ],
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
            span [out(End, FULL, ANY, || &keys::PROCESS_VIRTUAL_END, Bytes)],
            metric None;
        /// The cgroup's headroom under its memory limit (limit − working set), bytes.
        ContainerHeadroom = "container.memory.available", Gauge, Tier::Pass, low_at true,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_available())),
            span [],
            metric metric(m::CONTAINER_MEMORY_AVAILABLE, Instrument::Bytes, "By", Labels::None);
        /// The cgroup's working set (what the OOM killer and the kubelet weigh), bytes.
        ContainerWorkingSet = "container.memory.working_set", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_working_set)),
            span [
                out(End, COMPACT, ANY, || &keys::CONTAINER_MEMORY_WORKING_SET_END, Bytes),
                out(Delta, COMPACT, OBSERVED, || &keys::CONTAINER_MEMORY_WORKING_SET_DELTA, Bytes),
            ],
            metric metric(m::CONTAINER_MEMORY_WORKING_SET, Instrument::Bytes, "By", Labels::None);
        /// The time the cgroup's CPU quota throttled it, seconds.
        ContainerThrottledTime = "resmon.container.cpu.throttled_time", Counter, Tier::Pass,
            low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_throttled_time),
            span [out(Rise, COMPACT, OBSERVED, || &keys::CONTAINER_CPU_THROTTLED_TIME_DELTA, Float)],
            metric metric(m::CONTAINER_CPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::None);
        /// The cgroup's memory in use (page cache included), bytes: exported only.
        ContainerMemoryUsage = "container.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_usage)),
            span [],
            metric metric(m::CONTAINER_MEMORY_USAGE, Instrument::Bytes, "By", Labels::None),
            kept false;
        /// The cgroup's CPU use over the last pass, CPUs: exported only.
        ContainerCpuUsage = "container.cpu.usage", Gauge, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_usage),
            span [],
            metric metric(m::CONTAINER_CPU_USAGE, Instrument::Gauge, "{cpu}", Labels::None),
            kept false;
        /// The cgroup's CPU time, seconds: exported only.
        ContainerCpuTime = "container.cpu.time", Counter, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_time),
            span [],
            metric metric(m::CONTAINER_CPU_TIME, Instrument::Counter, "s", Labels::None),
            kept false;
        /// The CPU-quota periods the cgroup was throttled in: exported only.
        ContainerThrottledPeriods = "resmon.container.cpu.throttled_periods", Counter, Tier::Pass,
            low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_throttled_periods).map(|n| n as f64),
            span [],
            metric metric(m::CONTAINER_CPU_THROTTLED_PERIODS, Instrument::Counter, "{period}", Labels::None),
            kept false;
        /// The cgroup's OOM kills: exported only.
        ContainerOomKills = "resmon.container.memory.oom_kills", Counter, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.memory_oom_kills).map(|n| n as f64),
            span [],
            metric metric(m::CONTAINER_MEMORY_OOM_KILLS, Instrument::Counter, "{kill}", Labels::None),
            kept false;
    }
}

catalogue! {
    /// One GPU's figures.
    enum GpuFigure of GpuSample, keys GpuKey {
        /// Device memory in use, bytes.
        MemoryUsed = "hw.gpu.memory.usage", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| bytes(g.memory_used),
            span [
                out(Start, FULL, ANY, |k| &k.memory_start, Bytes),
                out(End, COMPACT, ANY, |k| &k.memory_end, Bytes),
                out(Delta, COMPACT, OBSERVED, |k| &k.memory_delta, Bytes),
                out(Peak, COMPACT, OBSERVED, |k| &k.memory_peak, Bytes),
            ],
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
            span [
                out(Start, FULL, ANY, |k| &k.process_memory_start, Bytes),
                out(End, COMPACT, ANY, |k| &k.process_memory_end, Bytes),
                out(Delta, COMPACT, OBSERVED, |k| &k.process_memory_delta, Bytes),
                out(Peak, FULL, ANY, |k| &k.process_memory_peak, Bytes),
            ],
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
