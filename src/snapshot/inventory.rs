//! The driver and the visible devices as NVML found them when it started, and whether their
//! ordinals are the application's `cuda:N`. Replaced as a whole when NVML starts late (the
//! driver was not there at first): read it again, do not keep a copy.

use std::sync::Arc;

/// Driver versions and the visible devices, as found when NVML started: at the sampler's
/// start, or later when a driver that was not there came back (then the whole inventory is
/// replaced; [`Sampler::inventory`](crate::sampler::Sampler::inventory) gives the current one).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GpuInventory {
    /// NVIDIA driver version, e.g. `550.54.15`.
    pub driver_version: Option<String>,
    /// Highest CUDA version the driver supports, e.g. `12.4`.
    pub cuda_driver_version: Option<String>,
    /// The visible devices, in CUDA order.
    pub devices: Vec<GpuDevice>,
    /// Whether these ordinals are the application's `cuda:N`.
    pub ordinals: CudaOrdinals,
}

/// Whether the crate's ordinals (PCI bus order) are the ones CUDA gives the application.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CudaOrdinals {
    /// `CUDA_DEVICE_ORDER=PCI_BUS_ID`: CUDA orders by PCI bus too.
    PciBusId,
    /// CUDA's default order (`FASTEST_FIRST`), but every visible GPU is the same model, so
    /// the fastest-first order is the PCI order.
    #[default]
    SameModel,
    /// CUDA's default order over GPUs of different models: CUDA's fastest-first heuristic
    /// is not documented, so these ordinals are PCI order and may not be the application's
    /// `cuda:N`. Set `CUDA_DEVICE_ORDER=PCI_BUS_ID` for both to agree.
    PciOrderAssumed,
}

impl CudaOrdinals {
    /// `pci_bus_id`, `same_model` or `pci_order_assumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CudaOrdinals::PciBusId => "pci_bus_id",
            CudaOrdinals::SameModel => "same_model",
            CudaOrdinals::PciOrderAssumed => "pci_order_assumed",
        }
    }

    /// How the ordinals of `devices` relate to CUDA's, under `CUDA_DEVICE_ORDER=order`.
    #[cfg(feature = "nvml")]
    pub(crate) fn of(order: Option<&str>, devices: &[GpuDevice]) -> Self {
        if order.is_some_and(|o| o.trim() == "PCI_BUS_ID") {
            return CudaOrdinals::PciBusId;
        }
        let mut models = devices.iter().map(|d| &d.name);
        let first = models.next();
        if models.all(|m| Some(m) == first) {
            CudaOrdinals::SameModel
        } else {
            CudaOrdinals::PciOrderAssumed
        }
    }
}

/// Identity of one visible GPU.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GpuDevice {
    /// CUDA ordinal among the visible devices.
    pub index: u32,
    /// NVML's index of the device (its position among all devices on the machine).
    pub nvml_index: u32,
    /// Device UUID.
    pub uuid: Arc<str>,
    /// Product name.
    pub name: Arc<str>,
    /// PCI bus id, e.g. `00000000:41:00.0`.
    pub pci_bus_id: Option<String>,
    /// Device memory installed, bytes.
    pub memory_total: Option<u64>,
    /// Whether MIG mode is on.
    pub mig_enabled: Option<bool>,
}
