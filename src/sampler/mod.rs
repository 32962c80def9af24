//! The [`Sampler`]: two OS threads, one that reads host and process figures every interval
//! and publishes them lock-free, and one, the only one that calls the GPU driver, that reads
//! the GPUs for it.
//!
//! Readers never wait for the sampler: [`Sampler::latest`] is one atomic load, and
//! [`Sampler::window`] walks a lock-free ring. The driver is called only on the sampler's
//! own GPU thread; the pass thread reads the host and waits at most the driver deadline
//! for the GPUs' fast tier, and [`Sampler::sample_now`] (a pass now) waits for the pass
//! thread at most as long. A hung driver costs the GPU figures only.
#![doc = include_str!("reference.md")]

pub(crate) mod activity_log;
mod builder;
#[cfg(target_os = "linux")]
mod cgroup;
mod costs;
mod desk;
#[cfg(feature = "nvml")]
mod gpu;
mod gpu_shared;
#[cfg(feature = "nvml")]
mod gpu_thread;
mod history;
mod host;
#[cfg(feature = "nvml")]
mod in_flight;
mod latest;
mod pid_namespace;
mod probes;
mod thread;
mod warning;
mod wiring;
mod xid;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use builder::{
    SamplerBuilder, DEFAULT_DRIVER_DEADLINE, DEFAULT_GPU_ACTIVITY_INTERVAL,
    DEFAULT_GPU_COUNTERS_INTERVAL, DEFAULT_GPU_HEALTH_INTERVAL, DEFAULT_HISTORY_SPAN,
    DEFAULT_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_START_TIMEOUT, ENV_CGROUP_ROOT,
    ENV_CUDA_DEVICE_ORDER, ENV_CUDA_VISIBLE_DEVICES, ENV_DRIVER_DEADLINE_MS, ENV_GPU,
    ENV_GPU_ACTIVITY_INTERVAL_MS, ENV_GPU_COUNTERS_INTERVAL_MS, ENV_GPU_HEALTH_INTERVAL_MS,
    ENV_HISTORY, ENV_HISTORY_LEVELS, ENV_INTERVAL_MS, ENV_NVML_LIB, ENV_SHUTDOWN_TIMEOUT_MS,
    ENV_START_TIMEOUT_MS, GPU_ACTIVITY_INTERVAL_PER_GPU,
};
pub use costs::{DriverCall, TierCost, SLOW_CALL};
pub use history::HistoryLevel;
pub use history::{GpuWindow, Stats, Window};
pub use pid_namespace::PidNamespace;
pub use warning::{Warning, WarningKind, WarningSink};
pub use xid::{XidEvent, XidStatus};

use crate::error::Error;
use crate::snapshot::{ContainerIdentity, GpuInventory, HungCall, Snapshot};
use crate::sync::lock;
use history::WindowBuilder;
pub(crate) use history::{Bucket, Covered, Fold};
use thread::Handle;

/// Samples host, process and GPU figures on its own threads.
///
/// Cheap to clone (all clones share the threads). They stop when the last clone is dropped,
/// or at [`Sampler::shutdown`], within the shutdown timeout: a thread stuck in the driver is
/// left behind, never waited for.
///
/// ```
/// let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
/// let now = sampler.latest();
/// assert!(now.host.memory_total.is_some());
/// println!("RSS {:?} bytes, GPU status: {}", now.process.resident_memory, now.gpu_status);
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Clone)]
pub struct Sampler {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("interval", &self.handle.shared.interval)
            .field("history", &self.handle.shared.history.capacity())
            .field("gpu_status", &self.latest().gpu_status)
            .finish()
    }
}

