//! Starting the GPU probe: loading NVML (after checking the library has the symbols
//! nvml-wrapper calls unchecked), listing the devices in CUDA order through
//! `CUDA_VISIBLE_DEVICES`, the inventory, the first read of every tier, and the XID watcher.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nvml_wrapper::Nvml;

use super::devices::{all_devices, describe, init_status};
use super::visible::{self, Resolved};
use super::{xid_watch, GpuProbe, Locator, Rates, Visible, FIRST_RETRY};
use crate::sampler::costs::Costs;
use crate::sampler::pid_namespace::PidNamespace;
use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{CudaOrdinals, GpuInventory, GpuStatus};

/// Symbols nvml-wrapper calls without checking that they loaded: `nvmlInit_v2` to start and
/// `nvmlShutdown` in its `Drop`, which panics when the symbol is missing.
const REQUIRED_SYMBOLS: [&str; 2] = ["nvmlInit_v2", "nvmlShutdown"];

/// The first required symbol `library` lacks; `None` when it has them all or does not load
/// (nvml-wrapper then reports why).
fn missing_symbol(library: &OsStr) -> Option<&'static str> {
    // SAFETY: loading the library runs its initialisers, exactly as nvml-wrapper's own load
    // right after this does; nothing in it is called here.
    let lib = unsafe { libloading::Library::new(library) }.ok()?;
    REQUIRED_SYMBOLS.into_iter().find(|name| {
        // SAFETY: the symbol is only looked up, never called, so its type does not matter.
        unsafe { lib.get::<unsafe extern "C" fn()>(name.as_bytes()) }.is_err()
    })
}

/// Whether a failed start can heal by itself, so that NVML is worth opening again later: a
/// driver not loaded yet (being installed or upgraded) or an error of NVML's own. A missing
/// library, a missing permission or no visible device stay as they are until someone
/// changes the machine or the settings, which restarts the process anyway.
fn heals(status: &GpuStatus) -> bool {
    matches!(
        status,
        GpuStatus::DriverNotLoaded | GpuStatus::InitFailed(_)
    )
}

