//! The one statistics type of the history's buckets, windows and spans.

use super::Statistic;

/// Min / max / sum / count of one figure over some passes: the one statistics type of the
/// history's buckets, windows and spans. Empty (all zero, cheap to make) until a value
/// comes: `min` and `max` mean something only while `count > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Stat {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) sum: f64,
    pub(crate) count: u32,
}

impl Stat {
    /// No value yet.
    pub(crate) const EMPTY: Stat = Stat {
        min: 0.0,
        max: 0.0,
        sum: 0.0,
        count: 0,
    };

    /// Adds one value; returns whether it is a new low (the first value is).
    #[inline]
    pub(crate) fn add(&mut self, v: Option<f64>) -> bool {
        let Some(v) = v else { return false };
        let low = self.count == 0 || v < self.min;
        if low {
            self.min = v;
        }
        if self.count == 0 || v > self.max {
            self.max = v;
        }
        self.sum += v;
        self.count += 1;
        low
    }

    /// Adds another stretch's statistics; returns whether its low is a new low.
    #[inline]
    pub(crate) fn merge(&mut self, other: &Stat) -> bool {
        if other.count == 0 {
            return false;
        }
        let low = self.count == 0 || other.min < self.min;
        if low {
            self.min = other.min;
        }
        if self.count == 0 || other.max > self.max {
            self.max = other.max;
        }
        self.sum += other.sum;
        self.count += other.count;
        low
    }

    pub(crate) fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    pub(crate) fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / f64::from(self.count))
    }

    /// One statistic of it.
    pub(crate) fn get(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Peak => self.max(),
            Statistic::Low => self.min(),
            Statistic::Mean => self.mean(),
            Statistic::Start | Statistic::End | Statistic::Delta | Statistic::Rise => None,
        }
    }
}