/// The sampler's own health, for status pages.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SamplerHealth {
    /// Time between passes.
    pub interval: Duration,
    /// Interval passes the raw history keeps (and as many extra passes).
    pub history_capacity: usize,
    /// Bytes the raw history holds now: its slots and the snapshots in them.
    pub history_raw_bytes: usize,
    /// Bytes the history's levels hold now: their slots and buckets.
    pub history_level_bytes: usize,
    /// Passes taken so far (including [`Sampler::sample_now`] calls).
    pub passes: u64,
    /// How long the last pass took.
    pub last_pass: Duration,
    /// Age of the latest snapshot.
    pub last_sample_age: Duration,
    /// Whether the pass thread is running (it never calls the driver: a hung driver shows in
    /// `driver_hung`, not here).
    pub running: bool,
    /// Every distinct warning raised so far (at most 64), oldest first.
    pub warnings: Vec<Warning>,
    /// What each GPU tier cost so far: per read, and per pass on average (the slow tiers'
    /// reads run on the GPU thread after a pass, never on a caller's).
    pub tiers: Vec<TierCost>,
    /// Every driver call that took longer than [`SLOW_CALL`] (100 µs), slowest first.
    pub slow_calls: Vec<DriverCall>,
    /// The driver call the GPU thread has been in for longer than three intervals (at least
    /// 1 s): the
    /// driver is hung, and every GPU figure is absent until it returns. Host, process and
    /// container figures go on (`running` stays true: the pass thread never calls the
    /// driver).
    pub driver_hung: Option<HungCall>,
    /// The driver call the GPU thread was left behind in at shutdown, if it was.
    pub left_behind: Option<HungCall>,
}

/// Intervals after which the latest snapshot no longer counts as current (for the metrics).
pub(crate) const STALE_AFTER: u32 = 3;

/// How long a driver call may run before the driver counts as hung: three intervals, and at
/// least a second (no NVML call but `nvmlInit_v2` takes that long; the slowest measured on an
/// H200, `nvmlDeviceGetPcieThroughput`, 20 ms), so a short interval never calls a slow read
/// a hang.
#[cfg(feature = "nvml")]
pub(crate) fn hung_after(interval: Duration) -> Duration {
    (interval * STALE_AFTER).max(Duration::from_secs(1))
}

impl Sampler {
    /// A builder with the default settings.
    pub fn builder() -> SamplerBuilder {
        SamplerBuilder::default()
    }

    /// A sampler with the default settings and the environment's overrides.
    ///
    /// # Errors
    /// As [`SamplerBuilder::build`].
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// Takes a snapshot now, publishes it and returns it; for callers that need exact
    /// boundaries, such as the start and end of a long model call.
    ///
    /// It reads the host on the caller's thread and asks the sampler's GPU thread for each
    /// GPU's fast tier ([`GpuTier::Fast`]), in parallel; the slow tiers' figures are their
    /// last reads, carried with the time they were read. Measured with the fake driver at an
    /// H200's call costs on a 2-core machine: about 0.1 ms with one GPU, 0.44 ms with eight
    /// (`cargo bench --bench sampler`).
    ///
    /// The driver is never called on the caller's thread, and it waits for the GPUs at most
    /// three quarters of the driver deadline ([`SamplerBuilder::driver_deadline`], 5 ms by
    /// default), then carries their figures from the latest pass (their
    /// [`GpuSample::read_at`](crate::GpuSample::read_at) says when they were read). It does
    /// not wait at all while the GPU thread is in a slow read or a call past the deadline,
    /// and returns the latest snapshot at once while the driver is hung, or after
    /// [`Sampler::shutdown`]. A pass of the sampler's own under way makes it wait for that
    /// pass first (it holds the host probes; it waits for the GPUs as long at most).
    ///
    /// [`GpuTier::Fast`]: crate::GpuTier::Fast
    pub fn sample_now(&self) -> Arc<Snapshot> {
        let shared = &self.handle.shared;
        // Known hung: the latest pass already says so. After shutdown: no GPU thread left.
        if shared.hung().is_some() || shared.desk.stopping() {
            return self.latest();
        }
        shared.pass_caught(&mut lock(&shared.probes), true)
    }

    /// Min / max / mean of every figure over the passes taken in `[from, to]`, from the raw
    /// snapshots and the history's levels ([`SamplerBuilder::levels`]). Lock-free; exact
    /// over what the history still covers, which [`Window::coverage`] says.
    pub fn window(&self, from: Instant, to: Instant) -> Window {
        let mut window = WindowBuilder::default();
        let covered = self.handle.shared.history.fold(from, to, &mut window);
        window.finish(covered)
    }

