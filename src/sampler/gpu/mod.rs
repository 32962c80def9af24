//! NVIDIA GPU figures through NVML (nvml-wrapper), organised by tier and driver call:
//!
//! - `open.rs`: loading NVML, the devices in CUDA order (`visible.rs` parses
//!   `CUDA_VISIBLE_DEVICES`), their description (`devices.rs`), the inventory;
//! - `statics.rs`: the static tier (thresholds, fan count, MIG mode), read once per start;
//! - `fast.rs`: the fast tier, every pass (memory, utilization, temperature, power, this
//!   process's memory through `process_memory.rs`, the fast condition figures);
//! - `tiers.rs`: the slow tiers' schedule and reads (energy; `batches.rs`'s field-value
//!   batches for the counters and health tiers; `activity.rs`'s GPM figures and this
//!   process's share, `process_utilization.rs`);
//! - `fields.rs`: the timed reader every call goes through;
//! - `xid_watch.rs`: the XID watcher, started and stopped with NVML.
//!
//! Each device and each figure fails on its own.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};

mod activity;
mod batches;
mod devices;
mod fast;
mod fields;
mod open;
mod process_memory;
mod process_utilization;
mod statics;
mod tiers;
mod visible;
mod xid_watch;

use super::activity_log::{ActivityLog, Window};
use super::costs::Costs;
use super::in_flight;
use super::pid_namespace::PidNamespace;
use super::warning::Warnings;
use crate::snapshot::{DeviceState, GpuDevice, GpuInventory, GpuSample, GpuStatus, GpuTier};
use devices::unreachable_device;
use fields::FieldReader;
pub(crate) use tiers::{Rates, SlowJob, SlowResult};

/// How many slow tiers each device has.
pub(crate) const SLOW_TIERS: usize = tiers::SLOW.len();

/// How a visible device is found again at each pass.
#[derive(Clone)]
enum Locator {
    Index(u32),
    Uuid(String),
}

impl Locator {
    /// The NVML function that looks the device up: the first call of every read of it.
    fn lookup(&self) -> &'static str {
        match self {
            Locator::Index(_) => "nvmlDeviceGetHandleByIndex_v2",
            Locator::Uuid(_) => "nvmlDeviceGetHandleByUUID",
        }
    }

    /// The device's handle; `gpu` (its CUDA ordinal) names the call, should it hang.
    fn device<'n>(&self, nvml: &'n Nvml, gpu: u32) -> Result<Device<'n>, NvmlError> {
        in_flight::call(self.lookup(), Some(gpu), || match self {
            Locator::Index(i) => nvml.device_by_index(*i),
            Locator::Uuid(u) => nvml.device_by_uuid(u.as_str()),
        })
    }

    /// One read of the device (`gpu` its CUDA ordinal): its handle, then `read` with it, as
    /// one phase of the GPU thread's work, so that a call that hangs in it is named.
    fn read<'n, T>(
        &self,
        nvml: &'n Nvml,
        gpu: u32,
        read: impl FnOnce(Result<Device<'n>, NvmlError>) -> T,
    ) -> T {
        in_flight::phase(self.lookup(), Some(gpu), || read(self.device(nvml, gpu)))
    }
}

struct Visible {
    info: GpuDevice,
    locator: Locator,
    /// What the device gives once (thresholds, fan count, MIG mode), read at start.
    statics: statics::Statics,
    /// The slow tiers' last reads and when each is due.
    slow: tiers::SlowReads,
    /// GPM's last sample and the per-process samples seen, between activity reads.
    activity: Arc<Mutex<activity::ActivityState>>,
}

impl Visible {
    fn new(info: GpuDevice, locator: Locator) -> Self {
        Self {
            info,
            locator,
            statics: statics::Statics::default(),
            slow: tiers::SlowReads::new(Instant::now(), [Duration::ZERO; tiers::SLOW.len()]),
            activity: Arc::default(),
        }
    }
}

