//! The coarser levels of the history: per level, a ring of buckets of one width, for a
//! horizon; and their settings.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::bucket::Bucket;
use super::ring::nanos_since;
use crate::error::Error;
use crate::snapshot::Snapshot;

/// One level of the sampler's history beyond its raw snapshots: buckets of `width`, kept for
/// `horizon`. Each bucket holds, per figure, the min, max, sum and count of every pass in its
/// stretch of time (per GPU by UUID), so a window older than the raw snapshots still gets
/// exact extremes and means from the buckets that lie wholly inside it.
///
/// ```
/// use std::time::Duration;
/// use otel_resmon::HistoryLevel;
/// let sampler = otel_resmon::Sampler::builder()
///     .gpu(false)
///     .levels([
///         HistoryLevel::new(Duration::from_secs(1), Duration::from_secs(300)),
///         HistoryLevel::new(Duration::from_secs(60), Duration::from_secs(86_400)),
///     ])
///     .build()?;
/// # let _ = sampler;
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLevel {
    width: Duration,
    horizon: Duration,
}

impl HistoryLevel {
    /// Buckets of `width`, kept for `horizon` (rounded up to a whole number of buckets).
    pub fn new(width: Duration, horizon: Duration) -> Self {
        Self { width, horizon }
    }

    /// The time one bucket covers.
    pub fn width(&self) -> Duration {
        self.width
    }

    /// How far back the level reaches.
    pub fn horizon(&self) -> Duration {
        self.horizon
    }

    /// Number of buckets the level keeps.
    pub fn buckets(&self) -> usize {
        let n = self
            .horizon
            .as_nanos()
            .div_ceil(self.width.as_nanos().max(1));
        usize::try_from(n).unwrap_or(usize::MAX)
    }
}

/// Buckets the first default level keeps, at least.
const FIRST_LEVEL_BUCKETS: u32 = 180;
/// Most buckets one level may keep.
const MAX_BUCKETS: usize = 100_000;
/// Most levels.
const MAX_LEVELS: usize = 8;
/// Widths of the first default level to choose from: the divisors of 10 s from 1 s down.
const FIRST_WIDTHS_MS: [u64; 19] = [
    1000, 500, 400, 250, 200, 125, 100, 80, 50, 40, 25, 20, 16, 10, 8, 5, 4, 2, 1,
];

/// The default levels for an interval and a raw history of `raw` passes: buckets of about 5
/// intervals (at most 1 s, at most half the raw history's time, dividing 10 s) for at least
/// 180 buckets and 20 s (3 minutes at the defaults), 10 s buckets for an hour, 10 min buckets
/// for a day. A level whose buckets would not be wider than the interval is left out.
pub(crate) fn default_levels(interval: Duration, raw: usize) -> Vec<HistoryLevel> {
    let raw_time = interval.saturating_mul(u32::try_from(raw).unwrap_or(u32::MAX));
    let limit = (interval * 5).min(Duration::from_secs(1)).min(raw_time / 2);
    let first = FIRST_WIDTHS_MS
        .iter()
        .map(|&ms| Duration::from_millis(ms))
        .find(|w| *w <= limit);
    let mut levels = Vec::with_capacity(3);
    if let Some(w) = first {
        let horizon = (w * FIRST_LEVEL_BUCKETS).max(Duration::from_secs(20));
        levels.push(HistoryLevel::new(w, horizon));
    }
    levels.push(HistoryLevel::new(
        Duration::from_secs(10),
        Duration::from_secs(3600),
    ));
    levels.push(HistoryLevel::new(
        Duration::from_secs(600),
        Duration::from_secs(86_400),
    ));
    levels.retain(|l| l.width > interval);
    levels
}

