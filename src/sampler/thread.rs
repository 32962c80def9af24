//! The pass thread: what it shares with every reader ([`Shared`]), the handle that stops it
//! (and the GPU thread) within a bound, and the pass itself. The pass thread never calls the
//! driver: it reads the host, asks the GPU thread for the GPUs' fast tier and waits at most
//! the driver deadline for it, so a hung driver costs a pass its GPU figures, nothing more.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::desk::{Desk, EndGuard, Next};
use super::gpu_shared::GpuShared;
use super::history::History;
use super::probes::{PassLink, Probes};
use super::warning::WarningKind;
use super::{xid, Warning};
use crate::snapshot::{ContainerIdentity, HungCall, Snapshot};
use crate::sync::lock;

/// What the sampler threads and every reader share.
pub(super) struct Shared {
    /// Identifies this sampler in the per-thread cache of `latest()`.
    pub(super) id: u64,
    pub(super) latest: ArcSwap<Snapshot>,
    /// `seq` of the snapshot in `latest`, stored after it.
    pub(super) published: AtomicU64,
    pub(super) history: History,
    pub(super) interval: Duration,
    pub(super) bounds: super::builder::Bounds,
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
    /// Tells the pass thread when to stop, and whether it has.
    pub(super) desk: Desk,
    /// What a pass reads the host with: the pass thread's interval passes and `sample_now`
    /// callers take turns. Held for a pass's host reads and its wait for the GPUs' fast
    /// tier (at most three quarters of the driver deadline), never across a driver call.
    pub(super) probes: Mutex<Probes>,
}

pub(super) struct Handle {
    pub(super) shared: Arc<Shared>,
    pub(super) worker: Mutex<Option<Worker>>,
    /// Where the GPU thread was left behind at shutdown, if it was.
    pub(super) left_behind: Mutex<Option<HungCall>>,
}

pub(super) struct Worker {
    pub(super) thread: JoinHandle<()>,
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
        // A warning sink that drops the last clone runs on the pass thread itself, which
        // cannot wait for itself: it ends on its own after the sink returns.
        if worker.thread.thread().id() == std::thread::current().id() {
            self.shared.desk.stop_without_waiting();
        } else if self
            .shared
            .desk
            .stop(until.saturating_duration_since(Instant::now()))
        {
            let _ = worker.thread.join();
        }
        // Else the pass thread is stuck in what it does not bound itself (the application's
        // warning sink): it is left behind rather than joined.
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
    /// The driver call in progress for longer than three intervals (at least 1 s), if any:
    /// past that bound the driver counts as hung, and every GPU figure goes absent.
    pub(super) fn hung(&self) -> Option<HungCall> {
        #[cfg(feature = "nvml")]
        if let Some(port) = &self.port {
            let bound = super::hung_after(self.interval);
            return port
                .stuck_longer_than(bound)
                .map(|c| c.hung(Instant::now()));
        }
        None
    }

    /// One pass, published; `extra` for one asked for by `sample_now`.
    pub(super) fn pass(&self, probes: &mut Probes, extra: bool) -> Arc<Snapshot> {
        let started = Instant::now();
        let previous = self.latest.load();
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
    /// A panic never leaves it, so none reaches a caller's tracing callback.
    pub(super) fn pass_caught(&self, probes: &mut Probes, extra: bool) -> Arc<Snapshot> {
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
    /// copy of them all for `health()`; the sink is called without the probe lock.
    fn deliver(&self, sink: &(dyn Fn(&Warning) + Send + Sync)) {
        let hung = self.hung();
        let pending = {
            let mut probes = lock(&self.probes);
            #[cfg(feature = "nvml")]
            if let Some(port) = &self.port {
                probes.warnings.absorb_list(port.take_warnings());
            }
            if let Some(call) = hung {
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
            if !pending.is_empty() {
                *lock(&self.warnings) = probes.warnings.kept.clone();
            }
            pending
        };
        for warning in &pending {
            // The application's sink: a panic in it must not end the passes.
            let _ = catch_unwind(AssertUnwindSafe(|| sink(warning)));
        }
    }
}

/// The pass thread: a pass every interval until told to stop; warnings delivered after
/// each (also those of the passes `sample_now` callers made meanwhile).
pub(super) fn run(shared: &Shared, sink: &(dyn Fn(&Warning) + Send + Sync)) {
    let _ended = EndGuard(&shared.desk);
    shared.deliver(sink);
    let mut next = Instant::now() + shared.interval;
    while let Next::Interval = shared.desk.next(next) {
        shared.pass_caught(&mut lock(&shared.probes), false);
        shared.deliver(sink);
        next += shared.interval;
        let now = Instant::now();
        if next < now {
            // Passes fell behind (a suspended machine): skip, do not burst.
            next = now + shared.interval;
        }
    }
}

impl<'a> PassLink<'a> {
    /// What a pass of the running sampler needs, `previous` its latest snapshot.
    fn of(shared: &'a Shared, previous: &'a Snapshot) -> Self {
        Self {
            #[cfg(feature = "nvml")]
            port: shared.port.as_deref(),
            bounds: shared.bounds,
            interval: shared.interval,
            previous: Some(previous),
        }
    }
}
