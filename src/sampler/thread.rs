//! The pass thread: what it shares with every reader ([`Shared`]), the handle that stops it
//! (and the GPU thread) within a bound, and the pass itself. The pass thread never calls the
//! driver: it reads the host, asks the GPU thread for the GPUs' fast tier and waits at most
//! the driver deadline for it, so a hung driver costs a pass its GPU figures, nothing more.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::activity_log::ActivityLog;
use super::history::History;
use super::probes::{PassLink, Probes};
use super::warning::WarningKind;
use super::{costs, xid, Warning};
use crate::snapshot::{ContainerIdentity, GpuInventory, HungCall, Snapshot};
use crate::sync::lock;

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

/// The bounds on every wait for the driver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// The longest a pass (and so a `sample_now` caller) waits for the GPUs' fast tier.
    pub(crate) deadline: Duration,
    /// The longest `build()` waits for NVML to open.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) start: Duration,
    /// The longest shutdown waits for the threads to end.
    pub(crate) shutdown: Duration,
}

/// What the sampler threads and every reader share.
pub(super) struct Shared {
    /// Identifies this sampler in the per-thread cache of `latest()`.
    pub(super) id: u64,
    pub(super) latest: ArcSwap<Snapshot>,
    /// `seq` of the snapshot in `latest`, stored after it.
    pub(super) published: AtomicU64,
    pub(super) history: History,
    pub(super) interval: Duration,
    pub(super) bounds: Bounds,
    pub(super) gpu: Arc<GpuShared>,
    /// Where the pass thread meets the GPU thread; `None` when no GPU thread runs.
    #[cfg(feature = "nvml")]
    pub(super) port: Option<Arc<super::gpu_thread::GpuPort>>,
    pub(super) last_pass_nanos: AtomicU64,
    /// A copy of the warnings raised so far, refreshed after each pass, so `health()` never
    /// waits on a pass.
    pub(super) warnings: Mutex<Vec<Warning>>,
    /// The container and pod this process runs in.
    pub(super) identity: ContainerIdentity,
    /// The XIDs seen (shared with the watcher thread and the probes).
    pub(super) xid: Arc<xid::XidLog>,
    /// Asks the pass thread for a pass now, or to stop.
    pub(super) requests: mpsc::Sender<Request>,
    /// Set at shutdown: `sample_now` asks the pass thread for nothing more.
    pub(super) stopped: AtomicBool,
}

/// What a caller asks of the pass thread.
pub(super) enum Request {
    /// A pass now, its snapshot sent back.
    Now(mpsc::SyncSender<Arc<Snapshot>>),
    Stop,
}

pub(super) struct Handle {
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Mutex<Option<Worker>>,
    /// Where the GPU thread was left behind at shutdown, if it was.
    pub(super) left_behind: Mutex<Option<HungCall>>,
}

pub(super) struct Worker {
    pub(super) thread: JoinHandle<()>,
    /// Dropped by the pass thread as it ends: a bounded join.
    pub(super) ended: mpsc::Receiver<()>,
    /// Gets the warning about a thread left behind.
    pub(super) sink: super::WarningSink,
}

impl Handle {
    /// Stops the pass thread, then the GPU thread, each within what is left of the shutdown
    /// bound; a thread stuck in the driver is left behind (detached) and named.
    pub(super) fn stop(&self) -> Option<HungCall> {
        let Some(worker) = lock(&self.worker).take() else {
            return lock(&self.left_behind).clone();
        };
        let until = Instant::now() + self.shared.bounds.shutdown;
        self.shared.stopped.store(true, Ordering::Release);
        // The receiver is gone if the thread ended; either way it stops.
        let _ = self.shared.requests.send(Request::Stop);
        // A warning sink that drops the last clone runs on the pass thread itself, which
        // cannot wait for itself: it ends on its own after the sink returns.
        if worker.thread.thread().id() != std::thread::current().id() {
            let left = until.saturating_duration_since(Instant::now());
            // The pass thread waits on nothing without a bound, so this ends well within
            // it; should it not, the thread is left behind rather than joined.
            if !matches!(
                worker.ended.recv_timeout(left),
                Err(RecvTimeoutError::Timeout)
            ) {
                let _ = worker.thread.join();
            }
        }
        let hung = self.stop_gpu(until);
        if let Some(call) = &hung {
            let warning = Warning {
                kind: WarningKind::DriverHung,
                device: None,
                message: format!(
                    "at shutdown, the GPU thread was left behind: {call}; the process can exit"
                ),
            };
            let _ = catch_unwind(AssertUnwindSafe(|| (worker.sink)(&warning)));
        }
        lock(&self.left_behind).clone_from(&hung);
        hung
    }

