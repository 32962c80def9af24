//! Cumulative counters kept monotonic as exported. A counter the source restarts (a driver
//! reload restarts the GPU's energy, throttle-time, PCIe and ECC counters; a new cgroup its
//! CPU time; a counter may wrap) would otherwise be exported lower than before, and
//! opentelemetry_sdk keeps one start time per instrument, so a consumer could not tell the
//! restart from a counter that went backwards. Each series carries an offset: what it had
//! counted before each restart.
//!
//! The offsets live in the instrument's callback, behind a mutex only that callback takes
//! (the exporters' collections call it, one at a time in practice): neither the sampler
//! thread nor a request ever waits on it. A restart is seen between two collections; one
//! that happens and is overtaken between two (the counter back above its last exported
//! value) is not seen, and the series misses what was counted before it, but never goes
//! backwards.

use std::sync::Arc;

/// The offsets of one counter instrument's series, each named by its row's position among
/// the instrument's rows and, for a GPU row, the GPU's UUID. A few per instrument (rows times
/// GPUs): a list, searched in order, that clones a UUID only for a new series.
#[derive(Debug, Default)]
pub(super) struct Offsets {
    series: Vec<(usize, Option<Arc<str>>, Carried)>,
}

#[derive(Debug, Clone, Copy)]
struct Carried {
    /// The source's value at the last collection.
    last: f64,
    /// What the series counted before the source's restarts.
    offset: f64,
}

impl Offsets {
    /// The value to export for the series of `row` (and `gpu`) whose source reads `value`
    /// now: `value` plus what was counted before each restart (a value below the last one
    /// seen is a restart from 0: everything counted up to the last one is carried).
    pub(super) fn monotonic(&mut self, row: usize, gpu: Option<&Arc<str>>, value: f64) -> f64 {
        let at = self
            .series
            .iter()
            .position(|(r, g, _)| *r == row && g.as_ref() == gpu);
        let c = match at {
            Some(k) => &mut self.series[k].2,
            None => {
                let first = Carried {
                    last: value,
                    offset: 0.0,
                };
                self.series.push((row, gpu.cloned(), first));
                return value;
            }
        };
        if value < c.last {
            c.offset += c.last;
        }
        c.last = value;
        c.offset + value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_carries_what_was_counted_and_series_are_apart() {
        let mut o = Offsets::default();
        let (gpu0, gpu1): (Arc<str>, Arc<str>) = ("GPU-0".into(), "GPU-1".into());
        // A UUID equal in text, not the same allocation, is the same GPU.
        let gpu0_again: Arc<str> = "GPU-0".into();
        assert_eq!(o.monotonic(0, Some(&gpu0), 1000.0), 1000.0);
        assert_eq!(o.monotonic(0, Some(&gpu1), 50.0), 50.0);
        assert_eq!(o.monotonic(0, Some(&gpu0), 1100.0), 1100.0);
        // The driver reloads: the counter starts again.
        assert_eq!(o.monotonic(0, Some(&gpu0_again), 200.0), 1300.0);
        assert_eq!(o.monotonic(0, Some(&gpu0), 300.0), 1400.0);
        assert_eq!(o.monotonic(0, Some(&gpu0), 10.0), 1410.0);
        assert_eq!(
            o.monotonic(0, Some(&gpu1), 60.0),
            60.0,
            "another series is its own"
        );
        assert_eq!(o.monotonic(1, None, 5.0), 5.0, "and another row");
        assert_eq!(o.monotonic(1, None, 4.0), 9.0);
    }
}
