//! Splitting a window over the levels, from its newest end back: at each point the coarsest
//! whole bucket that ends there, else raw passes up to the next boundary of the finest level.
//! Between two boundaries of a level at most its ratio to the next finer level is walked, so
//! the work grows with the number of levels, not with the window's length, and what is
//! covered is one stretch without gaps, ending as near the window's end as the data allows.

use std::time::{Duration, Instant};

use super::bucket::Fold;
use super::{Covered, History};
use crate::snapshot::Snapshot;

const NS: Duration = Duration::from_nanos(1);

/// The covered stretch of a window, as it grows backwards.
#[derive(Debug, Default)]
pub(super) struct Parts {
    range: Option<(Instant, Instant)>,
}

impl Parts {
    /// `[from, to]`, both ends included, is covered, just before what was covered so far.
    fn add(&mut self, from: Instant, to: Instant) {
        self.range = Some(match self.range {
            Some((_, hi)) => (from, hi),
            None => (from, to),
        });
    }

    pub(super) fn finish(self, total: u64) -> Covered {
        let nanos = self.range.map_or(0, |(lo, hi)| {
            u64::try_from((hi - lo).as_nanos()).unwrap_or(u64::MAX) + 1
        });
        Covered {
            nanos: nanos.min(total),
            total,
            range: self.range,
        }
    }
}

/// Covers `[from, to]`, newest end first.
pub(super) fn cover(
    h: &History,
    from: Instant,
    to: Instant,
    fold: &mut impl Fold,
    parts: &mut Parts,
) {
    let mut end = to;
    loop {
        if end < from {
            return;
        }
        let end_ns = h.since_origin(end);
        // The coarsest whole bucket that ends at `end`.
        let whole = h.levels.iter().rev().find_map(|level| {
            let w = level.width_ns;
            let next = end_ns.checked_add(1)?;
            if !next.is_multiple_of(w) || next < w {
                return None;
            }
            let k = next / w - 1;
            let start = h.at(k * w);
            (start >= from && k >= level.oldest_kept()).then_some((level, k, start))
        });
        if let Some((level, k, start)) = whole {
            // A bucket that is not there held no pass: the sampler took none in its time.
            if let Some(bucket) = level.get(k) {
                fold.bucket(&bucket);
            }
            parts.add(start, end);
            end = start - NS;
            continue;
        }
        // Raw passes back to the previous boundary of the finest level (or to `from`).
        let back_to = match h.levels.first() {
            Some(level) => {
                let w = level.width_ns;
                let next = end_ns.saturating_add(1);
                let boundary = if next.is_multiple_of(w) {
                    next - w
                } else {
                    next - next % w
                };
                h.at(boundary).max(from)
            }
            None => from,
        };
        match raw_bounds(h, back_to, end) {
            Some((lo, hi)) if hi == end || parts.range.is_none() => {
                raw(h, lo, hi, fold);
                parts.add(lo, hi);
                if lo > back_to {
                    return; // Older passes are gone.
                }
                end = lo - NS;
            }
            // What lies before a gap is not covered: the stretch stays whole.
            Some(_) => return,
            None if parts.range.is_none() => {
                // The window's end is older than the raw passes: from the newest boundary of
                // a level that still holds the bucket before it.
                let Some(boundary) = h.levels.iter().find_map(|level| {
                    let w = level.width_ns;
                    let b = end_ns.saturating_add(1) / w * w;
                    let k = (b / w).checked_sub(1)?;
                    (k >= level.oldest_kept() && h.at(k * w) >= from).then_some(b)
                }) else {
                    return;
                };
                end = h.at(boundary) - NS;
            }
            None => return,
        }
    }
}

/// The part of `[from, to]` the raw level covers: from its oldest interval pass on, less an
/// edge whose extra passes are partly gone from their ring (their bucket also holds passes
/// outside the window, so it cannot stand in for them).
fn raw_bounds(h: &History, from: Instant, to: Instant) -> Option<(Instant, Instant)> {
    let passes = &h.interval_passes;
    let mut lo = from.max(h.at(h.raw_complete_from()));
    let mut hi = to;
    if lo > hi {
        return None;
    }
    let extras_held_from = h.at(h.extra_passes.complete_from());
    // The window starts among a stretch's extra passes, some of them gone from their ring:
    // cover from where the ring holds them all, or after the stretch's last.
    let n = passes.at_or_before(lo);
    if let Some((_, Some(b))) = passes.get_with_extras(n) {
        if b.first < lo && b.last >= lo && lo < extras_held_from {
            lo = (b.last + NS).min(extras_held_from);
        }
    }
    // It ends among them: keep the newest part the ring holds, else end before the first.
    let m = passes.at_or_before(hi);
    if let Some((_, Some(b))) = passes.get_with_extras(m) {
        if b.first <= hi && b.last > hi && b.first < extras_held_from {
            if extras_held_from <= hi {
                lo = lo.max(extras_held_from);
            } else {
                hi = b.first.checked_sub(NS)?;
            }
        }
    }
    (lo <= hi).then_some((lo, hi))
}

/// Folds the raw passes in `[from, to]` (bounds from [`raw_bounds`]): interval pass by
/// interval pass, each with the bucket of the extra passes after it when that bucket lies
/// inside, else those extra passes one by one from their own ring.
fn raw(h: &History, from: Instant, to: Instant, fold: &mut impl Fold) {
    let passes = &h.interval_passes;
    let end = passes.pushed();
    let mut n = passes.at_or_before(from);
    while n < end {
        let Some((pass, extras)) = passes.get_with_extras(n) else {
            n += 1;
            continue;
        };
        if pass.taken_at > to {
            break;
        }
        if let Some(b) = extras {
            if b.first >= from && b.last <= to {
                fold.bucket(&b);
            } else if b.last >= from && b.first <= to {
                let next = passes.get(n + 1).map(|s| s.taken_at);
                let slot_end = next.map_or(to, |t| (t - NS).min(to));
                let mut f = |s: &Snapshot| fold.snapshot(s);
                h.extra_passes
                    .for_each_in(from.max(pass.taken_at), slot_end, &mut f);
            }
        }
        if pass.taken_at >= from {
            fold.snapshot(&pass);
        }
        n += 1;
    }
}
