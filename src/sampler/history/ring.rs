//! A lock-free ring of snapshots in the order they were taken, written by one writer at a time
//! (the sampler's pass thread) and read by anyone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwapOption;

use super::bucket::Bucket;
use crate::snapshot::Snapshot;

pub(super) struct Ring {
    slots: Box<[ArcSwapOption<Snapshot>]>,
    /// Per slot, the extra passes taken after its snapshot and before the next one, folded
    /// into a bucket (the interval ring only; empty for the ring of extra passes).
    extras: Box<[ArcSwapOption<Bucket>]>,
    /// The bucket of the newest slot, owned by the writer.
    current_extras: std::sync::Mutex<Option<Bucket>>,
    /// Which push each slot holds, written before the slot: a reader that finds another
    /// number after loading the slot knows the slot was overwritten.
    pushes: Box<[AtomicU64]>,
    /// Number of snapshots pushed so far.
    next: AtomicU64,
    /// Nanoseconds since the origin, plus one, of the newest snapshot overwritten (0: none).
    evicted: AtomicU64,
}

impl Ring {
    /// A ring of `capacity` snapshots; `with_extras` keeps, per slot, the extra passes that
    /// followed it.
    pub(super) fn new(capacity: usize, with_extras: bool) -> Self {
        let capacity = capacity.max(1);
        let extras = if with_extras { capacity } else { 0 };
        Self {
            slots: (0..capacity).map(|_| ArcSwapOption::empty()).collect(),
            extras: (0..extras).map(|_| ArcSwapOption::empty()).collect(),
            current_extras: std::sync::Mutex::new(None),
            pushes: (0..capacity).map(|_| AtomicU64::new(u64::MAX)).collect(),
            next: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Appends a snapshot (newer than every one before it).
    pub(super) fn push(&self, snapshot: Arc<Snapshot>, origin: Instant) {
        let n = self.next.load(Ordering::Relaxed);
        let slot = self.slot(n);
        if let Some(old) = self.slots[slot].load_full() {
            let ns = nanos_since(origin, old.taken_at);
            self.evicted.store(ns.saturating_add(1), Ordering::SeqCst);
        }
        self.pushes[slot].store(n, Ordering::SeqCst);
        if let Some(extras) = self.extras.get(slot) {
            extras.store(None);
        }
        self.slots[slot].store(Some(snapshot));
        self.next.store(n + 1, Ordering::SeqCst);
    }

    /// Folds an extra pass into the newest slot's bucket (a ring made `with_extras`, after
    /// its first push).
    pub(super) fn push_extra(&self, s: &Snapshot) {
        let Some(n) = self.next.load(Ordering::Relaxed).checked_sub(1) else {
            return;
        };
        let Some(extras) = self.extras.get(self.slot(n)) else {
            return;
        };
        // Only the pass thread writes: this lock is never contended.
        let mut current = crate::sync::lock(&self.current_extras);
        match &mut *current {
            Some(b) if b.index == n => b.add(s),
            other => *other = Some(Bucket::new(n, s)),
        }
        extras.store(current.as_ref().map(|b| Arc::new(b.clone())));
    }

    /// Nanoseconds since the origin, plus one, of the newest snapshot overwritten (0: none):
    /// from then on the ring holds every snapshot it was given.
    pub(super) fn complete_from(&self) -> u64 {
        self.evicted.load(Ordering::SeqCst)
    }

    /// Number of snapshots pushed so far.
    pub(super) fn pushed(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }

    /// Push `n`, if the ring still holds it.
    pub(super) fn get(&self, n: u64) -> Option<Arc<Snapshot>> {
        let slot = self.slot(n);
        let snapshot = self.slots[slot].load_full()?;
        (self.pushes[slot].load(Ordering::SeqCst) == n).then_some(snapshot)
    }

    /// Push `n` and the bucket of the extra passes that followed it, if the ring still
    /// holds it.
    pub(super) fn get_with_extras(&self, n: u64) -> Option<(Arc<Snapshot>, Option<Arc<Bucket>>)> {
        let slot = self.slot(n);
        let snapshot = self.slots[slot].load_full()?;
        let extras = self.extras.get(slot).and_then(ArcSwapOption::load_full);
        (self.pushes[slot].load(Ordering::SeqCst) == n).then_some((snapshot, extras))
    }

    /// The newest push taken at or before `t` that the ring still holds, else the oldest
    /// held; by bisection.
    pub(super) fn at_or_before(&self, t: Instant) -> u64 {
        let end = self.next.load(Ordering::SeqCst);
        let mut lo = end.saturating_sub(self.slots.len() as u64);
        let mut hi = end;
        // First push taken after `t`; a push no longer held counts as older.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(s) if s.taken_at > t => hi = mid,
                _ => lo = mid + 1,
            }
        }
        lo.saturating_sub(1)
            .max(end.saturating_sub(self.slots.len() as u64))
    }

    /// Calls `f` with every held snapshot taken in `[from, to]`, oldest first. Finds the
    /// first by bisection, so the cost is the number of snapshots in range plus a logarithm.
    pub(super) fn for_each_in(&self, from: Instant, to: Instant, f: &mut dyn FnMut(&Snapshot)) {
        let end = self.next.load(Ordering::SeqCst);
        let mut lo = end.saturating_sub(self.slots.len() as u64);
        let mut hi = end;
        // First push taken at or after `from`; a push no longer held counts as older.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(s) if s.taken_at >= from => hi = mid,
                _ => lo = mid + 1,
            }
        }
        for n in lo..end {
            let Some(s) = self.get(n) else { continue };
            if s.taken_at > to {
                break;
            }
            if s.taken_at >= from {
                f(&s);
            }
        }
    }

    /// Bytes held: the slots, every snapshot and every bucket of extra passes in them.
    pub(super) fn heap_bytes(&self, snapshot_bytes: impl Fn(&Snapshot) -> usize) -> usize {
        let slots = self.slots.len()
            * (std::mem::size_of::<ArcSwapOption<Snapshot>>() + std::mem::size_of::<AtomicU64>())
            + self.extras.len() * std::mem::size_of::<ArcSwapOption<Bucket>>();
        let extras: usize = self
            .extras
            .iter()
            .filter_map(|b| b.load_full())
            .map(|b| super::ARC_HEADER + std::mem::size_of::<Bucket>() + b.heap_bytes())
            .sum();
        let held: usize = self
            .slots
            .iter()
            .filter_map(|s| s.load_full())
            .map(|s| snapshot_bytes(&s))
            .sum();
        slots + held + extras
    }

    fn slot(&self, n: u64) -> usize {
        (n % self.slots.len() as u64) as usize
    }
}

pub(super) fn nanos_since(origin: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(origin).as_nanos()).unwrap_or(u64::MAX)
}