impl GpuProbe {
    /// Loads NVML and lists the visible devices. Never fails: what went wrong is the status.
    pub(crate) fn open(
        library: Option<&Path>,
        visible_devices: Option<&str>,
        cuda_device_order: Option<&str>,
        rates: Rates,
        warnings: &mut Warnings,
        xid: Arc<crate::sampler::xid::XidLog>,
    ) -> (Self, GpuInventory) {
        let mut probe = Self {
            nvml: None,
            rates,
            costs: Costs::default(),
            devices: Vec::new(),
            status: GpuStatus::NoDevices,
            pid: std::process::id(),
            pid_namespace: PidNamespace::of_this_process(),
            library: library.map(Path::to_path_buf),
            visible_devices: visible_devices.map(str::to_owned),
            cuda_device_order: cuda_device_order.map(str::to_owned),
            retry: Some((Instant::now() + FIRST_RETRY, FIRST_RETRY)),
            xid: xid_watch::XidWatch::new(xid),
            activity_log: Default::default(),
        };
        let path = library.map_or(OsStr::new("libnvidia-ml.so.1"), Path::as_os_str);
        if let Some(symbol) = missing_symbol(path) {
            probe.status =
                GpuStatus::InitFailed(format!("{} lacks {symbol}", path.to_string_lossy()).into());
            // A library without the symbol will not grow it.
            probe.retry = None;
            let status = probe.status.clone();
            warnings.raise(WarningKind::GpuUnavailable, None, "init", || {
                format!("no GPU figures: {status}")
            });
            return (probe, GpuInventory::default());
        }
        let mut builder = Nvml::builder();
        if let Some(path) = library {
            builder.lib_path(path.as_os_str());
        }
        let init = crate::sampler::in_flight::call("nvmlInit_v2", None, || builder.init());
        let nvml = match init {
            Ok(nvml) => nvml,
            Err(err) => {
                probe.status = init_status(&err, library);
                if !heals(&probe.status) {
                    probe.retry = None;
                }
                let status = probe.status.clone();
                warnings.raise(WarningKind::GpuUnavailable, None, "init", || {
                    format!("no GPU figures: {status}")
                });
                return (probe, GpuInventory::default());
            }
        };
        let mut inventory = GpuInventory {
            driver_version: nvml.sys_driver_version().ok(),
            cuda_driver_version: nvml
                .sys_cuda_driver_version()
                .ok()
                .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)),
            devices: Vec::new(),
            ordinals: CudaOrdinals::default(),
        };

        let all = match all_devices(&nvml, warnings) {
            Ok(all) => all,
            Err(err) => {
                // An NVML error, not a steady state: tried again (the retry stays set).
                probe.status = GpuStatus::InitFailed(format!("cannot count devices: {err}").into());
                let status = probe.status.clone();
                warnings.raise(WarningKind::GpuUnavailable, None, "count", || {
                    format!("no GPU figures: {status}")
                });
                return (probe, GpuInventory::default());
            }
        };
        let uuids: Vec<&str> = all.iter().map(|d| &*d.uuid).collect();
        let (resolved, bad) = match visible_devices {
            None => ((0..all.len()).map(Resolved::Device).collect(), None),
            Some(value) => {
                let (selectors, bad_entry) = visible::parse(value);
                let (resolved, unresolved) = visible::resolve(&selectors, &uuids);
                // The list stops at whichever comes first: an unresolvable entry precedes
                // any unparsable one, since resolution only sees entries before it.
                (resolved, unresolved.or(bad_entry))
            }
        };
        if let Some(entry) = bad {
            warnings.raise(WarningKind::VisibleDevices, None, &entry, || {
                format!(
                    "CUDA_VISIBLE_DEVICES entry {entry:?} names no device; it and the entries after it are ignored"
                )
            });
        }
        for target in resolved {
            let index = probe.devices.len() as u32;
            let visible = match target {
                Resolved::Device(i) => {
                    let mut info = all[i].clone();
                    info.index = index;
                    Visible::new(info, Locator::Index(all[i].nvml_index))
                }
                Resolved::Mig(uuid) => match nvml.device_by_uuid(uuid.as_str()) {
                    Ok(device) => Visible::new(
                        describe(&device, index, u32::MAX, Some(uuid.clone())),
                        Locator::Uuid(uuid),
                    ),
                    Err(err) => {
                        warnings.raise(WarningKind::VisibleDevices, None, &uuid, || {
                            format!("CUDA_VISIBLE_DEVICES entry {uuid:?} was not found ({err}); it and the entries after it are ignored")
                        });
                        break;
                    }
                },
            };
            inventory.devices.push(visible.info.clone());
            probe.devices.push(visible);
        }
        probe.status = if probe.devices.is_empty() {
            warnings.raise(WarningKind::GpuUnavailable, None, "no_devices", || {
                "no GPU figures: no visible GPU".to_owned()
            });
            GpuStatus::NoDevices
        } else {
            GpuStatus::Ok
        };
        // Seeing no GPU (`CUDA_VISIBLE_DEVICES=-1` or empty, a MIG UUID that is not
        // there) is a steady state, not a failure: NVML is not opened again for it.
        probe.retry = None;
        inventory.ordinals = CudaOrdinals::of(cuda_device_order, &inventory.devices);
        if inventory.ordinals == CudaOrdinals::PciOrderAssumed {
            let models: Vec<&str> = inventory.devices.iter().map(|d| &*d.name).collect();
            warnings.raise(
                WarningKind::CudaDeviceOrder,
                None,
                "cuda_device_order",
                || {
                    format!(
                        "the visible GPUs are different models ({}) and CUDA_DEVICE_ORDER is not \
                     PCI_BUS_ID: CUDA numbers them fastest first, by a heuristic NVML cannot \
                     reproduce, so resmon.gpu.<i> and CUDA_VISIBLE_DEVICES ordinals here are \
                     PCI bus order and may not be the application's cuda:<i>; set \
                     CUDA_DEVICE_ORDER=PCI_BUS_ID for both to agree",
                        models.join(", ")
                    )
                },
            );
        }
        // The activity tier's default rate depends on how many GPUs share its cost.
        probe.rates = probe.rates.for_gpus(probe.devices.len());
        let nvml = Arc::new(nvml);
        probe.read_first(&nvml, warnings);
        // The MIG mode has one home, the statics: one read at start, not one per place.
        for (v, d) in probe.devices.iter_mut().zip(&mut inventory.devices) {
            v.info.mig_enabled = v.statics.mig_enabled();
            d.mig_enabled = v.info.mig_enabled;
        }
        let uuids = probe.uuids();
        probe.xid.start(&nvml, uuids);
        probe.nvml = Some(nvml);
        (probe, inventory)
    }
}
