//! What the sampler's reads cost: each tier per read and per pass, and every driver call that
//! took longer than [`SLOW_CALL`], measured on the thread that made it (a driver's time is
//! that thread's CPU time).

use std::time::Duration;

use crate::snapshot::GpuTier;

/// A driver call slower than this is named in [`SamplerHealth::slow_calls`](crate::SamplerHealth).
pub const SLOW_CALL: Duration = Duration::from_micros(100);

/// Most distinct slow calls kept.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
const MAX_CALLS: usize = 32;

/// What one tier of GPU reads cost so far (every device together).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierCost {
    /// Which tier.
    pub tier: GpuTier,
    /// Reads of the tier so far, one per device read.
    pub reads: u64,
    /// The mean time one read took.
    pub per_read: Duration,
    /// The time this tier adds to a pass on average: its total over the passes taken.
    pub per_pass: Duration,
    /// The longest read so far.
    pub longest: Duration,
}

/// A driver call that took longer than [`SLOW_CALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverCall {
    /// The NVML function, e.g. `nvmlDeviceGetTotalEnergyConsumption`.
    pub function: &'static str,
    /// Calls above the threshold so far (one entry per function and tier: the field-value
    /// batches of two tiers are two entries).
    pub calls: u64,
    /// The longest of them.
    pub longest: Duration,
    /// The tier that makes it.
    pub tier: GpuTier,
}

/// Running totals, kept by whoever reads and merged into the sampler's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Costs {
    tiers: [(u64, Duration, Duration); 6],
    calls: Vec<DriverCall>,
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
impl Costs {
    /// One read of `tier` on one device took `took`.
    pub(crate) fn read(&mut self, tier: GpuTier, took: Duration) {
        let t = &mut self.tiers[tier as usize];
        t.0 += 1;
        t.1 += took;
        t.2 = t.2.max(took);
    }

    /// One driver call took `took`; kept when it is slow.
    pub(crate) fn call(&mut self, function: &'static str, tier: GpuTier, took: Duration) {
        if took >= SLOW_CALL {
            self.add_call(DriverCall {
                function,
                calls: 1,
                longest: took,
                tier,
            });
        }
    }

    fn add_call(&mut self, call: DriverCall) {
        let same = |c: &&mut DriverCall| c.function == call.function && c.tier == call.tier;
        if let Some(c) = self.calls.iter_mut().find(same) {
            c.calls += call.calls;
            c.longest = c.longest.max(call.longest);
        } else if self.calls.len() < MAX_CALLS {
            self.calls.push(call);
        }
    }

    /// Adds what another reader measured.
    pub(crate) fn merge(&mut self, other: &Costs) {
        for (mine, theirs) in self.tiers.iter_mut().zip(&other.tiers) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
            mine.2 = mine.2.max(theirs.2);
        }
        for c in &other.calls {
            self.add_call(c.clone());
        }
    }

    /// Each tier's cost, over `passes` passes.
    pub(crate) fn tiers(&self, passes: u64) -> Vec<TierCost> {
        GpuTier::ALL
            .iter()
            .zip(&self.tiers)
            .filter(|(_, t)| t.0 > 0)
            .map(|(&tier, &(reads, total, longest))| TierCost {
                tier,
                reads,
                per_read: total / u32::try_from(reads).unwrap_or(u32::MAX),
                per_pass: total / u32::try_from(passes.max(1)).unwrap_or(u32::MAX),
                longest,
            })
            .collect()
    }

    /// The slow calls, slowest first.
    pub(crate) fn slow_calls(&self) -> Vec<DriverCall> {
        let mut calls = self.calls.clone();
        calls.sort_by_key(|c| std::cmp::Reverse(c.longest));
        calls
    }
}
