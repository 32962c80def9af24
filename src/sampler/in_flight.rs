//! The driver call in progress on the sampler's GPU thread: which, on which GPU, since when.
//!
//! The GPU thread installs its tracker once ([`install`]); every driver call it makes marks
//! itself with [`call_since`]: two atomic stores going in and two coming out, and a lookup of
//! the function's name in a small per-thread cache (the name gets its number once, the first
//! time the thread makes that call). The pass thread, `health()` and `shutdown()` read it to
//! tell a slow read from a hung one without ever waiting on the driver themselves.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::snapshot::HungCall;
use crate::sync::lock;

/// Every function name a tracked call was made with, numbered from 1 by its position.
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// No GPU: a call about no one device.
const NO_GPU: u32 = u32::MAX;

/// One call in progress, as read by an observer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    name: u32,
    gpu: u32,
    pub(crate) since: Instant,
}

impl Call {
    /// The call named, for a status or a warning.
    pub(crate) fn hung(&self, now: Instant) -> HungCall {
        let name = usize::try_from(self.name).unwrap_or(usize::MAX);
        let function = lock(&NAMES)
            .get(name.wrapping_sub(1))
            .copied()
            .unwrap_or("an unnamed driver call");
        HungCall {
            function,
            gpu: (self.gpu != NO_GPU).then_some(self.gpu),
            running_for: now.saturating_duration_since(self.since),
        }
    }
}

/// The GPU thread's call in progress, if any. Written by that thread alone, without a lock:
/// the call (its name's number and its GPU; 0 when no call is in progress) after its start
/// time, which only moves forward (see [`marked`]).
#[derive(Debug)]
pub(crate) struct InFlight {
    base: Instant,
    /// `name << 32 | gpu`; 0 when no call is in progress.
    call: AtomicU64,
    /// When the call began, nanoseconds after `base`.
    since: AtomicU64,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            call: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }
}

impl InFlight {
    /// The call in progress now.
    pub(crate) fn current(&self) -> Option<Call> {
        let call = self.call.load(Ordering::Acquire);
        if call == 0 {
            return None;
        }
        let since = self
            .base
            .checked_add(Duration::from_nanos(self.since.load(Ordering::Relaxed)))
            .unwrap_or(self.base);
        Some(Call {
            name: (call >> 32) as u32,
            gpu: call as u32,
            since,
        })
    }

    #[inline]
    fn mark(&self, call: u64, since: Instant) {
        let nanos = u64::try_from(since.saturating_duration_since(self.base).as_nanos())
            .unwrap_or(u64::MAX);
        self.since.store(nanos, Ordering::Relaxed);
        self.call.store(call, Ordering::Release);
    }
}

/// This thread's tracker, and the numbers of the names it has marked, by the name's address.
struct Local {
    tracker: Arc<InFlight>,
    cache: [(usize, usize, u32); 64],
}

impl Local {
    /// The number of `function`'s name: from the cache, or given once under [`NAMES`].
    #[inline]
    fn name(&mut self, function: &'static str) -> u32 {
        let key = (function.as_ptr() as usize, function.len());
        let slot = self.cache[(key.0 >> 3) % 64];
        if (slot.0, slot.1) == key {
            return slot.2;
        }
        self.name_slow(function, key)
    }

