//! The sampler thread: what it shares with every reader ([`Shared`]), the handle that stops
//! it with the last `Sampler` clone, and the pass every reader shares (a pass under the probe
//! lock, then the slow GPU reads due, each without it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::activity_log::ActivityLog;
use super::history::History;
use super::probes::{self, Probes};
use super::{costs, xid, Warning};
use crate::snapshot::{ContainerIdentity, GpuInventory, Snapshot};
use crate::sync::lock;

/// What the sampler thread and every reader share.
pub(super) struct Shared {
    /// Identifies this sampler in the per-thread cache of `latest()`.
    pub(super) id: u64,
    pub(super) latest: ArcSwap<Snapshot>,
    /// `seq` of the snapshot in `latest`, stored after it.
    pub(super) published: AtomicU64,
    pub(super) history: History,
    pub(super) probes: Mutex<Probes>,
    pub(super) interval: Duration,
    /// Replaced when NVML starts late (the driver came back).
    pub(super) inventory: ArcSwap<GpuInventory>,
    pub(super) last_pass_nanos: AtomicU64,
    /// A copy of the warnings raised so far, refreshed after each pass, so `health()` never
    /// waits on the probe lock (held for a whole pass: seconds with a slow driver).
    pub(super) warnings: Mutex<Vec<Warning>>,
    /// A copy of what the reads cost so far, refreshed like the warnings.
    pub(super) costs: Mutex<costs::Costs>,
    /// A slow GPU read is under way on the sampler thread (set and cleared under the probe
    /// lock): a pass meanwhile carries the GPUs' fast tier instead of queueing behind it in
    /// the driver.
    pub(super) slow_busy: AtomicBool,
    /// The container and pod this process runs in.
    pub(super) identity: ContainerIdentity,
    /// The XIDs seen (shared with the watcher thread and the probes).
    pub(super) xid: Arc<xid::XidLog>,
    /// Every GPU's activity windows, replaced after each activity read that found one.
    pub(super) activity: ArcSwap<ActivityLog>,
}

pub(super) struct Handle {
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Mutex<Option<Worker>>,
}

pub(super) struct Worker {
    pub(super) stop: mpsc::Sender<()>,
    pub(super) thread: JoinHandle<()>,
}

impl Handle {
    pub(super) fn stop(&self) {
        let worker = lock(&self.worker).take();
        if let Some(worker) = worker {
            // The receiver may already be gone if the thread ended; either way it stops.
            let _ = worker.stop.send(());
            // A warning sink that drops the last clone runs on the sampler thread itself,
            // which cannot join itself: it ends on its own after the sink returns.
            if worker.thread.thread().id() != std::thread::current().id() {
                let _ = worker.thread.join();
            }
            // The XID watcher stops with the sampler thread.
            self.shared.lock_probes().stop_xid();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    pub(super) fn lock_probes(&self) -> MutexGuard<'_, Probes> {
        lock(&self.probes)
    }

    /// One pass, published under the probe lock so the history stays in sequence order;
    /// `extra` for one asked for by `sample_now`. After an interval pass, the slow read due
    /// now, if any, for the sampler thread to make once it let go of the lock.
    pub(super) fn pass(&self, extra: bool) -> (Arc<Snapshot>, Option<probes::SlowJob>) {
        let started = Instant::now();
        let mut probes = self.lock_probes();
        let carry = self
            .slow_busy
            .load(Ordering::Acquire)
            .then(|| self.latest.load_full());
        let (snapshot, inventory) = probes.pass(carry.as_deref(), extra);
        let snapshot = Arc::new(snapshot);
        if let Some(inventory) = inventory {
            self.inventory.store(Arc::new(inventory));
        }
        // Into the history first: whoever reads it as the latest finds it there.
        self.history.push(snapshot.clone(), extra);
        self.latest.store(snapshot.clone());
        self.published.store(snapshot.seq, Ordering::Release);
        let job = if extra {
            None
        } else {
            probes.next_slow(Instant::now(), snapshot.seq)
        };
        if job.is_some() {
            self.slow_busy.store(true, Ordering::Release);
        }
        drop(probes);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_pass_nanos.store(nanos, Ordering::Relaxed);
        (snapshot, job)
    }

    /// Makes the slow reads due now, one at a time, each without the probe lock, keeping
    /// what each found before the next. At the default rates the reads are due at different
    /// times, so a pass is followed by one at most; rates shorter than the interval ask for
    /// every one after every pass. Only reads due when the first began: each tier of each
    /// device at most once (a read sets its next due time past that), and at most `max`.
    #[cfg(feature = "nvml")]
    fn slow(&self, first: probes::SlowJob, max: usize, after_pass: u64) {
        let round = Instant::now();
        let mut job = Some(first);
        let mut made = 0;
        while let Some(next) = job.take() {
            let result = next.run();
            made += 1;
            let mut probes = self.lock_probes();
            probes.store_slow(result);
            if let Some(log) = probes.take_activity_log() {
                self.activity.store(log);
            }
            if made < max {
                job = probes.next_slow(round, after_pass);
            }
            if job.is_none() {
                self.slow_busy.store(false, Ordering::Release);
            }
        }
    }
}

/// The sampler thread: a pass every interval until told to stop, then warnings delivered.
pub(super) fn run(
    shared: &Shared,
    stop: &mpsc::Receiver<()>,
    sink: &(dyn Fn(&Warning) + Send + Sync),
) {
    let deliver = |shared: &Shared| {
        let pending = {
            let mut probes = shared.lock_probes();
            let pending = probes.warnings.take_pending();
            // Every new warning is pending once: only then has the kept list changed.
            if !pending.is_empty() {
                *lock(&shared.warnings) = probes.warnings.kept.clone();
            }
            if let Some(costs) = probes.costs() {
                lock(&shared.costs).clone_from(costs);
            }
            pending
        };
        for warning in &pending {
            sink(warning);
        }
    };
    deliver(shared);
    let mut next = Instant::now() + shared.interval;
    // A message or a dropped sender both mean stop.
    while let Err(RecvTimeoutError::Timeout) =
        stop.recv_timeout(next.saturating_duration_since(Instant::now()))
    {
        let (snapshot, job) = shared.pass(false);
        // Each slow tier of each GPU at most once.
        #[cfg(feature = "nvml")]
        if let Some(job) = job {
            shared.slow(
                job,
                super::gpu::SLOW_TIERS * snapshot.gpus.len().max(1),
                snapshot.seq,
            );
        }
        #[cfg(not(feature = "nvml"))]
        let _ = (snapshot, job);
        deliver(shared);
        next += shared.interval;
        let now = Instant::now();
        if next < now {
            // Passes fell behind (a slow driver, a suspended machine): skip, do not burst.
            next = now + shared.interval;
        }
    }
}