/// Checks levels given in code or in the environment against each other and against the raw
/// history's time (`raw_time`, history × interval).
///
/// Each level's buckets must be at least 1 ms wide, a whole multiple of the previous level's
/// and at most half the time the previous level (the raw history, for the first) reaches
/// back, so that a window always finds a boundary where the next level takes over; at most
/// 100 000 buckets a level, at most 8 levels.
pub(crate) fn check_levels(
    setting: &'static str,
    levels: Vec<HistoryLevel>,
    raw_time: Duration,
    shown: impl Fn() -> String,
) -> Result<Vec<HistoryLevel>, Error> {
    let invalid = |reason| Error::InvalidSetting {
        setting,
        value: shown(),
        reason,
    };
    if levels.len() > MAX_LEVELS {
        return Err(invalid("must name at most 8 levels"));
    }
    let mut reach = raw_time;
    let mut previous: Option<&HistoryLevel> = None;
    for l in &levels {
        if l.width < Duration::from_millis(1) {
            return Err(invalid("each level's buckets must be at least 1 ms wide"));
        }
        if l.horizon < l.width {
            return Err(invalid("each level's horizon must be at least its width"));
        }
        if l.buckets() > MAX_BUCKETS {
            return Err(invalid("each level must keep at most 100000 buckets"));
        }
        if l.width.saturating_mul(2) > reach {
            return Err(invalid(
                "each level's buckets must be at most half the time the level before reaches \
                 back (the raw history's, history × interval, for the first)",
            ));
        }
        if let Some(p) = previous {
            if l.width <= p.width || l.width.as_nanos() % p.width.as_nanos() != 0 {
                return Err(invalid(
                    "each level's buckets must be a whole multiple of the previous level's",
                ));
            }
            if l.horizon <= p.horizon {
                return Err(invalid(
                    "each level must reach further back than the one before",
                ));
            }
        }
        reach = l.horizon;
        previous = Some(l);
    }
    Ok(levels)
}

/// Parses `RESMON_HISTORY_LEVELS`: `none`, or comma-separated `width/horizon` pairs, each a
/// number with a unit `ms`, `s`, `m` or `h` (`1s/3m,10s/1h,10m/24h`).
pub(crate) fn parse_levels(setting: &'static str, value: &str) -> Result<Vec<HistoryLevel>, Error> {
    let invalid = |reason| Error::InvalidSetting {
        setting,
        value: value.to_owned(),
        reason,
    };
    let text = value.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let shape = "must be `none` or width/horizon pairs such as 1s/3m,10s/1h,10m/24h";
    text.split(',')
        .map(|pair| {
            let (width, horizon) = pair.split_once('/').ok_or_else(|| invalid(shape))?;
            let width = parse_duration(width).ok_or_else(|| invalid(shape))?;
            let horizon = parse_duration(horizon).ok_or_else(|| invalid(shape))?;
            Ok(HistoryLevel::new(width, horizon))
        })
        .collect()
}

fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return None,
    };
    unit.checked_mul(u32::try_from(n).ok()?)
}

/// One level's ring of buckets.
pub(super) struct Level {
    pub(super) width_ns: u64,
    slots: Box<[ArcSwapOption<Bucket>]>,
    /// Index of the newest bucket, plus one (0: none yet).
    newest: AtomicU64,
    /// The bucket being filled, owned by the writer; published as a copy after each pass.
    current: std::sync::Mutex<Option<Bucket>>,
}

impl Level {
    pub(super) fn new(settings: &HistoryLevel) -> Self {
        Self {
            width_ns: u64::try_from(settings.width.as_nanos()).unwrap_or(u64::MAX),
            slots: (0..settings.buckets().max(1))
                .map(|_| ArcSwapOption::empty())
                .collect(),
            newest: AtomicU64::new(0),
            current: std::sync::Mutex::new(None),
        }
    }

    /// Folds one pass into its bucket and publishes the bucket.
    pub(super) fn push(&self, s: &Snapshot, origin: Instant) {
        let index = nanos_since(origin, s.taken_at) / self.width_ns;
        // Only the pass thread writes: this lock is never contended.
        let mut current = crate::sync::lock(&self.current);
        match &mut *current {
            Some(b) if b.index == index => b.add(s),
            other => *other = Some(Bucket::new(index, s)),
        }
        if let Some(b) = &*current {
            let slot = (index % self.slots.len() as u64) as usize;
            self.slots[slot].store(Some(Arc::new(b.clone())));
            self.newest.store(index + 1, Ordering::SeqCst);
        }
    }

    /// The oldest bucket index this level still holds (every older one is gone), leaving
    /// out the one whose slot the next bucket reuses, which a reader could see replaced.
    pub(super) fn oldest_kept(&self) -> u64 {
        (self.newest.load(Ordering::SeqCst) + 1).saturating_sub(self.slots.len() as u64)
    }

    /// Bucket `index`, if it holds passes.
    pub(super) fn get(&self, index: u64) -> Option<Arc<Bucket>> {
        let slot = (index % self.slots.len() as u64) as usize;
        self.slots[slot].load_full().filter(|b| b.index == index)
    }

    /// Bytes held: the slots and every bucket in them.
    pub(super) fn heap_bytes(&self) -> usize {
        let slots = self.slots.len() * std::mem::size_of::<ArcSwapOption<Bucket>>();
        let held: usize = self
            .slots
            .iter()
            .filter_map(|s| s.load_full())
            .map(|b| super::ARC_HEADER + std::mem::size_of::<Bucket>() + b.heap_bytes())
            .sum();
        slots + held
    }
}