    /// Folds every pass the history holds in `[from, to]` into `fold`, without allocating
    /// (span ends compute their figures this way), and says what that covers.
    pub(crate) fn fold(&self, from: Instant, to: Instant, fold: &mut impl Fold) -> Covered {
        self.handle.shared.history.fold(from, to, fold)
    }

    /// Driver versions and the visible devices, read when NVML started (at start, or later
    /// when a driver that was not there came back).
    pub fn inventory(&self) -> Arc<GpuInventory> {
        self.handle.shared.gpu.inventory.load_full()
    }

    /// Every GPU's activity windows (one atomic load; the GPU thread replaces them after
    /// an activity read).
    #[inline]
    pub(crate) fn activity(&self) -> arc_swap::Guard<Arc<activity_log::ActivityLog>> {
        self.handle.shared.gpu.activity.load()
    }

    /// Whether XID errors are being watched (a thread of the sampler's, Linux only).
    pub fn xid_status(&self) -> XidStatus {
        self.handle.shared.xid.status()
    }

    /// XIDs that arrived so far (one atomic load).
    #[inline]
    pub(crate) fn xid_count(&self) -> u64 {
        self.handle.shared.xid.count()
    }

    /// The XIDs after the first `n`; nothing allocated when none arrived.
    pub(crate) fn xids_since(&self, n: u64) -> Vec<XidEvent> {
        self.handle.shared.xid.since(n)
    }

    /// The container and pod this process runs in, found when the sampler started.
    pub fn container_identity(&self) -> &ContainerIdentity {
        &self.handle.shared.identity
    }

    /// Time between passes.
    pub fn interval(&self) -> Duration {
        self.handle.shared.interval
    }

    /// The sampler's own health: passes, last pass duration, sample age, warnings.
    pub fn health(&self) -> SamplerHealth {
        let shared = &self.handle.shared;
        let warnings = lock(&shared.warnings).clone();
        let latest = self.latest();
        let (history_raw_bytes, history_level_bytes) = shared.history.heap_bytes();
        let costs = lock(&shared.gpu.costs).clone();
        SamplerHealth {
            tiers: costs.tiers(latest.seq + 1),
            slow_calls: costs.slow_calls(),
            interval: shared.interval,
            history_capacity: shared.history.capacity(),
            history_raw_bytes,
            history_level_bytes,
            passes: latest.seq + 1,
            last_pass: Duration::from_nanos(shared.last_pass_nanos.load(Ordering::Relaxed)),
            last_sample_age: latest.age(),
            running: lock(&self.handle.worker)
                .as_ref()
                .is_some_and(|w| !w.thread.is_finished()),
            warnings,
            driver_hung: shared.hung(),
            left_behind: lock(&self.handle.left_behind).clone(),
        }
    }

    /// The latest snapshot while it still describes the present: `None` once the sampler has
    /// stopped, or when the snapshot is older than [`STALE_AFTER`] intervals (the pass thread
    /// fell behind: a suspended machine, a warning sink that blocks). What the metrics report:
    /// nothing rather than an old figure. A hung driver empties the GPUs only.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        let running = lock(&self.handle.worker)
            .as_ref()
            .is_some_and(|w| !w.thread.is_finished());
        let latest = self.latest();
        (running && latest.age() <= self.handle.shared.interval * STALE_AFTER).then_some(latest)
    }

    /// Stops the sampler's threads, waiting for them at most the shutdown timeout
    /// ([`SamplerBuilder::shutdown_timeout`], 2 s by default). Reads keep working and return
    /// the last snapshot, and so does [`Sampler::sample_now`]. Calling it again does
    /// nothing more.
    ///
    /// Returns the driver call the GPU thread was stuck in when the bound passed: that
    /// thread is left behind (detached), never waited for, so a hung driver cannot keep the
    /// process from exiting. A warning names the call too.
    pub fn shutdown(&self) -> Option<HungCall> {
        self.handle.stop()
    }
}
