//! The fast tier of one device, read every pass: memory, utilization, temperature, power,
//! this process's memory (the compute and graphics process lists) and the fast condition
//! figures, with the statics read at start.

use std::time::Instant;

use nvml_wrapper::enum_wrappers::device::{Clock, PerformanceState, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::Device;

use super::devices::lost;
use super::fields::FieldReader;
use super::process_memory::{self, Attribution, Entry};
use super::statics::Statics;
use super::Visible;
use crate::sampler::costs::Costs;
use crate::sampler::pid_namespace::{self, PidNamespace};
use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{
    ClockEventReasons, DeviceState, GpuField, GpuSample, GpuTier, MissingReason,
};

/// The fast tier of one device, with its statics.
pub(super) fn read_fast(
    device: &Device<'_>,
    visible: &Visible,
    pid: u32,
    pid_namespace: PidNamespace,
    warnings: &mut Warnings,
    costs: &mut Costs,
) -> GpuSample {
    let (info, statics) = (&visible.info, &visible.statics);
    let mut sample = GpuSample::empty(
        info.index,
        info.uuid.clone(),
        info.name.clone(),
        DeviceState::Ok,
    );
    let mut reader = FieldReader {
        sample: &mut sample,
        warnings,
        costs,
        tier: GpuTier::Fast,
        lost: false,
    };
    if let Some(m) = reader.get(GpuField::Memory, "nvmlDeviceGetMemoryInfo_v2", || {
        device.memory_info()
    }) {
        reader.sample.memory_used = Some(m.used);
        reader.sample.memory_free = Some(m.free);
        reader.sample.memory_total = Some(m.total);
        reader.sample.memory_reserved = Some(m.reserved);
    }
    if let Some(u) = reader.get(
        GpuField::Utilization,
        "nvmlDeviceGetUtilizationRates",
        || device.utilization_rates(),
    ) {
        reader.sample.utilization_gpu = Some(f64::from(u.gpu) / 100.0);
        reader.sample.memory_busy = Some(f64::from(u.memory) / 100.0);
    }
    reader.sample.temperature = reader
        .get(GpuField::Temperature, "nvmlDeviceGetTemperature", || {
            device.temperature(TemperatureSensor::Gpu)
        })
        .map(f64::from);
    reader.sample.power = reader
        .get(GpuField::Power, "nvmlDeviceGetPowerUsage", || {
            device.power_usage()
        })
        .map(|mw| f64::from(mw) / 1e3);
    let used = reader.sample.memory_used;
    let attribution = reader.get(
        GpuField::ProcessMemory,
        "nvmlDeviceGetComputeRunningProcesses_v3",
        || process_memory(device, used, pid, pid_namespace),
    );
    match attribution {
        Some(Attribution::Bytes(bytes)) => reader.sample.process_memory = Some(bytes),
        // The driver lists the process but not its memory (e.g. under WDDM).
        Some(Attribution::NotReported) => {
            reader.missing(GpuField::ProcessMemory, MissingReason::NotSupported);
        }
        Some(Attribution::Namespace) => {
            reader.missing(GpuField::ProcessMemory, MissingReason::PidNamespace);
            reader
                .warnings
                .raise(WarningKind::PidNamespace, None, "pid_namespace", || {
                    "this process's GPU memory is unknown: it runs in a PID namespace of its \
                     own (a container) and the driver lists processes by host pid; run with \
                     hostPID: true (Kubernetes), --pid=host (docker), or a driver that \
                     translates pids"
                        .to_owned()
                });
        }
        None => {}
    }
    read_condition(device, &mut reader, statics);
    if reader.lost {
        return lost(info, warnings);
    }
    sample.taken_at = Instant::now();
    sample.reads.set(GpuTier::Fast, sample.taken_at, true);
    sample
}

/// This process's memory on the device, from the compute and graphics lists (see
/// `process_memory::attribute`); `device_used` is the device's memory in use.
fn process_memory(
    device: &Device<'_>,
    device_used: Option<u64>,
    pid: u32,
    pid_namespace: PidNamespace,
) -> Result<Attribution, NvmlError> {
    // A list the driver does not have counts as absent; any other failure makes the
    // figure unknown rather than a partial (possibly zero) answer.
    let list = |r: Result<Vec<ProcessInfo>, NvmlError>| match r {
        Ok(list) => Ok(Some(
            list.iter()
                .map(|p| Entry {
                    pid: p.pid,
                    bytes: match p.used_gpu_memory {
                        UsedGpuMemory::Used(bytes) => Some(bytes),
                        UsedGpuMemory::Unavailable => None,
                    },
                })
                .collect::<Vec<_>>(),
        )),
        Err(NvmlError::NotSupported | NvmlError::FunctionNotFound) => Ok(None),
        Err(err) => Err(err),
    };
    let compute = list(device.running_compute_processes())?;
    let graphics = list(device.running_graphics_processes())?;
    if compute.is_none() && graphics.is_none() {
        return Err(NvmlError::NotSupported);
    }
    Ok(process_memory::attribute(
        [compute.as_deref(), graphics.as_deref()],
        pid,
        pid_namespace,
        device_used,
        pid_namespace::visible,
    ))
}

/// The fast tier's condition figures (`GpuSample::condition`): the clocks (two calls), the
/// performance state, the fan speed where the board has a fan, the clock-event reasons, and
/// encoder and decoder use; with the statics put in first.
fn read_condition(device: &Device<'_>, reader: &mut FieldReader<'_>, statics: &Statics) {
    statics.apply(reader);

    let sm = reader.get(GpuField::Clocks, "nvmlDeviceGetClockInfo", || {
        device.clock_info(Clock::SM)
    });
    let memory = reader.get(GpuField::Clocks, "nvmlDeviceGetClockInfo", || {
        device.clock_info(Clock::Memory)
    });
    reader.sample.condition.clock_sm_mhz = sm;
    reader.sample.condition.clock_memory_mhz = memory;
    let state = reader.get(
        GpuField::PerformanceState,
        "nvmlDeviceGetPerformanceState",
        || device.performance_state(),
    );
    reader.sample.condition.performance_state = state.and_then(pstate);
    if let (Some(_), None) = (state, reader.sample.condition.performance_state) {
        reader.missing(
            GpuField::PerformanceState,
            crate::snapshot::MissingReason::NotSupported,
        );
    }
    match statics.fans() {
        Some(0) => reader.missing(
            GpuField::FanSpeed,
            crate::snapshot::MissingReason::NotSupported,
        ),
        Some(_) => {
            reader.sample.condition.fan_speed = reader
                .get(GpuField::FanSpeed, "nvmlDeviceGetFanSpeed_v2", || {
                    device.fan_speed(0)
                })
                .map(|p| f64::from(p) / 100.0);
        }
        None => {}
    }
    reader.sample.condition.clock_event_reasons = reader
        .get(
            GpuField::ClockEventReasons,
            "nvmlDeviceGetCurrentClocksEventReasons",
            || device.current_throttle_reasons(),
        )
        .map(|r| ClockEventReasons(r.bits()));
    reader.sample.condition.encoder_utilization = reader
        .get(
            GpuField::EncoderUtilization,
            "nvmlDeviceGetEncoderUtilization",
            || device.encoder_utilization(),
        )
        .map(|u| f64::from(u.utilization) / 100.0);
    reader.sample.condition.decoder_utilization = reader
        .get(
            GpuField::DecoderUtilization,
            "nvmlDeviceGetDecoderUtilization",
            || device.decoder_utilization(),
        )
        .map(|u| f64::from(u.utilization) / 100.0);
}

fn pstate(p: PerformanceState) -> Option<u8> {
    use PerformanceState::*;
    Some(match p {
        Zero => 0,
        One => 1,
        Two => 2,
        Three => 3,
        Four => 4,
        Five => 5,
        Six => 6,
        Seven => 7,
        Eight => 8,
        Nine => 9,
        Ten => 10,
        Eleven => 11,
        Twelve => 12,
        Thirteen => 13,
        Fourteen => 14,
        Fifteen => 15,
        Unknown => return None,
    })
}
