//! The device list, each device's description, the samples of a device that stopped
//! answering, a figure whose answer is implausible; NVML's start-up failures as statuses.

use std::ffi::OsStr;
use std::path::Path;

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};

use super::fields::FieldReader;
use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{DeviceState, GpuDevice, GpuField, GpuSample, GpuStatus, MissingReason};

/// The most devices looked at, well above what one machine holds: a driver that counts
/// more (a count no machine has) is asked for the first ones only, so neither the device
/// list nor the per-device arithmetic grows with its count.
const MAX_DEVICES: u32 = 256;

/// Every device NVML knows, in CUDA order (PCI bus order, as with
/// `CUDA_DEVICE_ORDER=PCI_BUS_ID`). A device that cannot be described is left out, with a
/// warning; so are devices past [`MAX_DEVICES`].
pub(super) fn all_devices(
    nvml: &Nvml,
    warnings: &mut Warnings,
) -> Result<Vec<GpuDevice>, NvmlError> {
    let count = match nvml.device_count() {
        Ok(count) if count > MAX_DEVICES => {
            warnings.raise(WarningKind::DeviceError, None, "count", || {
                format!("the driver counts {count} GPUs; only the first {MAX_DEVICES} are sampled")
            });
            MAX_DEVICES
        }
        Ok(count) => count,
        Err(err) => return Err(err),
    };
    let mut devices: Vec<GpuDevice> = (0..count)
        .filter_map(|i| match nvml.device_by_index(i) {
            Ok(device) => Some(describe(&device, i, i, None)),
            Err(err) => {
                warnings.raise(
                    WarningKind::DeviceError,
                    None,
                    &format!("index {i}"),
                    || format!("GPU at NVML index {i} is left out: {err}"),
                );
                None
            }
        })
        .collect();
    devices.sort_by(|a, b| {
        a.pci_bus_id
            .cmp(&b.pci_bus_id)
            .then(a.nvml_index.cmp(&b.nvml_index))
    });
    for (ordinal, device) in devices.iter_mut().enumerate() {
        device.index = ordinal as u32;
    }
    Ok(devices)
}

pub(super) fn describe(
    device: &Device<'_>,
    index: u32,
    nvml_index: u32,
    uuid: Option<String>,
) -> GpuDevice {
    let uuid = uuid
        .or_else(|| device.uuid().ok())
        .unwrap_or_else(|| format!("nvml-index-{nvml_index}"));
    GpuDevice {
        index,
        nvml_index,
        uuid: uuid.into(),
        name: device
            .name()
            .unwrap_or_else(|_| "unknown NVIDIA GPU".to_owned())
            .into(),
        pci_bus_id: device.pci_info().ok().map(|p| p.bus_id),
        memory_total: device.memory_info().ok().map(|m| m.total),
        // The MIG mode is one of the statics, read once with them (`read_statics`) and
        // copied here by the probe.
        mig_enabled: None,
    }
}

pub(super) fn unreachable_device(
    info: &GpuDevice,
    err: &NvmlError,
    warnings: &mut Warnings,
) -> GpuSample {
    if matches!(err, NvmlError::GpuLost) {
        return lost(info, warnings);
    }
    let text = err.to_string();
    warnings.raise(WarningKind::DeviceError, Some(&info.uuid), "handle", || {
        format!("GPU {} ({}) does not answer: {text}", info.index, info.uuid)
    });
    GpuSample::empty(
        info.index,
        info.uuid.clone(),
        info.name.clone(),
        DeviceState::Error(text.into()),
    )
}

/// Records that the driver's answer for `field` is implausible (`why`): the figure is
/// missing with that reason, and a warning says so once.
pub(super) fn implausible(reader: &mut FieldReader<'_>, field: GpuField, why: String) {
    let uuid = reader.sample.uuid.clone();
    reader.warnings.raise(
        WarningKind::FieldFailed,
        Some(&uuid),
        field.as_str(),
        || format!("GPU {uuid}: cannot read {}: {why}", field.as_str()),
    );
    reader.missing(field, MissingReason::Implausible(why.into()));
}

pub(super) fn lost(info: &GpuDevice, warnings: &mut Warnings) -> GpuSample {
    warnings.raise(WarningKind::DeviceLost, Some(&info.uuid), "lost", || {
        format!(
            "GPU {} ({}) is lost (fell off the bus or stopped answering); the other devices are still sampled",
            info.index, info.uuid
        )
    });
    GpuSample::empty(
        info.index,
        info.uuid.clone(),
        info.name.clone(),
        DeviceState::Lost,
    )
}

/// Maps an NVML start-up failure to the status a user can act on.
pub(super) fn init_status(err: &NvmlError, library: Option<&Path>) -> GpuStatus {
    let library = library.map_or(OsStr::new("libnvidia-ml.so.1"), Path::as_os_str);
    match err {
        // libloading's message already names the path.
        NvmlError::LibloadingError(e) => GpuStatus::NoLibrary(e.to_string().into()),
        NvmlError::LibraryNotFound => {
            GpuStatus::NoLibrary(library.to_string_lossy().into_owned().into())
        }
        NvmlError::FailedToLoadSymbol(e) => {
            GpuStatus::NoLibrary(format!("{}: {e}", library.to_string_lossy()).into())
        }
        NvmlError::DriverNotLoaded => GpuStatus::DriverNotLoaded,
        NvmlError::NoPermission => GpuStatus::NoPermission,
        other => GpuStatus::InitFailed(other.to_string().into()),
    }
}
