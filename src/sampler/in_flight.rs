//! The driver call in progress on the sampler's GPU thread: which, on which GPU, since when.
//!
//! The GPU thread installs its tracker once ([`install`]); every driver call it makes marks
//! itself with [`call`] (a few nanoseconds against the microseconds a call costs). The pass
//! thread, `health()` and `shutdown()` read it to tell a slow read from a hung one without
//! ever waiting on the driver themselves.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::snapshot::HungCall;
use crate::sync::lock;

/// One call in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    pub(crate) function: &'static str,
    pub(crate) gpu: Option<u32>,
    pub(crate) since: Instant,
}

impl Call {
    pub(crate) fn hung(&self, now: Instant) -> HungCall {
        HungCall {
            function: self.function,
            gpu: self.gpu,
            running_for: now.saturating_duration_since(self.since),
        }
    }
}

/// The GPU thread's call in progress, if any. The lock is held for a copy only, never
/// across a driver call.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    call: Mutex<Option<Call>>,
}

impl InFlight {
    /// The call in progress now.
    pub(crate) fn current(&self) -> Option<Call> {
        *lock(&self.call)
    }

    fn swap(&self, call: Option<Call>) -> Option<Call> {
        std::mem::replace(&mut *lock(&self.call), call)
    }
}

thread_local! {
    static TRACKER: RefCell<Option<Arc<InFlight>>> = const { RefCell::new(None) };
}

/// Makes `tracker` the one this thread's driver calls mark (the GPU thread, once).
pub(crate) fn install(tracker: Arc<InFlight>) {
    TRACKER.with(|t| *t.borrow_mut() = Some(tracker));
}

/// Makes one driver call marked as in progress. A call inside another (a read inside a
/// phase such as opening NVML) marks itself and, when it returns, gives the outer one back
/// as starting now: it made progress.
pub(crate) fn call<T>(function: &'static str, gpu: Option<u32>, f: impl FnOnce() -> T) -> T {
    let tracker = TRACKER.with(|t| t.borrow().clone());
    let Some(tracker) = tracker else {
        return f();
    };
    let outer = tracker.swap(Some(Call {
        function,
        gpu,
        since: Instant::now(),
    }));
    // Restored even if `f` unwinds: the pass catches panics and goes on.
    struct Restore<'a>(&'a InFlight, Option<Call>);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let outer = self.1.map(|c| Call {
                since: Instant::now(),
                ..c
            });
            self.0.swap(outer);
        }
    }
    let _restore = Restore(&tracker, outer);
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_in_flight_while_it_runs_and_the_outer_one_comes_back() {
        let tracker = Arc::new(InFlight::default());
        install(tracker.clone());
        assert!(tracker.current().is_none());
        call("outer", None, || {
            assert_eq!(tracker.current().map(|c| c.function), Some("outer"));
            call("inner", Some(3), || {
                let c = tracker.current().unwrap();
                assert_eq!((c.function, c.gpu), ("inner", Some(3)));
            });
            assert_eq!(tracker.current().map(|c| c.function), Some("outer"));
        });
        assert!(tracker.current().is_none());
        TRACKER.with(|t| *t.borrow_mut() = None);
    }
}
