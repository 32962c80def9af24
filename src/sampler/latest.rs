//! [`Sampler::latest`]: the most recent snapshot for one atomic load while the sampler has
//! published nothing newer (each thread keeps the last snapshot it read).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Sampler;
use crate::snapshot::Snapshot;

/// The snapshot a thread read last, so `latest()` can skip arc-swap's protocol while the
/// sampler has published nothing newer. Holds at most one snapshot per thread.
struct LastRead {
    sampler: u64,
    snapshot: Arc<Snapshot>,
}

thread_local! {
    static LAST_READ: RefCell<Option<LastRead>> = const { RefCell::new(None) };
}

impl Sampler {
    /// The most recent snapshot: no lock, no system call.
    ///
    /// Each thread keeps the last snapshot it read; while the sampler has published nothing
    /// newer, this is one atomic load and a reference-count increment.
    #[inline]
    pub fn latest(&self) -> Arc<Snapshot> {
        let shared = &*self.handle.shared;
        let published = shared.published.load(Ordering::Acquire);
        LAST_READ
            .try_with(|cell| {
                let mut cached = cell.borrow_mut();
                match &*cached {
                    Some(c) if c.sampler == shared.id && c.snapshot.seq == published => {
                        c.snapshot.clone()
                    }
                    _ => {
                        let snapshot = shared.latest.load_full();
                        *cached = Some(LastRead {
                            sampler: shared.id,
                            snapshot: snapshot.clone(),
                        });
                        snapshot
                    }
                }
            })
            // During thread teardown the cache is gone: read directly.
            .unwrap_or_else(|_| shared.latest.load_full())
    }

    /// Calls `f` with the most recent snapshot without touching its shared reference count
    /// (span ends on many threads would otherwise all write one cache line). The thread's
    /// cached snapshot is lent out while `f` runs; a nested call loads its own.
    #[inline]
    pub(crate) fn with_latest<R>(&self, f: impl FnOnce(&Arc<Snapshot>) -> R) -> R {
        let shared = &*self.handle.shared;
        let published = shared.published.load(Ordering::Acquire);
        let cached = LAST_READ
            .try_with(|cell| cell.borrow_mut().take())
            .ok()
            .flatten()
            .filter(|c| c.sampler == shared.id && c.snapshot.seq == published);
        let current = cached.unwrap_or_else(|| LastRead {
            sampler: shared.id,
            snapshot: shared.latest.load_full(),
        });
        let result = f(&current.snapshot);
        // During thread teardown the cache may be gone: then nothing is kept.
        let _ = LAST_READ.try_with(|cell| *cell.borrow_mut() = Some(current));
        result
    }
}