pub(crate) struct GpuProbe {
    nvml: Option<Arc<Nvml>>,
    /// How often the slow tiers are read.
    rates: Rates,
    /// What the reads cost so far.
    pub(crate) costs: Costs,
    devices: Vec<Visible>,
    status: GpuStatus,
    pid: u32,
    pid_namespace: PidNamespace,
    library: Option<PathBuf>,
    visible_devices: Option<String>,
    cuda_device_order: Option<String>,
    /// When NVML could not start: when to try again, and the wait after that.
    retry: Option<(Instant, Duration)>,
    /// The XID watcher over the devices, while NVML is up.
    xid: xid_watch::XidWatch,
    /// Every device's activity windows, and whether a read added one since it was taken.
    activity_log: (Arc<ActivityLog>, bool),
}

/// What an activity read of `v` needs.
fn activity_context(
    nvml: &Arc<Nvml>,
    v: &Visible,
    pid: u32,
    pid_namespace: PidNamespace,
    after_pass: u64,
) -> activity::ActivityContext {
    activity::ActivityContext {
        nvml: nvml.clone(),
        state: v.activity.clone(),
        gpm: v.statics.gpm().clone(),
        pid,
        pid_namespace,
        after_pass,
    }
}

/// First wait before NVML is tried again after a failed start; it doubles up to the maximum.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(60);

impl GpuProbe {
    /// At start: each device's statics and a first read of every slow tier, so every figure
    /// is there from the first snapshot on; then the next slow reads spread over each tier's
    /// period, devices and tiers apart, so that no pass makes them all.
    fn read_first(&mut self, nvml: &Arc<Nvml>, warnings: &mut Warnings) {
        let n = self.devices.len() as u32;
        let rates = self.rates;
        for (d, visible) in self.devices.iter_mut().enumerate() {
            let Ok(device) = visible.locator.device(nvml, visible.info.index) else {
                continue;
            };
            let mut scratch = GpuSample::empty(
                visible.info.index,
                visible.info.uuid.clone(),
                visible.info.name.clone(),
                DeviceState::Ok,
            );
            let mut reader = FieldReader {
                sample: &mut scratch,
                warnings,
                costs: &mut self.costs,
                tier: GpuTier::Static,
                lost: false,
            };
            let started = Instant::now();
            visible.statics = statics::read_statics(&device, &mut reader);
            self.costs.read(GpuTier::Static, started.elapsed());
            let now = Instant::now();
            // Energy and counters share a period: 2n reads spread over it; health and
            // activity n over their own.
            let d = d as u32;
            let spread = [
                rates.counters * (d + 1) / (2 * n),
                rates.counters * (n + d + 1) / (2 * n),
                rates.health * (d + 1) / n,
                rates.of(GpuTier::Activity) * (d + 1) / n,
            ];
            visible.slow = tiers::SlowReads::new(now, spread);
            // Before the first pass: a window from here begins before every span.
            let cx = activity_context(nvml, visible, self.pid, self.pid_namespace, 0);
            for tier in tiers::SLOW {
                let at = Instant::now();
                let template = scratch.clone();
                if let Some(sample) = tiers::read(
                    &device,
                    tier,
                    &template,
                    Some(&cx),
                    warnings,
                    &mut self.costs,
                ) {
                    visible.slow.store(tier, at, sample, rates);
                }
            }
            visible.slow.due_from(now, spread);
        }
    }

    /// The slow read most overdue now, if any, for the GPU thread to make after its answer
    /// to pass `after_pass`.
    pub(crate) fn next_slow(&self, now: Instant, after_pass: u64) -> Option<SlowJob> {
        let nvml = self.nvml.as_ref()?;
        let (position, tier) = self
            .devices
            .iter()
            .enumerate()
            .filter_map(|(p, v)| v.slow.due(now).map(|(at, tier)| (at, p, tier)))
            .min_by_key(|(at, _, _)| *at)
            .map(|(_, p, tier)| (p, tier))?;
        let v = &self.devices[position];
        let template = GpuSample::empty(
            v.info.index,
            v.info.uuid.clone(),
            v.info.name.clone(),
            DeviceState::Ok,
        );
        let activity = (tier == GpuTier::Activity)
            .then(|| activity_context(nvml, v, self.pid, self.pid_namespace, after_pass));
        Some(SlowJob::new(
            nvml.clone(),
            v.locator.clone(),
            position,
            template,
            tier,
            activity,
        ))
    }

