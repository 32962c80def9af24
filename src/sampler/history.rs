//! The bounded history of snapshots: a lock-free ring written by the sampler and read by
//! anyone (span ends compute their window from it without taking a lock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;

use crate::snapshot::Snapshot;

pub(crate) struct History {
    slots: Box<[ArcSwapOption<Snapshot>]>,
    /// Sequence number of the next snapshot to be written.
    next: AtomicU64,
}

impl History {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            slots: (0..capacity.max(1))
                .map(|_| ArcSwapOption::empty())
                .collect(),
            next: AtomicU64::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Stores a snapshot. Only one writer at a time (the sampler holds its probe lock), and
    /// sequence numbers increase by one per call.
    pub(crate) fn push(&self, snapshot: Arc<Snapshot>) {
        let seq = snapshot.seq;
        self.slots[self.slot(seq)].store(Some(snapshot));
        self.next.store(seq + 1, Ordering::Release);
    }

    /// Calls `f` with every kept snapshot taken in `[from, to]`, newest first.
    pub(crate) fn for_each_between(
        &self,
        from: Instant,
        to: Instant,
        mut f: impl FnMut(&Snapshot),
    ) {
        let end = self.next.load(Ordering::Acquire);
        let start = end.saturating_sub(self.slots.len() as u64);
        for seq in (start..end).rev() {
            let guard = self.slots[self.slot(seq)].load();
            // A slot overwritten by a newer pass means everything older is gone too.
            let Some(snapshot) = guard.as_deref().filter(|s| s.seq == seq) else {
                break;
            };
            if snapshot.taken_at < from {
                break;
            }
            if snapshot.taken_at <= to {
                f(snapshot);
            }
        }
    }

    fn slot(&self, seq: u64) -> usize {
        (seq % self.slots.len() as u64) as usize
    }
}