    /// Stops the GPU thread within what is left until `until`; the call it is stuck in,
    /// if it did not end.
    #[cfg(feature = "nvml")]
    fn stop_gpu(&self, until: Instant) -> Option<HungCall> {
        let port = self.shared.port.as_ref()?;
        port.stop(until.saturating_duration_since(Instant::now()))
            .map(|call| call.hung(Instant::now()))
    }

    #[cfg(not(feature = "nvml"))]
    fn stop_gpu(&self, _: Instant) -> Option<HungCall> {
        None
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Shared {
    /// The driver call in progress for longer than three intervals, if any: past that bound
    /// the driver counts as hung, and every GPU figure goes absent.
    pub(super) fn hung(&self) -> Option<HungCall> {
        #[cfg(feature = "nvml")]
        if let Some(port) = &self.port {
            let bound = self.interval * super::STALE_AFTER;
            return port
                .stuck_longer_than(bound)
                .map(|c| c.hung(Instant::now()));
        }
        None
    }

    /// One pass, published; `extra` for one asked for by `sample_now`.
    pub(super) fn pass(&self, probes: &mut Probes, extra: bool) -> Arc<Snapshot> {
        let started = Instant::now();
        let previous = self.latest.load_full();
        let link = PassLink::of(self, &previous);
        let snapshot = Arc::new(probes.pass(&link, extra, started));
        drop(previous);
        // Into the history first: whoever reads it as the latest finds it there.
        self.history.push(snapshot.clone(), extra);
        self.latest.store(snapshot.clone());
        self.published.store(snapshot.seq, Ordering::Release);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_pass_nanos.store(nanos, Ordering::Relaxed);
        snapshot
    }

    /// A pass with its panics caught: reported as a warning, the latest snapshot standing.
    fn pass_caught(&self, probes: &mut Probes, extra: bool) -> Arc<Snapshot> {
        match catch_unwind(AssertUnwindSafe(|| self.pass(probes, extra))) {
            Ok(snapshot) => snapshot,
            Err(panic) => {
                let why = super::warning::panic_text(&*panic);
                probes
                    .warnings
                    .raise(WarningKind::Panicked, None, "pass", || {
                        format!(
                            "a sampler pass panicked and was skipped; the next pass runs: {why}"
                        )
                    });
                self.latest.load_full()
            }
        }
    }

    /// Delivers the warnings raised since the last call (the GPU thread's too) and keeps a
    /// copy of them all for `health()`.
    fn deliver(&self, probes: &mut Probes, sink: &(dyn Fn(&Warning) + Send + Sync)) {
        #[cfg(feature = "nvml")]
        if let Some(port) = &self.port {
            probes.warnings.absorb_list(port.take_warnings());
        }
        if let Some(call) = self.hung() {
            let key = format!("{}:{:?}", call.function, call.gpu);
            probes
                .warnings
                .raise(WarningKind::DriverHung, None, &key, || {
                    format!(
                        "the NVIDIA driver is hung: {call}; GPU figures are absent until it \
                         returns, host and container figures go on"
                    )
                });
        }
        let pending = probes.warnings.take_pending();
        if pending.is_empty() {
            return;
        }
        *lock(&self.warnings) = probes.warnings.kept.clone();
        for warning in &pending {
            // The application's sink: a panic in it must not end the passes.
            let _ = catch_unwind(AssertUnwindSafe(|| sink(warning)));
        }
    }
}

/// The pass thread: a pass every interval and one for each `sample_now` (callers asking
/// together share one), until told to stop; warnings delivered after each.
pub(super) fn run(
    shared: &Shared,
    mut probes: Probes,
    requests: &mpsc::Receiver<Request>,
    sink: &(dyn Fn(&Warning) + Send + Sync),
) {
    shared.deliver(&mut probes, sink);
    let mut next = Instant::now() + shared.interval;
    loop {
        match requests.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Request::Now(reply)) => {
                let mut replies = vec![reply];
                let mut stop = false;
                while let Ok(request) = requests.try_recv() {
                    match request {
                        Request::Now(reply) => replies.push(reply),
                        Request::Stop => stop = true,
                    }
                }
                let snapshot = shared.pass_caught(&mut probes, true);
                for reply in replies {
                    let _ = reply.try_send(snapshot.clone());
                }
                shared.deliver(&mut probes, sink);
                if stop {
                    return;
                }
            }
            Ok(Request::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                shared.pass_caught(&mut probes, false);
                shared.deliver(&mut probes, sink);
                next += shared.interval;
                let now = Instant::now();
                if next < now {
                    // Passes fell behind (a suspended machine): skip, do not burst.
                    next = now + shared.interval;
                }
            }
        }
    }
}
