//! What a GPU's units did between two reads of the activity tier: GPM's figures (Hopper and
//! newer) and this process's share of the device.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// What a GPU's units did over one window, between two reads of [`GpuTier::Activity`]
/// (`window`). Fractions are 0..1 of the window, rates bytes per second. A figure is `None`
/// where the device or driver does not give it, or before the first window is complete; the
/// reason is in [`GpuSample::missing`] under [`GpuField::Gpm`] or
/// [`GpuField::ProcessUtilization`].
///
/// Semantic conventions have no names for these yet: their metrics (`resmon.gpu.activity`,
/// `resmon.gpu.link.io.rate`, `resmon.process.gpu.utilization`) are provisional.
///
/// [`GpuTier::Activity`]: crate::snapshot::GpuTier::Activity
/// [`GpuSample::missing`]: crate::snapshot::GpuSample::missing
/// [`GpuField::Gpm`]: crate::snapshot::GpuField::Gpm
/// [`GpuField::ProcessUtilization`]: crate::snapshot::GpuField::ProcessUtilization
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct GpuActivity {
    /// The window's start and end: the two reads the figures are computed between.
    pub window: Option<(Instant, Instant)>,
    /// The pass (`Snapshot::seq`) after which the window began: a span whose start snapshot
    /// is older began before the window did.
    pub(crate) from_pass: Option<u64>,
    /// Share of the window the SMs were busy (GPM's SM utilization).
    pub sm: Option<f64>,
    /// Warps resident over the SMs' maximum (GPM's SM occupancy).
    pub sm_occupancy: Option<f64>,
    /// Share of the window any tensor core was busy.
    pub tensor: Option<f64>,
    /// Share of the window the half-precision (HMMA: fp16, bf16, tf32) tensor pipes were busy.
    pub tensor_hmma: Option<f64>,
    /// Share of the window the integer (IMMA) tensor pipes were busy.
    pub tensor_imma: Option<f64>,
    /// Share of the window the double-precision (DFMA) tensor pipes were busy.
    pub tensor_dfma: Option<f64>,
    /// Device memory bandwidth used over its maximum.
    pub dram: Option<f64>,
    /// Share of the window the FP16 pipes were busy.
    pub fp16: Option<f64>,
    /// Share of the window the FP32 pipes were busy.
    pub fp32: Option<f64>,
    /// Share of the window the FP64 pipes were busy.
    pub fp64: Option<f64>,
    /// PCIe bytes per second received by the GPU.
    pub pcie_rx: Option<f64>,
    /// PCIe bytes per second sent by the GPU.
    pub pcie_tx: Option<f64>,
    /// NVLink bytes per second received, all links.
    pub nvlink_rx: Option<f64>,
    /// NVLink bytes per second sent, all links.
    pub nvlink_tx: Option<f64>,
    /// This process's share of the SMs over the window: the mean of the driver's samples of
    /// this process in it (the driver samples a process in the periods it ran, so this is its
    /// share while it ran; another process's share never counts).
    pub process_sm: Option<f64>,
    /// This process's share of the memory controller over the window.
    pub process_memory_busy: Option<f64>,
}

impl GpuActivity {
    /// No figure: one shared value, so a sample without a read allocates nothing.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn none() -> Arc<GpuActivity> {
        static NONE: OnceLock<Arc<GpuActivity>> = OnceLock::new();
        NONE.get_or_init(Arc::default).clone()
    }
}
