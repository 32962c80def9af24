//! The GPU thread: the one thread of the sampler that calls the driver (the XID watcher has
//! its own, for its blocking wait). It opens NVML, reads the GPUs' fast tier when the pass
//! thread asks ([`GpuPort::ask`]), then makes the slow reads due and, with backoff, opens
//! NVML again after a failure that can heal.
//!
//! Nothing else waits on it without a bound: the pass thread waits at most the driver
//! deadline for an answer, [`Sampler::build`](crate::SamplerBuilder::build) at most the
//! start timeout for NVML to open, and shutdown at most the shutdown timeout for it to end.
//! A call that never returns leaves the thread behind, named by [`InFlight`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::gpu::{GpuProbe, SLOW_TIERS};
use super::gpu_shared::GpuShared;
use super::in_flight::{self, InFlight};
use super::warning::{Warning, WarningKind, Warnings};
use super::xid::XidLog;
use crate::snapshot::{GpuSample, GpuStatus, HungCall};
use crate::sync::lock;

/// What the GPU thread answers for one pass.
pub(super) struct Answer {
    pub(super) seq: u64,
    /// `None` when the read panicked: the pass carries the last figures.
    pub(super) gpus: Option<Vec<GpuSample>>,
    pub(super) status: GpuStatus,
}

#[derive(Default)]
struct PortState {
    /// The last pass asked for, and whether it is an interval pass (slow reads follow).
    asked: Option<(u64, bool)>,
    answer: Option<Answer>,
    /// NVML's first open has returned, with this status.
    opened: Option<GpuStatus>,
    stop: bool,
    exited: bool,
    /// Warnings raised on the GPU thread, for the pass thread to deliver.
    warnings: Vec<Warning>,
}

/// Where the pass thread and the GPU thread meet. Its lock is held for a few field copies,
/// never across a driver call.
pub(super) struct GpuPort {
    state: Mutex<PortState>,
    to_gpu: Condvar,
    to_pass: Condvar,
    pub(super) in_flight: Arc<InFlight>,
    /// The thread is making its slow reads: a pass meanwhile carries the GPUs' fast tier
    /// rather than wait behind them.
    slow_busy: AtomicBool,
    /// One more than the pass of the last answer (0: none yet), for `answer` to poll.
    answered: AtomicU64,
}

/// How long a pass polls for the GPU thread's answer before it sleeps: about an H200's fast
/// tier with a few GPUs (0.05 ms a GPU at the H200 preset).
const POLL: Duration = Duration::from_micros(300);

/// Why a pass has no fresh GPU figures.
pub(super) enum NoAnswer {
    /// Slow reads, a late answer or a panic: the last figures are carried.
    Carry,
    /// NVML has not opened yet.
    Starting,
    /// The GPU thread has ended (told to stop, or opening NVML panicked): no GPU figures,
    /// for this reason.
    Ended(GpuStatus),
}

