//! What the GPU thread publishes for readers, apart from the snapshots: the inventory, the
//! activity windows and what the reads cost.

use std::sync::Mutex;

use arc_swap::ArcSwap;

use super::activity_log::ActivityLog;
use super::costs;
use crate::snapshot::GpuInventory;

/// What the GPU thread publishes for readers.
#[derive(Default)]
pub(super) struct GpuShared {
    /// Replaced when NVML starts (late, or again after the driver came back).
    pub(super) inventory: ArcSwap<GpuInventory>,
    /// Every GPU's activity windows, replaced after each activity read that found one.
    pub(super) activity: ArcSwap<ActivityLog>,
    /// A copy of what the reads cost so far, refreshed after each pass.
    pub(super) costs: Mutex<costs::Costs>,
}
