//! The fast tier of one device, read every pass: memory, utilization, temperature, power,
//! this process's memory (the compute and graphics process lists) and the fast condition
//! figures, with the statics read at start.

use std::time::Instant;

use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::Device;

use super::condition;
use super::devices::lost;
use super::fields::FieldReader;
use super::process_memory::{self, Attribution, Entry};
use super::Visible;
use crate::sampler::costs::Costs;
use crate::sampler::pid_namespace::{self, PidNamespace};
use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{DeviceState, GpuField, GpuSample, GpuTier, MissingReason};

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
    condition::read_fast(device, &mut reader, statics);
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