impl GpuPort {
    pub(super) fn new() -> Self {
        Self {
            state: Mutex::default(),
            to_gpu: Condvar::new(),
            to_pass: Condvar::new(),
            in_flight: Arc::default(),
            slow_busy: AtomicBool::new(false),
            answered: AtomicU64::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, PortState> {
        lock(&self.state)
    }

    /// The call in progress if it has run longer than `bound`.
    pub(super) fn stuck_longer_than(&self, bound: Duration) -> Option<in_flight::Call> {
        let call = self.in_flight.current()?;
        (call.since.elapsed() > bound).then_some(call)
    }

    /// Asks for the fast tier of pass `seq`, unless the thread is busy with slow reads or
    /// stuck in a call for longer than `deadline` (then the pass carries without waiting).
    /// Returns whether it asked.
    pub(super) fn ask(&self, seq: u64, interval: bool, deadline: Duration) -> bool {
        if self.slow_busy.load(Ordering::Acquire) || self.stuck_longer_than(deadline).is_some() {
            return false;
        }
        let mut state = self.state();
        if state.opened.is_none() || state.exited {
            return false;
        }
        state.asked = Some((seq, interval));
        drop(state);
        self.to_gpu.notify_one();
        true
    }

    /// The answer for pass `seq`, waiting until `until` at the latest: first by polling for
    /// up to [`POLL`] (the fast tier usually answers within it, and a caller that slept
    /// would pay a second wake-up), then asleep.
    pub(super) fn answer(&self, seq: u64, until: Instant) -> Result<Answer, NoAnswer> {
        let poll_until = until.min(Instant::now() + POLL);
        while self.answered.load(Ordering::Acquire) != seq + 1 && Instant::now() < poll_until {
            // Lets the GPU thread run should it share this core.
            std::thread::yield_now();
        }
        let wait = until.saturating_duration_since(Instant::now());
        let (mut state, _) = self
            .to_pass
            .wait_timeout_while(self.state(), wait, |s| {
                s.opened.is_some() && !s.exited && s.answer.as_ref().is_none_or(|a| a.seq != seq)
            })
            .unwrap_or_else(PoisonError::into_inner);
        if state.answer.as_ref().is_some_and(|a| a.seq == seq) {
            return state.answer.take().ok_or(NoAnswer::Carry);
        }
        if state.exited {
            let status = state.opened.clone();
            return Err(NoAnswer::Ended(status.unwrap_or(GpuStatus::InitFailed(
                "the GPU thread ended before NVML opened".into(),
            ))));
        }
        if state.opened.is_none() {
            return Err(NoAnswer::Starting);
        }
        Err(NoAnswer::Carry)
    }

    /// Waits until NVML's first open returned or `bound` passed; its status, if it did.
    pub(super) fn wait_opened(&self, bound: Duration) -> Option<GpuStatus> {
        let (state, _) = self
            .to_pass
            .wait_timeout_while(self.state(), bound, |s| s.opened.is_none() && !s.exited)
            .unwrap_or_else(PoisonError::into_inner);
        state.opened.clone()
    }

    /// The warnings the GPU thread raised since the last call.
    pub(super) fn take_warnings(&self) -> Vec<Warning> {
        std::mem::take(&mut self.state().warnings)
    }

    /// Tells the thread to stop and waits at most `bound` for it to end (its XID watcher
    /// stopped, NVML let go). The call it is stuck in, if it did not.
    pub(super) fn stop(&self, bound: Duration) -> Option<HungCall> {
        let mut state = self.state();
        state.stop = true;
        self.to_gpu.notify_all();
        // On `to_pass` (the GPU thread notifies it as it ends): `to_gpu` is the GPU thread's
        // own, and an `ask`'s `notify_one` must wake that thread, not this one.
        let (state, _) = self
            .to_pass
            .wait_timeout_while(state, bound, |s| !s.exited)
            .unwrap_or_else(PoisonError::into_inner);
        if state.exited {
            return None;
        }
        drop(state);
        Some(match self.in_flight.current() {
            Some(call) => call.hung(Instant::now()),
            // Stuck between two calls counts too: say so.
            None => HungCall {
                function: "no driver call (the GPU thread did not stop)",
                gpu: None,
                running_for: bound,
            },
        })
    }

    /// Waits for the next pass asked for after `answered`; `None` once told to stop.
    fn next_ask(&self, answered: Option<u64>) -> Option<(u64, bool)> {
        let asked = |s: &PortState| s.asked.filter(|(seq, _)| Some(*seq) != answered);
        let state = self
            .to_gpu
            .wait_while(self.state(), |s| !s.stop && asked(s).is_none())
            .unwrap_or_else(PoisonError::into_inner);
        if state.stop {
            return None;
        }
        asked(&state)
    }

    fn publish(&self, f: impl FnOnce(&mut PortState), warnings: &mut Warnings) {
        let pending = warnings.take_pending();
        let mut state = self.state();
        f(&mut state);
        state.warnings.extend(pending);
        drop(state);
        self.to_pass.notify_all();
    }
}

/// What the GPU thread opens NVML with.
pub(super) struct OpenArgs {
    pub(super) settings: super::builder::Settings,
    pub(super) xid: Arc<XidLog>,
}

/// The GPU thread: opens NVML, then answers the pass thread until told to stop.
pub(super) fn run(port: &GpuPort, out: &GpuShared, args: OpenArgs) {
    // Whatever way this ends, even unwinding, the port says so: nobody waits for it then.
    struct Exited<'a>(&'a GpuPort);
    impl Drop for Exited<'_> {
        fn drop(&mut self) {
            self.0.state().exited = true;
            self.0.to_gpu.notify_all();
            self.0.to_pass.notify_all();
        }
    }
    let _exited = Exited(port);
    in_flight::install(port.in_flight.clone());
    let mut warnings = Warnings::default();
    let opened = catch_unwind(AssertUnwindSafe(|| {
        in_flight::phase(
            "opening NVML (the device list and their first reads)",
            None,
            || open_gpu_probe(&args.settings, &mut warnings, &args.xid),
        )
    }));
    let mut probe = match opened {
        Ok((probe, inventory)) => {
            out.inventory.store(Arc::new(inventory));
            probe
        }
        Err(panic) => {
            let why = super::warning::panic_text(&*panic);
            warnings.raise(WarningKind::GpuUnavailable, None, "panic", || {
                format!("no GPU figures: opening NVML panicked: {why}")
            });
            port.publish(
                |s| s.opened = Some(GpuStatus::InitFailed(why.into())),
                &mut warnings,
            );
            return;
        }
    };
    let status = probe.status().clone();
    port.publish(|s| s.opened = Some(status), &mut warnings);
    let mut answered = None;
    while let Some((seq, interval)) = port.next_ask(answered) {
        answered = Some(seq);
        let read = catch_unwind(AssertUnwindSafe(|| probe.sample(&mut warnings)));
        let gpus = match read {
            Ok(gpus) => Some(gpus),
            Err(panic) => {
                raise_panic(&mut warnings, "the GPU fast read", &*panic);
                None
            }
        };
        let slow = interval
            .then(|| probe.next_slow(Instant::now(), seq))
            .flatten();
        let status = probe.status().clone();
        port.publish(
            |s| {
                s.answer = Some(Answer { seq, gpus, status });
                port.slow_busy.store(slow.is_some(), Ordering::Release);
                port.answered.store(seq + 1, Ordering::Release);
            },
            &mut warnings,
        );
        if let Some(first) = slow {
            let max = SLOW_TIERS * probe.device_count().max(1);
            let slow = catch_unwind(AssertUnwindSafe(|| {
                slow_reads(&mut probe, first, max, seq, out, &mut warnings)
            }));
            if let Err(panic) = slow {
                raise_panic(&mut warnings, "a slow GPU read", &*panic);
            }
            port.slow_busy.store(false, Ordering::Release);
        }
        if interval {
            port.slow_busy.store(true, Ordering::Release);
            let retried = catch_unwind(AssertUnwindSafe(|| {
                in_flight::phase(
                    "opening NVML again (the device list and their first reads)",
                    None,
                    || probe.retry_if_due(&mut warnings),
                )
            }));
            match retried {
                Ok(Some(inventory)) => out.inventory.store(Arc::new(inventory)),
                Ok(None) => {}
                Err(panic) => raise_panic(&mut warnings, "opening NVML again", &*panic),
            }
            port.slow_busy.store(false, Ordering::Release);
        }
        lock(&out.costs).clone_from(&probe.costs);
        port.publish(|_| {}, &mut warnings);
    }
    // NVML let go on this thread: the XID watcher stopped first, within its own bound, and
    // the last `Arc<Nvml>`'s Drop calls `nvmlShutdown`, marked as in flight.
    in_flight::phase("nvmlShutdown", None, move || drop(probe));
}