    /// Every device's activity windows, when a read added one since the last call.
    pub(crate) fn take_activity_log(&mut self) -> Option<Arc<ActivityLog>> {
        let (log, changed) = &mut self.activity_log;
        std::mem::take(changed).then(|| log.clone())
    }

    /// Keeps what a slow read found, for the passes after it; dropped if NVML restarted or
    /// the devices changed since.
    pub(crate) fn store_slow(&mut self, result: SlowResult, warnings: &mut Warnings) {
        warnings.absorb(result.warnings);
        self.costs.merge(&result.costs);
        let same_nvml = self
            .nvml
            .as_ref()
            .is_some_and(|n| Arc::ptr_eq(n, &result.nvml));
        let rates = self.rates;
        let Some(v) = self
            .devices
            .get_mut(result.position)
            .filter(|v| same_nvml && v.info.uuid == result.uuid)
        else {
            return;
        };
        match result.sample {
            Some(sample) => {
                if let Some(window) = Window::of(&sample.activity) {
                    let log = self.activity_log.0.with(&v.info.uuid, window);
                    self.activity_log = (Arc::new(log), true);
                }
                v.slow.store(result.tier, result.at, sample, rates)
            }
            // A lost device (the fast tier says so), or an activity read too soon after the
            // last: try again a period later, the last read standing.
            None => v.slow.postpone(result.tier, result.at, rates),
        }
    }

    /// After a failed start that can heal (the driver not loaded yet, an NVML error), tries
    /// again once the backoff has passed: 1 s, then doubling up to 60 s; on the GPU thread,
    /// after its pass's answer, so no caller waits for it. Returns the new inventory when NVML
    /// now works. Warnings stay once per sampler, however many tries fail.
    pub(crate) fn retry_if_due(&mut self, warnings: &mut Warnings) -> Option<GpuInventory> {
        let (at, wait) = self.retry?;
        if Instant::now() < at {
            return None;
        }
        // Let go of the old library handle first (the XID watcher holds it too), so the new
        // start loads it afresh.
        self.xid.stop();
        self.nvml = None;
        self.devices.clear();
        let (mut next, inventory) = Self::open(
            self.library.as_deref(),
            self.visible_devices.as_deref(),
            self.cuda_device_order.as_deref(),
            self.rates,
            warnings,
            self.xid.log.clone(),
        );
        next.costs.merge(&self.costs);
        *self = next;
        if self.status == GpuStatus::Ok {
            return Some(inventory);
        }
        // What failed now does not heal by itself (see `open`): no more tries.
        self.retry?;
        let wait = (wait * 2).min(MAX_RETRY);
        self.retry = Some((Instant::now() + wait, wait));
        None
    }

    /// The UUIDs of the visible devices.
    pub(crate) fn uuids(&self) -> Vec<std::sync::Arc<str>> {
        self.devices.iter().map(|v| v.info.uuid.clone()).collect()
    }

    pub(crate) fn status(&self) -> &GpuStatus {
        &self.status
    }

    /// Every visible device's sample for this pass: the fast tier read now, the slow tiers'
    /// last reads on top.
    pub(crate) fn sample(&mut self, warnings: &mut Warnings) -> Vec<GpuSample> {
        let Some(nvml) = self.nvml.clone() else {
            return Vec::new();
        };
        let rates = self.rates;
        let mut out = Vec::with_capacity(self.devices.len());
        for visible in &mut self.devices {
            let info = &visible.info;
            let started = Instant::now();
            let (pid, pid_namespace, costs) = (self.pid, self.pid_namespace, &mut self.costs);
            let mut sample = visible
                .locator
                .read(&nvml, info.index, |device| match device {
                    Ok(device) => {
                        fast::read_fast(&device, visible, pid, pid_namespace, warnings, costs)
                    }
                    Err(err) => unreachable_device(info, &err, warnings),
                });
            self.costs.read(GpuTier::Fast, started.elapsed());
            if sample.state == DeviceState::Ok {
                visible.slow.apply(&mut sample, Instant::now(), rates);
            }
            self.xid.apply(&mut sample);
            out.push(sample);
        }
        out
    }

    /// How many devices are visible.
    pub(crate) fn device_count(&self) -> usize {
        self.devices.len()
    }
}
