//! Where the pass thread learns when to stop, and the stopper that it has: a flag and a
//! condvar each way, so that stopping waits within a bound and the thread wakes at once.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sync::lock;

#[derive(Debug, Default)]
struct State {
    stop: bool,
    /// The pass thread has ended.
    ended: bool,
}

/// What the pass thread does next.
pub(super) enum Next {
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

    /// Whether the sampler was told to stop.
    pub(super) fn stopping(&self) -> bool {
        self.state().stop
    }

    /// For the pass thread: waits until `next` comes, or stop.
    pub(super) fn next(&self, next: Instant) -> Next {
        let wait = next.saturating_duration_since(Instant::now());
        let (state, _) = self
            .to_pass
            .wait_timeout_while(self.state(), wait, |s| !s.stop)
            .unwrap_or_else(PoisonError::into_inner);
        if state.stop {
            Next::Stop
        } else {
            Next::Interval
        }
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