    #[cold]
    fn name_slow(&mut self, function: &'static str, key: (usize, usize)) -> u32 {
        let mut names = lock(&NAMES);
        let position = match names.iter().position(|n| *n == function) {
            Some(p) => p,
            None => {
                names.push(function);
                names.len() - 1
            }
        };
        let number = u32::try_from(position + 1).unwrap_or(u32::MAX);
        self.cache[(key.0 >> 3) % 64] = (key.0, key.1, number);
        number
    }
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

/// Makes `tracker` the one this thread's driver calls mark (the GPU thread, once).
pub(crate) fn install(tracker: Arc<InFlight>) {
    LOCAL.with(|l| {
        *l.borrow_mut() = Some(Local {
            tracker,
            cache: [(0, 0, 0); 64],
        })
    });
}

/// Marks `call` (and, when `since` is given, its start) as in progress while `f` runs,
/// then gives back what was in progress before. Just `f` on a thread with no tracker.
///
/// The start time only ever moves forward: a call in a phase keeps the phase's, a phase
/// (or a call outside one) stamps its own, and the way out of a phase writes the outer call
/// back (0 at the outermost level) but no older time. So a reader that races the writer may pair a call with a newer start, which
/// makes it look younger, never with an older one: no race reports a false hang.
fn marked<T>(
    function: &'static str,
    gpu: Option<u32>,
    since: Option<Instant>,
    f: impl FnOnce() -> T,
) -> T {
    let outer = LOCAL.try_with(|l| {
        let mut l = l.borrow_mut();
        let local = l.as_mut()?;
        let name = local.name(function);
        let tracker = &local.tracker;
        let outer = tracker.call.load(Ordering::Relaxed);
        // A call without a GPU of its own, inside a phase, is about the phase's GPU.
        let gpu = match gpu {
            Some(gpu) => gpu,
            None if outer != 0 => outer as u32,
            None => NO_GPU,
        };
        let call = u64::from(name) << 32 | u64::from(gpu);
        match (since, outer) {
            (Some(since), _) => tracker.mark(call, since),
            // A call outside a phase starts its own clock: no start time is ever stale.
            (None, 0) => tracker.mark(call, Instant::now()),
            // A call inside a phase names itself and is not given back: the next call, or
            // the phase's end, writes over it. Between two calls of a phase the GPU thread
            // runs its own code, which does not hang, for microseconds.
            (None, _) => {
                tracker.call.store(call, Ordering::Release);
                return Some(None);
            }
        }
        Some(Some(outer))
    });
    let Ok(Some(Some(outer))) = outer else {
        return f();
    };
    // Given back even if `f` unwinds: the pass catches panics and goes on.
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = LOCAL.try_with(|l| {
                if let Some(local) = l.borrow().as_ref() {
                    local.tracker.call.store(self.0, Ordering::Release);
                }
            });
        }
    }
    let _restore = Restore(outer);
    f()
}

/// A phase of the GPU thread's work that starts the clock: reading one device (named by its
/// first call, the handle lookup), opening NVML, letting it go. Calls inside it mark their
/// own name and GPU ([`call`]) and count from the phase's start, so a call hung in it is
/// named, and reported as running for as long as the phase has (the calls before it in the
/// phase take microseconds). After a nested phase, the outer one counts from the nested
/// one's start: it made progress.
pub(crate) fn phase<T>(function: &'static str, gpu: Option<u32>, f: impl FnOnce() -> T) -> T {
    marked(function, gpu, Some(Instant::now()), f)
}

/// One driver call, marked as in progress while it runs: a few atomic stores and a lookup in
/// a per-thread cache, no clock read inside a [`phase`].
pub(crate) fn call<T>(function: &'static str, gpu: Option<u32>, f: impl FnOnce() -> T) -> T {
    marked(function, gpu, None, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_in_flight_while_it_runs_and_the_outer_one_comes_back() {
        let tracker = Arc::new(InFlight::default());
        install(tracker.clone());
        let named = |c: Option<Call>| c.map(|c| c.hung(Instant::now()));
        assert!(tracker.current().is_none());
        phase("outer", None, || {
            let outer = named(tracker.current()).unwrap();
            assert_eq!((outer.function, outer.gpu), ("outer", None));
            call("inner", Some(3), || {
                let inner = named(tracker.current()).unwrap();
                assert_eq!((inner.function, inner.gpu), ("inner", Some(3)));
            });
            // Named until the next call or the phase's end writes over it.
            assert_eq!(named(tracker.current()).unwrap().function, "inner");
        });
        assert!(tracker.current().is_none());
        // A call outside a phase is its own: marked, then given back. A second round hits
        // the cache and names the same.
        call("inner", Some(0), || {
            assert_eq!(named(tracker.current()).unwrap().function, "inner");
        });
        assert!(tracker.current().is_none());
        LOCAL.with(|l| *l.borrow_mut() = None);
    }
}
