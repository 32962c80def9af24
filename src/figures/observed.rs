//! The one rule for what a span (or request) observed between its two snapshots: deltas,
//! peaks, lows and means only from two different passes, and a GPU's only from two readings
//! of that GPU (not one carried to the end). Every entry point asks here.

use crate::snapshot::{GpuSample, GpuTier, Snapshot};

/// Whether anything was observed between two snapshots: they are different passes.
pub(crate) fn observed(start: &Snapshot, end: &Snapshot) -> bool {
    end.seq != start.seq
}

/// Whether the device's fast figures at the two ends are two readings: not the same one
/// carried forward (a pass that ran while a slow read held the driver carries the last).
pub(crate) fn read_twice(start: &GpuSample, end: &GpuSample) -> bool {
    start.read_at(GpuTier::Fast) != end.read_at(GpuTier::Fast)
}

/// Whether a GPU's figures changed observably between the ends: two passes (`observed`,
/// from [`observed`]) and two readings of the device.
pub(crate) fn gpu_observed(observed: bool, start: Option<&GpuSample>, end: &GpuSample) -> bool {
    observed && start.is_some_and(|s| read_twice(s, end))
}
