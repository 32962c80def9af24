//! The fast tier of one device, read every pass: memory, utilization, temperature, power,
//! this process's memory (the compute and graphics process lists) and the fast condition
//! figures, with the statics read at start.

use std::time::Instant;

use crate::sampler::in_flight;
use nvml_wrapper::enum_wrappers::device::{Clock, PerformanceState, TemperatureSensor};
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::{nvml_sym, nvml_try, NvmlError};
use nvml_wrapper::struct_wrappers::device::ProcessInfo;
use nvml_wrapper::Device;
use nvml_wrapper_sys::bindings::{
    nvmlDevice_t, nvmlProcessInfo_t, nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE, nvmlReturn_t,
};

use super::devices::{implausible, lost};
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
        Some(Listed::Attributed(Attribution::Bytes(bytes))) => {
            reader.sample.process_memory = Some(bytes)
        }
        // The driver lists the process but not its memory (e.g. under WDDM).
        Some(Listed::Attributed(Attribution::NotReported)) => {
            reader.missing(GpuField::ProcessMemory, MissingReason::NotSupported);
        }
        Some(Listed::Attributed(Attribution::Overflow)) => implausible(
            &mut reader,
            GpuField::ProcessMemory,
            "this process's entries in the process lists add up past 2^64 bytes".to_owned(),
        ),
        Some(Listed::TooMany(count)) => implausible(
            &mut reader,
            GpuField::ProcessMemory,
            format!("the driver lists {count} processes, more than the {PROCESSES} read"),
        ),
        Some(Listed::Attributed(Attribution::Namespace)) => {
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

/// The most entries of a process list read (24 bytes each): more than any GPU runs; a
/// driver that claims more gives no figure, and nothing is allocated from its count.
const PROCESSES: u32 = 4096;

/// What the process lists gave.
enum Listed {
    Attributed(Attribution),
    /// A list longer than [`PROCESSES`], by the driver's count.
    TooMany(u32),
}

/// This process's memory on the device, from the compute and graphics lists (see
/// `process_memory::attribute`); `device_used` is the device's memory in use.
fn process_memory(
    device: &Device<'_>,
    device_used: Option<u64>,
    pid: u32,
    pid_namespace: PidNamespace,
) -> Result<Listed, NvmlError> {
    let [compute, graphics] = match both_lists(device) {
        Ok(lists) => lists,
        Err(Listing::TooMany(count)) => return Ok(Listed::TooMany(count)),
        Err(Listing::Failed(err)) => return Err(err),
    };
    if compute.is_none() && graphics.is_none() {
        return Err(NvmlError::NotSupported);
    }
    Ok(Listed::Attributed(process_memory::attribute(
        [compute.as_deref(), graphics.as_deref()],
        pid,
        pid_namespace,
        device_used,
        pid_namespace::visible,
    )))
}

/// The compute and graphics lists of `device`. A list the driver does not have is `None`;
/// any other failure makes the figure unknown rather than a partial (possibly zero) answer.
fn both_lists(device: &Device<'_>) -> Result<[Option<Vec<Entry>>; 2], Listing> {
    let lib = device.nvml().lib();
    let list = |call: Result<&ListCall, NvmlError>| match call
        .map_err(Listing::Failed)
        .and_then(|call| process_list(device, *call))
    {
        Ok(raw) => Ok(Some(raw.into_iter().map(entry).collect())),
        Err(Listing::Failed(NvmlError::NotSupported | NvmlError::FunctionNotFound)) => Ok(None),
        Err(other) => Err(other),
    };
    // Each list names its own call, should it hang (the field is read as the compute one).
    let compute = in_flight::call("nvmlDeviceGetComputeRunningProcesses_v3", None, || {
        list(nvml_sym(
            lib.nvmlDeviceGetComputeRunningProcesses_v3.as_ref(),
        ))
    })?;
    let graphics = in_flight::call("nvmlDeviceGetGraphicsRunningProcesses_v3", None, || {
        list(nvml_sym(
            lib.nvmlDeviceGetGraphicsRunningProcesses_v3.as_ref(),
        ))
    })?;
    Ok([compute, graphics])
}

/// One entry of a process list as `process_memory` reads it (nvml-wrapper's conversion:
/// `NVML_VALUE_NOT_AVAILABLE` is no figure).
fn entry(raw: nvmlProcessInfo_t) -> Entry {
    let p = ProcessInfo::from(raw);
    Entry {
        pid: p.pid,
        bytes: match p.used_gpu_memory {
            UsedGpuMemory::Used(bytes) => Some(bytes),
            UsedGpuMemory::Unavailable => None,
        },
    }
}

/// A process list's driver function (`nvmlDeviceGet{Compute,Graphics}RunningProcesses_v3`).
type ListCall =
    unsafe extern "C" fn(nvmlDevice_t, *mut u32, *mut nvmlProcessInfo_t) -> nvmlReturn_t;

/// Why a process list gave nothing.
enum Listing {
    Failed(NvmlError),
    /// The driver says it holds more than [`PROCESSES`] entries.
    TooMany(u32),
}

/// Room made for a list in the first call: one call where it fits (nvml-wrapper's own
/// asks for the count first, then sizes its buffer from whatever count the driver gives,
/// adding 5 to it: a panic in a debug build when that count is near `u32::MAX`).
const FIRST_ROOM: u32 = 16;

/// One process list of `device` through `call`, in buffers never larger than [`PROCESSES`]
/// entries.
fn process_list(device: &Device<'_>, call: ListCall) -> Result<Vec<nvmlProcessInfo_t>, Listing> {
    let empty = nvmlProcessInfo_t {
        pid: 0,
        usedGpuMemory: 0,
        gpuInstanceId: 0,
        computeInstanceId: 0,
    };
    let mut room = FIRST_ROOM;
    // The list may grow between two calls: a third try, then it counts as failed.
    for _ in 0..3 {
        let mut entries = vec![empty; room as usize];
        let mut count = room;
        // SAFETY: `call` is a function of the library `device` belongs to, and the device
        // handle is alive while `device` is; `entries` has room for `count` entries, all
        // the driver may write.
        let code = unsafe { call(device.handle(), &mut count, entries.as_mut_ptr()) };
        if code == nvmlReturn_enum_NVML_ERROR_INSUFFICIENT_SIZE {
            room = grown(count).ok_or(Listing::TooMany(count))?.max(room);
            continue;
        }
        nvml_try(code).map_err(Listing::Failed)?;
        entries.truncate(count as usize);
        return Ok(entries);
    }
    Err(Listing::Failed(NvmlError::InsufficientSize(None)))
}

/// The room for a list the driver says holds `count` entries, with headroom for processes
/// started between the calls (as nvml-wrapper leaves); `None` beyond [`PROCESSES`].
fn grown(count: u32) -> Option<u32> {
    (count <= PROCESSES).then(|| count.saturating_add(5).min(PROCESSES))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No count the driver gives sizes a list beyond `PROCESSES`, and a count within it
        /// gets room for all its entries.
        #[test]
        fn no_driver_count_sizes_a_list_beyond_the_cap(count in prop_oneof![0u32..=8192, any::<u32>()]) {
            match grown(count) {
                Some(room) => prop_assert!(count <= room && room <= PROCESSES),
                None => prop_assert!(count > PROCESSES),
            }
        }
    }
}
