//! When each tier of a GPU's figures was read: a figure carried forward from an earlier read
//! says so, and never counts as a new reading.

use std::time::Instant;

/// The rates at which a GPU's figures are read, by cost and by how fast they change (see
/// [`SamplerBuilder::gpu_counters_interval`](crate::SamplerBuilder::gpu_counters_interval)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GpuTier {
    /// Every pass, including [`Sampler::sample_now`](crate::sampler::Sampler::sample_now): memory,
    /// utilization, temperature, power, clocks, P-state, fan speed, clock-event reasons,
    /// encoder and decoder, this process's memory. About 40 µs a GPU on an H200.
    Fast,
    /// The energy counter (`energy`): 3.1 ms a read on an H200.
    Energy,
    /// The throttle-time and PCIe byte counters (`condition.throttled_time`,
    /// `condition.pcie_rx_bytes`, `condition.pcie_tx_bytes`): 1.7 ms a read on an H200.
    Counters,
    /// The power limit, ECC errors, remapped rows and retired pages: cheap, and they change
    /// rarely.
    Health,
    /// What the GPU's units did between two reads ([`GpuSample::activity`]): GPM's SM,
    /// tensor, DRAM and link figures (Hopper and newer; 1.9 ms a read on an H200) and this
    /// process's share of the device (2.1 ms a read on an H200).
    ///
    /// [`GpuSample::activity`]: crate::snapshot::GpuSample::activity
    Activity,
    /// What does not change while NVML runs: the temperature thresholds, the fan count and
    /// the MIG mode (0.15 ms a read on an H200), read at start and when NVML restarts.
    Static,
}

impl GpuTier {
    /// Every tier, fastest first.
    pub const ALL: [GpuTier; 6] = [
        GpuTier::Fast,
        GpuTier::Energy,
        GpuTier::Counters,
        GpuTier::Health,
        GpuTier::Activity,
        GpuTier::Static,
    ];

    /// `fast`, `energy`, `counters`, `health`, `activity` or `static`.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuTier::Fast => "fast",
            GpuTier::Energy => "energy",
            GpuTier::Counters => "counters",
            GpuTier::Health => "health",
            GpuTier::Activity => "activity",
            GpuTier::Static => "static",
        }
    }

    pub(crate) fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// When each tier was last read, and which tiers this pass read itself (the others are
/// carried from their last read).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TierReads {
    at: [Option<Instant>; 6],
    fresh: u8,
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
impl TierReads {
    /// Tier `tier` was read at `at`; `fresh` when this pass is the first to carry that read.
    pub(crate) fn set(&mut self, tier: GpuTier, at: Instant, fresh: bool) {
        self.at[tier as usize] = Some(at);
        if fresh {
            self.fresh |= tier.bit();
        } else {
            self.fresh &= !tier.bit();
        }
    }

    /// Tier `tier` has no read (its last one is too old to carry).
    pub(crate) fn clear(&mut self, tier: GpuTier) {
        self.at[tier as usize] = None;
        self.fresh &= !tier.bit();
    }

    pub(crate) fn at(&self, tier: GpuTier) -> Option<Instant> {
        self.at[tier as usize]
    }

    pub(crate) fn is_fresh(&self, tier: GpuTier) -> bool {
        self.fresh & tier.bit() != 0
    }

    /// Every tier read at `at`, by this pass.
    #[cfg(test)]
    pub(crate) fn all_fresh(at: Instant) -> Self {
        Self {
            at: [Some(at); 6],
            fresh: 0b111111,
        }
    }

    /// The same reads, none of them new.
    pub(crate) fn carried(mut self) -> Self {
        self.fresh = 0;
        self
    }
}
