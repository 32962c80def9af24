//! The slow tiers: reads too expensive for every pass (the energy counter, the throttle-time
//! and PCIe counters, the activity figures) or not worth it (the health figures). Each device's slow reads are due
//! at their tier's rate, spread over devices and passes; the sampler thread makes at most one
//! after each interval pass's answer, on the GPU thread, so nobody waits behind it. Their results
//! are carried on every pass after, with the time they were read, and are fresh in one pass
//! only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nvml_wrapper::{Device, Nvml};

use super::activity::{self, ActivityContext};
use super::batches::{read_batch, COUNTERS, HEALTH};
use super::fields::FieldReader;
use super::Locator;
pub(crate) use crate::sampler::builder::TierRates as Rates;
use crate::sampler::costs::Costs;
use crate::sampler::warning::Warnings;
use crate::snapshot::{DeviceState, GpuField, GpuSample, GpuTier, MissingField, MissingReason};

/// The slow tiers, in the order their first reads are spread.
pub(crate) const SLOW: [GpuTier; 4] = [
    GpuTier::Energy,
    GpuTier::Counters,
    GpuTier::Health,
    GpuTier::Activity,
];

/// The last read of one slow tier on one device.
struct Read {
    at: Instant,
    /// The figures it read (the rest of the sample is empty).
    sample: GpuSample,
    /// No pass has carried it yet.
    unseen: bool,
}

/// One device's slow reads: the last of each tier, and when each is due next.
pub(super) struct SlowReads {
    last: [Option<Read>; 4],
    due: [Instant; 4],
}

impl SlowReads {
    /// Reads due from `first` on, `spread[k]` after it for tier `k`.
    pub(super) fn new(first: Instant, spread: [Duration; 4]) -> Self {
        Self {
            last: [None, None, None, None],
            due: spread.map(|d| first + d),
        }
    }

    /// The earliest read due at `now`: its tier and due time.
    pub(super) fn due(&self, now: Instant) -> Option<(Instant, GpuTier)> {
        (0..SLOW.len())
            .filter(|&k| self.due[k] <= now)
            .min_by_key(|&k| self.due[k])
            .map(|k| (self.due[k], SLOW[k]))
    }

    /// Sets when each tier is due next: `spread[k]` after `first` for tier `k`.
    pub(super) fn due_from(&mut self, first: Instant, spread: [Duration; 4]) {
        self.due = spread.map(|d| first + d);
    }

    /// A read that found the device lost: the next try is a period later.
    pub(super) fn postpone(&mut self, tier: GpuTier, at: Instant, rates: Rates) {
        self.due[slot(tier)] = at + rates.of(tier);
    }

    /// Stores a read and sets when the tier is due next.
    pub(super) fn store(&mut self, tier: GpuTier, at: Instant, sample: GpuSample, rates: Rates) {
        let k = slot(tier);
        self.due[k] = at + rates.of(tier);
        self.last[k] = Some(Read {
            at,
            sample,
            unseen: true,
        });
    }

    /// Puts the last read of every slow tier on `sample`: the figures, why any is missing,
    /// and when it was read; fresh where no pass carried it before. A read older than three
    /// of its tier's periods (or intervals) is not carried: its figures are missing, stale.
    pub(super) fn apply(&mut self, sample: &mut GpuSample, now: Instant, rates: Rates) {
        for (k, read) in self.last.iter_mut().enumerate() {
            let Some(read) = read else { continue };
            let tier = SLOW[k];
            if now.saturating_duration_since(read.at) > rates.stale_after(tier) {
                clear(tier, sample);
                for field in fields(tier) {
                    push_missing(sample, *field, MissingReason::Stale);
                }
                continue;
            }
            copy(tier, &read.sample, sample);
            sample.reads.set(tier, read.at, read.unseen);
            read.unseen = false;
        }
    }
}

fn slot(tier: GpuTier) -> usize {
    SLOW.iter().position(|t| *t == tier).unwrap_or(0)
}

/// The figures each slow tier reads.
fn fields(tier: GpuTier) -> &'static [GpuField] {
    match tier {
        GpuTier::Energy => &[GpuField::Energy],
        GpuTier::Counters => &[GpuField::ThrottledTime, GpuField::PcieBytes],
        GpuTier::Health => &[
            GpuField::PowerLimit,
            GpuField::EccErrors,
            GpuField::RemappedRows,
            GpuField::RetiredPages,
        ],
        GpuTier::Activity => &[GpuField::Gpm, GpuField::ProcessUtilization],
        GpuTier::Fast | GpuTier::Static => &[],
    }
}

fn push_missing(sample: &mut GpuSample, field: GpuField, reason: MissingReason) {
    if !sample.missing.iter().any(|m| m.field == field) {
        sample.missing.push(MissingField { field, reason });
    }
}

/// Takes the figures of `tier` off a sample (a carried sample may hold them), with why they
/// were missing and when they were read.
fn clear(tier: GpuTier, sample: &mut GpuSample) {
    sample.missing.retain(|m| !fields(tier).contains(&m.field));
    sample.reads.clear(tier);
    let c = &mut sample.condition;
    match tier {
        GpuTier::Energy => sample.energy = None,
        GpuTier::Counters => {
            c.throttled_time = Default::default();
            c.pcie_rx_bytes = None;
            c.pcie_tx_bytes = None;
        }
        GpuTier::Health => {
            c.power_limit = None;
            c.ecc_corrected = None;
            c.ecc_uncorrected = None;
            c.remapped_rows_corrected = None;
            c.remapped_rows_uncorrected = None;
            c.remapped_rows_pending = None;
            c.remapped_rows_failure = None;
            c.retired_pages_pending = None;
        }
        GpuTier::Activity => sample.activity = crate::snapshot::GpuActivity::none(),
        GpuTier::Fast | GpuTier::Static => {}
    }
}

