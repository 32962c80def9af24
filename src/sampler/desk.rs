//! Where callers ask the pass thread for a pass now (`sample_now`) or to stop, and wait for
//! it within a bound. Its lock is held for a few counter updates, never across a pass, and
//! asking allocates nothing.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sync::lock;

#[derive(Debug, Default)]
struct State {
    /// Passes asked for so far; the number is each caller's ticket.
    asked: u64,
    /// The highest ticket whose pass is published: every ticket up to it is served.
    served: u64,
    stop: bool,
    /// The pass thread has ended.
    ended: bool,
}

/// What the pass thread does next.
pub(super) enum Next {
    /// A pass for every ticket up to `ticket`; with `interval`, it is the interval's pass
    /// too (it came due meanwhile), so steady callers never crowd out interval passes.
    Serve {
        ticket: u64,
        interval: bool,
    },
    /// The interval is up.
    Interval,
    Stop,
}

#[derive(Debug, Default)]
pub(super) struct Desk {
    state: Mutex<State>,
    to_pass: Condvar,
    to_callers: Condvar,
}

impl Desk {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Asks for a pass and waits for it at most `bound`; whether it was published.
    pub(super) fn pass_now(&self, bound: Duration) -> bool {
        let mut state = self.state();
        if state.stop || state.ended {
            return false;
        }
        state.asked += 1;
        let ticket = state.asked;
        self.to_pass.notify_one();
        let (state, _) = self
            .to_callers
            .wait_timeout_while(state, bound, |s| s.served < ticket && !s.ended)
            .unwrap_or_else(PoisonError::into_inner);
        state.served >= ticket
    }

    /// For the pass thread: waits until a pass is asked for, `next` comes, or stop.
    pub(super) fn next(&self, next: Instant) -> Next {
        let mut state = self.state();
        loop {
            if state.stop {
                return Next::Stop;
            }
            let now = Instant::now();
            if state.asked > state.served {
                return Next::Serve {
                    ticket: state.asked,
                    interval: now >= next,
                };
            }
            if now >= next {
                return Next::Interval;
            }
            state = self
                .to_pass
                .wait_timeout(state, next - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// For the pass thread: the passes of every ticket up to `ticket` are published.
    pub(super) fn served(&self, ticket: u64) {
        let mut state = self.state();
        state.served = state.served.max(ticket);
        drop(state);
        self.to_callers.notify_all();
    }

    /// For the pass thread, as it ends (also by unwinding).
    pub(super) fn ended(&self) {
        self.state().ended = true;
        self.to_callers.notify_all();
    }

    /// Tells the pass thread to stop and waits at most `bound` for it to end; whether it did.
    pub(super) fn stop(&self, bound: Duration) -> bool {
        let mut state = self.state();
        state.stop = true;
        self.to_pass.notify_all();
        let (state, _) = self
            .to_callers
            .wait_timeout_while(state, bound, |s| !s.ended)
            .unwrap_or_else(PoisonError::into_inner);
        state.ended
    }

    /// Marks the stop only (the pass thread itself is stopping its own sampler).
    pub(super) fn stop_without_waiting(&self) {
        self.state().stop = true;
        self.to_pass.notify_all();
    }
}

/// Marks the pass thread ended when dropped, however it ends.
pub(super) struct EndGuard<'a>(pub(super) &'a Desk);

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        self.0.ended();
    }
}
