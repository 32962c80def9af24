//! How often each slow GPU tier is read, and how old a read may be and still be carried.

use std::time::Duration;

use super::{DEFAULT_GPU_ACTIVITY_INTERVAL, GPU_ACTIVITY_INTERVAL_PER_GPU};

/// How often each slow GPU tier is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TierRates {
    /// Energy, throttle-time and PCIe counters.
    pub(crate) counters: Duration,
    /// Power limit, ECC, remapped rows, retired pages.
    pub(crate) health: Duration,
    /// GPM and this process's share; `None` for the default by the number of GPUs
    /// ([`TierRates::for_gpus`]).
    pub(crate) activity: Option<Duration>,
    /// The sampling interval: no slow read comes more often than passes do.
    pub(crate) interval: Duration,
}

impl TierRates {
    /// The period of a slow tier.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn of(&self, tier: crate::snapshot::GpuTier) -> Duration {
        match tier {
            crate::snapshot::GpuTier::Health => self.health,
            crate::snapshot::GpuTier::Activity => {
                self.activity.unwrap_or(DEFAULT_GPU_ACTIVITY_INTERVAL)
            }
            _ => self.counters,
        }
    }

    /// These rates with the activity tier's default resolved for `gpus` devices.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn for_gpus(mut self, gpus: usize) -> Self {
        let per_gpu = GPU_ACTIVITY_INTERVAL_PER_GPU * u32::try_from(gpus).unwrap_or(u32::MAX);
        self.activity = Some(
            self.activity
                .unwrap_or_else(|| per_gpu.max(DEFAULT_GPU_ACTIVITY_INTERVAL)),
        );
        self
    }

    /// How old a read of `tier` may be and still be carried: three of its periods, or of
    /// the interval where that is longer.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn stale_after(&self, tier: crate::snapshot::GpuTier) -> Duration {
        self.of(tier).max(self.interval) * crate::sampler::STALE_AFTER
    }
}