/// Copies the figures of `tier` (and why any is missing) from a read to a pass's sample,
/// replacing what the sample said of them (a carried sample may hold an older read's).
fn copy(tier: GpuTier, from: &GpuSample, to: &mut GpuSample) {
    to.missing.retain(|m| !fields(tier).contains(&m.field));
    let (f, t) = (&from.condition, &mut to.condition);
    match tier {
        GpuTier::Energy => to.energy = from.energy,
        GpuTier::Counters => {
            t.throttled_time = f.throttled_time;
            t.pcie_rx_bytes = f.pcie_rx_bytes;
            t.pcie_tx_bytes = f.pcie_tx_bytes;
        }
        GpuTier::Health => {
            t.power_limit = f.power_limit;
            t.ecc_corrected = f.ecc_corrected;
            t.ecc_uncorrected = f.ecc_uncorrected;
            t.remapped_rows_corrected = f.remapped_rows_corrected;
            t.remapped_rows_uncorrected = f.remapped_rows_uncorrected;
            t.remapped_rows_pending = f.remapped_rows_pending;
            t.remapped_rows_failure = f.remapped_rows_failure;
            t.retired_pages_pending = f.retired_pages_pending;
        }
        GpuTier::Activity => to.activity = from.activity.clone(),
        GpuTier::Fast | GpuTier::Static => {}
    }
    for m in &from.missing {
        push_missing(to, m.field, m.reason.clone());
    }
}

/// Reads one slow tier of `device` into a sample of its own. `None` when the device is lost
/// (the fast tier says so on the next pass), or when an activity read comes too soon after
/// the last for a window.
pub(super) fn read(
    device: &Device<'_>,
    tier: GpuTier,
    template: &GpuSample,
    activity: Option<&ActivityContext>,
    warnings: &mut Warnings,
    costs: &mut Costs,
) -> Option<GpuSample> {
    let started = Instant::now();
    let mut sample = GpuSample::empty(
        template.index,
        template.uuid.clone(),
        template.name.clone(),
        DeviceState::Ok,
    );
    let mut reader = FieldReader {
        sample: &mut sample,
        warnings,
        costs,
        tier,
        lost: false,
    };
    match tier {
        GpuTier::Energy => {
            reader.sample.energy = reader
                .get(
                    GpuField::Energy,
                    "nvmlDeviceGetTotalEnergyConsumption",
                    || device.total_energy_consumption(),
                )
                .map(|mj| mj as f64 / 1e3);
        }
        GpuTier::Counters => read_batch(device, &mut reader, &COUNTERS),
        GpuTier::Health => read_batch(device, &mut reader, &HEALTH),
        GpuTier::Activity => {
            // Too soon after the last read for a window: no read, and the last one stands.
            if !activity.is_some_and(|cx| activity::read(device, cx, &mut reader)) {
                return None;
            }
        }
        GpuTier::Fast | GpuTier::Static => {}
    }
    let lost = reader.lost;
    costs.read(tier, started.elapsed());
    (!lost).then_some(sample)
}

/// A slow read for the GPU thread to make after a pass's answer.
pub(crate) struct SlowJob {
    nvml: Arc<Nvml>,
    locator: Locator,
    /// The device's position among the visible ones, and its identity.
    position: usize,
    template: GpuSample,
    tier: GpuTier,
    /// The device's activity state, for an activity read.
    activity: Option<ActivityContext>,
}

/// What a [`SlowJob`] read, for the probe to keep.
pub(crate) struct SlowResult {
    pub(super) nvml: Arc<Nvml>,
    pub(super) position: usize,
    pub(super) uuid: Arc<str>,
    pub(super) tier: GpuTier,
    pub(super) at: Instant,
    pub(super) sample: Option<GpuSample>,
    pub(crate) warnings: Warnings,
    pub(crate) costs: Costs,
}

impl SlowJob {
    pub(super) fn new(
        nvml: Arc<Nvml>,
        locator: Locator,
        position: usize,
        template: GpuSample,
        tier: GpuTier,
        activity: Option<ActivityContext>,
    ) -> Self {
        Self {
            nvml,
            locator,
            position,
            template,
            tier,
            activity,
        }
    }

    /// Makes the read.
    pub(crate) fn run(self) -> SlowResult {
        let mut warnings = Warnings::default();
        let mut costs = Costs::default();
        let at = Instant::now();
        let gpu = self.template.index;
        let sample = self.locator.read(&self.nvml, gpu, |device| {
            read(
                &device.ok()?,
                self.tier,
                &self.template,
                self.activity.as_ref(),
                &mut warnings,
                &mut costs,
            )
        });
        SlowResult {
            position: self.position,
            uuid: self.template.uuid.clone(),
            tier: self.tier,
            at,
            sample,
            warnings,
            costs,
            nvml: self.nvml,
        }
    }
}