/// Makes the slow reads due now, one at a time, keeping what each found before the next.
/// At the default rates the reads are due at different times, so a pass is followed by one
/// at most; rates shorter than the interval ask for every one after every pass. Only reads
/// due when the first began: each tier of each device at most once, and at most `max`.
fn slow_reads(
    probe: &mut GpuProbe,
    first: super::gpu::SlowJob,
    max: usize,
    after_pass: u64,
    out: &GpuShared,
    warnings: &mut Warnings,
) {
    let round = Instant::now();
    let mut job = Some(first);
    let mut made = 0;
    while let Some(next) = job.take() {
        let result = next.run();
        made += 1;
        probe.store_slow(result, warnings);
        if let Some(log) = probe.take_activity_log() {
            out.activity.store(log);
        }
        if made < max {
            job = probe.next_slow(round, after_pass);
        }
    }
}

fn raise_panic(warnings: &mut Warnings, what: &str, panic: &(dyn std::any::Any + Send)) {
    let why = super::warning::panic_text(panic);
    warnings.raise(WarningKind::Panicked, None, what, || {
        format!("{what} panicked and was skipped; the next pass runs: {why}")
    });
}

/// Opens NVML and the GPU probe (on the GPU thread: the calls may hang).
fn open_gpu_probe(
    settings: &super::builder::Settings,
    warnings: &mut Warnings,
    xid: &std::sync::Arc<super::xid::XidLog>,
) -> (super::gpu::GpuProbe, crate::snapshot::GpuInventory) {
    super::gpu::GpuProbe::open(
        settings.nvml_library.as_deref(),
        settings.visible_devices.as_deref(),
        settings.cuda_device_order.as_deref(),
        settings.rates,
        warnings,
        xid.clone(),
    )
}
