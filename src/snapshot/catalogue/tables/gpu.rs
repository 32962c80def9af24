//! Each GPU's figures, one row each. A figure exported by an attribute value (a clock's
//! domain, an error's type, a clock-event reason) is a row per value.

use super::super::exports::metric;
use super::super::{Encoding, Figure, GpuKey, Instrument, Kind, Labels, Measure, SpanHistogram};
use super::super::{Statistic, Tier, BYTE_BUCKETS};
use super::{bytes, flag, out, ANY, COMPACT, FULL, OBSERVED};
use crate::keys::metric as m;
use crate::snapshot::{GpuHealth, GpuSample, GpuTier, CLOCK_EVENT_REASONS};

use Encoding::{Bytes, Float, Int};
use Statistic::{Delta, End, Low, Mean, Peak, Start};

/// Whether the clock-event reason with this name (`CLOCK_EVENT_REASONS`) holds, where the
/// device gives the reasons.
fn clock_event(g: &GpuSample, reason: &str) -> Option<f64> {
    let (bit, _) = CLOCK_EVENT_REASONS.iter().find(|(_, r)| *r == reason)?;
    Some(flag(g.condition.clock_event_reasons?.contains(*bit)))
}

/// 1 for the GPU's health state, 0 for the others.
fn status(g: &GpuSample, state: GpuHealth) -> Option<f64> {
    Some(flag(g.health() == state))
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
            metric metric(m::HW_GPU_MEMORY_USAGE, Instrument::IntUpDown, "By", Labels::Gpu),
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
            metric metric(m::PROCESS_GPU_MEMORY_USAGE, Instrument::IntUpDown, "By", Labels::Gpu);
        /// The SM clock, MHz.
        ClockSm = "resmon.gpu.clock.sm", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.condition.clock_sm_mhz.map(f64::from),
            span [out(Low, COMPACT, OBSERVED, |k| &k.clock_sm_min, Int)],
            metric metric(m::GPU_CLOCK, Instrument::Gauge, "MHz", Labels::GpuClock("sm"));
        /// The memory clock, MHz: an HBM clock pulled down under heat or power.
        ClockMemory = "resmon.gpu.clock.memory", Gauge, Tier::Gpu(GpuTier::Fast), low_at false,
            read |g| g.condition.clock_memory_mhz.map(f64::from),
            span [out(Low, FULL, OBSERVED, |k| &k.clock_memory_min, Int)],
            metric metric(m::GPU_CLOCK, Instrument::Gauge, "MHz", Labels::GpuClock("memory"));
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
        /// Device memory, bytes.
        MemoryLimit = "hw.gpu.memory.limit", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| bytes(g.memory_total),
            span [out(End, FULL, ANY, |k| &k.memory_limit, Bytes)],
            metric metric(m::HW_GPU_MEMORY_LIMIT, Instrument::IntUpDown, "By", Labels::Gpu),
            kept false;
        /// Device memory in use over device memory, 0..1: exported only.
        MemoryUtilization = "hw.gpu.memory.utilization", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| match (g.memory_used, g.memory_total) {
                (Some(used), Some(total)) if total > 0 => Some(used as f64 / total as f64),
                _ => None,
            },
            span [],
            metric metric(m::HW_GPU_MEMORY_UTILIZATION, Instrument::Gauge, "1", Labels::Gpu),
            kept false;
        /// The temperature the GPU is `throttled` at, °C: exported only.
        TemperatureThrottled = "hw.temperature.limit.throttled", Gauge, Tier::Gpu(GpuTier::Static),
            low_at false,
            read |g| g.condition.temperature_slowdown,
            span [],
            metric metric(m::HW_TEMPERATURE_LIMIT, Instrument::Gauge, "Cel", Labels::GpuSensorLimit("temperature", "throttled")),
            kept false;
        /// The temperature the GPU is `critical` at, °C: exported only.
        TemperatureCritical = "hw.temperature.limit.critical", Gauge, Tier::Gpu(GpuTier::Static),
            low_at false,
            read |g| g.condition.temperature_shutdown,
            span [],
            metric metric(m::HW_TEMPERATURE_LIMIT, Instrument::Gauge, "Cel", Labels::GpuSensorLimit("temperature", "critical")),
            kept false;
        /// The temperature the GPU is `high.degraded` at, °C: exported only.
        TemperatureHighDegraded = "hw.temperature.limit.high.degraded", Gauge, Tier::Gpu(GpuTier::Static),
            low_at false,
            read |g| g.condition.temperature_gpu_max,
            span [],
            metric metric(m::HW_TEMPERATURE_LIMIT, Instrument::Gauge, "Cel", Labels::GpuSensorLimit("temperature", "high.degraded")),
            kept false;
        /// Whether the clocks are held by `gpu_idle`, 0 or 1: exported only.
        ClockEventGpuIdle = "resmon.gpu.clock_event.gpu_idle", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "gpu_idle"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("gpu_idle")),
            kept false;
        /// Whether the clocks are held by `applications_clocks_setting`, 0 or 1: exported only.
        ClockEventApplicationsClocksSetting = "resmon.gpu.clock_event.applications_clocks_setting", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "applications_clocks_setting"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("applications_clocks_setting")),
            kept false;
        /// Whether the clocks are held by `sw_power_cap`, 0 or 1: exported only.
        ClockEventSwPowerCap = "resmon.gpu.clock_event.sw_power_cap", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "sw_power_cap"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("sw_power_cap")),
            kept false;
        /// Whether the clocks are held by `hw_slowdown`, 0 or 1: exported only.
        ClockEventHwSlowdown = "resmon.gpu.clock_event.hw_slowdown", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "hw_slowdown"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("hw_slowdown")),
            kept false;
        /// Whether the clocks are held by `sync_boost`, 0 or 1: exported only.
        ClockEventSyncBoost = "resmon.gpu.clock_event.sync_boost", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "sync_boost"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("sync_boost")),
            kept false;
        /// Whether the clocks are held by `sw_thermal_slowdown`, 0 or 1: exported only.
        ClockEventSwThermalSlowdown = "resmon.gpu.clock_event.sw_thermal_slowdown", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "sw_thermal_slowdown"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("sw_thermal_slowdown")),
            kept false;
        /// Whether the clocks are held by `hw_thermal_slowdown`, 0 or 1: exported only.
        ClockEventHwThermalSlowdown = "resmon.gpu.clock_event.hw_thermal_slowdown", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "hw_thermal_slowdown"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("hw_thermal_slowdown")),
            kept false;
        /// Whether the clocks are held by `hw_power_brake_slowdown`, 0 or 1: exported only.
        ClockEventHwPowerBrakeSlowdown = "resmon.gpu.clock_event.hw_power_brake_slowdown", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "hw_power_brake_slowdown"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("hw_power_brake_slowdown")),
            kept false;
        /// Whether the clocks are held by `display_clock_setting`, 0 or 1: exported only.
        ClockEventDisplayClockSetting = "resmon.gpu.clock_event.display_clock_setting", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| clock_event(g, "display_clock_setting"),
            span [],
            metric metric(m::GPU_CLOCK_EVENT, Instrument::IntUpDown, "1", Labels::GpuClockReason("display_clock_setting")),
            kept false;
        /// PCIe bytes, direction `receive`: exported only.
        PcieReceived = "hw.gpu.io.receive", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| bytes(g.condition.pcie_rx_bytes),
            span [],
            metric metric(m::HW_GPU_IO, Instrument::Counter, "By", Labels::GpuDirection("receive")),
            kept false;
        /// PCIe bytes, direction `transmit`: exported only.
        PcieTransmitted = "hw.gpu.io.transmit", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| bytes(g.condition.pcie_tx_bytes),
            span [],
            metric metric(m::HW_GPU_IO, Instrument::Counter, "By", Labels::GpuDirection("transmit")),
            kept false;
        /// Time the clocks were held by `sw_power_cap`, seconds: exported only (a span gets its change by its own rule).
        ThrottledPowerCap = "resmon.gpu.throttled_time.sw_power_cap", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| g.condition.throttled_time.power_cap,
            span [],
            metric metric(m::GPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::GpuClockReason("sw_power_cap")),
            kept false;
        /// Time the clocks were held by `sw_thermal_slowdown`, seconds: exported only (a span gets its change by its own rule).
        ThrottledSwThermal = "resmon.gpu.throttled_time.sw_thermal_slowdown", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| g.condition.throttled_time.sw_thermal,
            span [],
            metric metric(m::GPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::GpuClockReason("sw_thermal_slowdown")),
            kept false;
        /// Time the clocks were held by `hw_thermal_slowdown`, seconds: exported only (a span gets its change by its own rule).
        ThrottledHwThermal = "resmon.gpu.throttled_time.hw_thermal_slowdown", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| g.condition.throttled_time.hw_thermal,
            span [],
            metric metric(m::GPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::GpuClockReason("hw_thermal_slowdown")),
            kept false;
        /// Time the clocks were held by `hw_power_brake_slowdown`, seconds: exported only (a span gets its change by its own rule).
        ThrottledPowerBrake = "resmon.gpu.throttled_time.hw_power_brake_slowdown", Counter, Tier::Gpu(GpuTier::Counters),
            low_at false,
            read |g| g.condition.throttled_time.power_brake,
            span [],
            metric metric(m::GPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::GpuClockReason("hw_power_brake_slowdown")),
            kept false;
        /// Errors of type `corrected`: exported only.
        EccCorrected = "hw.errors.corrected", Counter, Tier::Gpu(GpuTier::Health),
            low_at false,
            read |g| g.condition.ecc_corrected.map(|n| n as f64),
            span [],
            metric metric(m::HW_ERRORS, Instrument::Counter, "{error}", Labels::GpuError("corrected")),
            kept false;
        /// Errors of type `uncorrected`: exported only.
        EccUncorrected = "hw.errors.uncorrected", Counter, Tier::Gpu(GpuTier::Health),
            low_at false,
            read |g| g.condition.ecc_uncorrected.map(|n| n as f64),
            span [],
            metric metric(m::HW_ERRORS, Instrument::Counter, "{error}", Labels::GpuError("uncorrected")),
            kept false;
        /// Errors of type `xid`: exported only.
        XidErrors = "hw.errors.xid", Counter, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| g.condition.xid_errors.map(|n| n as f64),
            span [],
            metric metric(m::HW_ERRORS, Instrument::Counter, "{error}", Labels::GpuError("xid")),
            kept false;
        /// Whether the GPU's health is `ok`, 0 or 1: exported only.
        StatusOk = "hw.status.ok", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| status(g, GpuHealth::Ok),
            span [],
            metric metric(m::HW_STATUS, Instrument::IntUpDown, "1", Labels::GpuState("ok")),
            kept false;
        /// Whether the GPU's health is `predicted_failure`, 0 or 1: exported only.
        StatusPredictedFailure = "hw.status.predicted_failure", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| status(g, GpuHealth::PredictedFailure),
            span [],
            metric metric(m::HW_STATUS, Instrument::IntUpDown, "1", Labels::GpuState("predicted_failure")),
            kept false;
        /// Whether the GPU's health is `degraded`, 0 or 1: exported only.
        StatusDegraded = "hw.status.degraded", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| status(g, GpuHealth::Degraded),
            span [],
            metric metric(m::HW_STATUS, Instrument::IntUpDown, "1", Labels::GpuState("degraded")),
            kept false;
        /// Whether the GPU's health is `failed`, 0 or 1: exported only.
        StatusFailed = "hw.status.failed", Gauge, Tier::Gpu(GpuTier::Fast),
            low_at false,
            read |g| status(g, GpuHealth::Failed),
            span [],
            metric metric(m::HW_STATUS, Instrument::IntUpDown, "1", Labels::GpuState("failed")),
            kept false;
        /// Share of the last activity window the SMs were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivitySm = "resmon.gpu.activity.sm", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.sm,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("sm")),
            kept false;
        /// Share of the last activity window warps were resident, over the SMs' maximum, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivitySmOccupancy = "resmon.gpu.activity.sm_occupancy", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.sm_occupancy,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("sm_occupancy")),
            kept false;
        /// Share of the last activity window any tensor core was busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityTensor = "resmon.gpu.activity.tensor", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.tensor,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("tensor")),
            kept false;
        /// Share of the last activity window the HMMA (fp16, bf16, tf32) tensor pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityTensorHmma = "resmon.gpu.activity.tensor.hmma", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.tensor_hmma,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("tensor.hmma")),
            kept false;
        /// Share of the last activity window the IMMA (integer) tensor pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityTensorImma = "resmon.gpu.activity.tensor.imma", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.tensor_imma,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("tensor.imma")),
            kept false;
        /// Share of the last activity window the DFMA (fp64) tensor pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityTensorDfma = "resmon.gpu.activity.tensor.dfma", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.tensor_dfma,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("tensor.dfma")),
            kept false;
        /// Share of the last activity window of DRAM bandwidth was used, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityDram = "resmon.gpu.activity.dram", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.dram,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("dram")),
            kept false;
        /// Share of the last activity window the FP16 pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityFp16 = "resmon.gpu.activity.fp16", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.fp16,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("fp16")),
            kept false;
        /// Share of the last activity window the FP32 pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityFp32 = "resmon.gpu.activity.fp32", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.fp32,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("fp32")),
            kept false;
        /// Share of the last activity window the FP64 pipes were busy, 0..1 (GPM): exported only (spans get their windows by their own rule).
        ActivityFp64 = "resmon.gpu.activity.fp64", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.fp64,
            span [],
            metric metric(m::GPU_ACTIVITY, Instrument::Gauge, "1", Labels::GpuActivity("fp64")),
            kept false;
        /// Bytes per second over pcie, direction `receive`, in the last activity window (GPM): exported only.
        LinkPcieRx = "resmon.gpu.link.io.rate.pcie.receive", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.pcie_rx,
            span [],
            metric metric(m::GPU_LINK_IO_RATE, Instrument::Gauge, "By/s", Labels::GpuLink("pcie", "receive")),
            kept false;
        /// Bytes per second over pcie, direction `transmit`, in the last activity window (GPM): exported only.
        LinkPcieTx = "resmon.gpu.link.io.rate.pcie.transmit", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.pcie_tx,
            span [],
            metric metric(m::GPU_LINK_IO_RATE, Instrument::Gauge, "By/s", Labels::GpuLink("pcie", "transmit")),
            kept false;
        /// Bytes per second over nvlink, direction `receive`, in the last activity window (GPM): exported only.
        LinkNvlinkRx = "resmon.gpu.link.io.rate.nvlink.receive", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.nvlink_rx,
            span [],
            metric metric(m::GPU_LINK_IO_RATE, Instrument::Gauge, "By/s", Labels::GpuLink("nvlink", "receive")),
            kept false;
        /// Bytes per second over nvlink, direction `transmit`, in the last activity window (GPM): exported only.
        LinkNvlinkTx = "resmon.gpu.link.io.rate.nvlink.transmit", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.nvlink_tx,
            span [],
            metric metric(m::GPU_LINK_IO_RATE, Instrument::Gauge, "By/s", Labels::GpuLink("nvlink", "transmit")),
            kept false;
        /// This process's share of the SMs in the last activity window, 0..1: exported only.
        ProcessSm = "resmon.process.gpu.utilization", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.process_sm,
            span [],
            metric metric(m::PROCESS_GPU_UTILIZATION, Instrument::Gauge, "1", Labels::Gpu),
            kept false;
        /// This process's share of the memory controller in the last activity window, 0..1: exported only.
        ProcessMemoryBusy = "resmon.process.gpu.memory.busy", Gauge, Tier::Gpu(GpuTier::Activity),
            low_at false,
            read |g| g.activity.process_memory_busy,
            span [],
            metric metric(m::PROCESS_GPU_MEMORY_BUSY, Instrument::Gauge, "1", Labels::Gpu),
            kept false;
    }
}
