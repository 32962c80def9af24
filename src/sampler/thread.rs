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
    /// Where callers ask the pass thread for a pass now, or to stop.
    pub(super) desk: Desk,
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

    /// One pass after `previous`, published; `extra` for one asked for by `sample_now`.
    pub(super) fn pass(
        &self,
        probes: &mut Probes,
        previous: &Snapshot,
        extra: bool,
    ) -> Arc<Snapshot> {
        let started = Instant::now();
        let link = PassLink::of(self, previous);
        let snapshot = Arc::new(probes.pass(&link, extra, started));
        // Into the history first: whoever reads it as the latest finds it there.
        self.history.push(snapshot.clone(), extra);
        self.latest.store(snapshot.clone());
        self.published.store(snapshot.seq, Ordering::Release);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_pass_nanos.store(nanos, Ordering::Relaxed);
        snapshot
    }

    /// A pass with its panics caught: reported as a warning, `previous` standing.
    fn pass_caught(
        &self,
        probes: &mut Probes,
        previous: &Arc<Snapshot>,
        extra: bool,
    ) -> Arc<Snapshot> {
        match catch_unwind(AssertUnwindSafe(|| self.pass(probes, previous, extra))) {
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
                previous.clone()
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

/// The pass thread: a pass every interval and one for the `sample_now` callers (those asking
/// together share one), until told to stop; warnings delivered after each.
pub(super) fn run(
    shared: &Shared,
    mut probes: Probes,
    first: Arc<Snapshot>,
    sink: &(dyn Fn(&Warning) + Send + Sync),
) {
    let _ended = EndGuard(&shared.desk);
    let mut last = first;
    shared.deliver(&mut probes, sink);
    let mut next = Instant::now() + shared.interval;
    loop {
        let (ticket, interval) = match shared.desk.next(next) {
            Next::Stop => return,
            Next::Serve { ticket, interval } => (Some(ticket), interval),
            Next::Interval => (None, true),
        };
        last = shared.pass_caught(&mut probes, &last, !interval);
        if let Some(ticket) = ticket {
            shared.desk.served(ticket);
        }
        if interval {
            next += shared.interval;
            let now = Instant::now();
            if next < now {
                // Passes fell behind (a suspended machine): skip, do not burst.
                next = now + shared.interval;
            }
        }
        shared.deliver(&mut probes, sink);
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
