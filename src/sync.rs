//! The crate's one poison-tolerant lock: every mutex here guards data that stays consistent
//! even when a holder panicked (a log, a cache, a copy of counters), so a panic elsewhere
//! never turns into a panic in the next reader.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking its data as it is if a holder panicked.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
