//! Each GPU's recent activity windows (the activity tier's reads, each a mean over the time
//! since the one before), published by the sampler thread after each such read and loaded
//! by span ends without a lock. A window counts for a span only when it lies within it: its
//! means are the device's over that stretch, not a reading at one pass, so they do not fit
//! the history's passes. A window began within a span when it began after the first pass
//! after the span's start snapshot (that pass was published after the span began, and an
//! activity read follows a pass): told by pass numbers, not by a clock read on the span.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::snapshot::GpuActivity;

/// The figures a span writes of the windows it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanActivity {
    /// Any tensor core busy.
    Tensor = 0,
    /// DRAM bandwidth used.
    Dram = 1,
    /// SM occupancy.
    SmOccupancy = 2,
    /// This process's share of the SMs.
    ProcessSm = 3,
}

const FIGURES: usize = 4;

/// Windows kept per device: at the default rates 42 minutes (up to four GPUs) to 85 minutes (eight).
const KEPT: usize = 256;

/// One window of one device: its span-relevant figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Window {
    /// The pass after which it began.
    after_pass: u64,
    from: Instant,
    to: Instant,
    values: [Option<f64>; FIGURES],
}

impl Window {
    /// The window of an activity read, if it has one (the first read of a device has none).
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn of(a: &GpuActivity) -> Option<Self> {
        let (from, to) = a.window?;
        let after_pass = a.from_pass?;
        let values = [a.tensor, a.dram, a.sm_occupancy, a.process_sm];
        values.iter().any(Option::is_some).then_some(Self {
            after_pass,
            from,
            to,
            values,
        })
    }
}

/// One device's windows, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct DeviceLog {
    uuid: Arc<str>,
    windows: VecDeque<Window>,
}

/// Every device's windows.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActivityLog {
    devices: Vec<Arc<DeviceLog>>,
}

impl ActivityLog {
    /// This log with `window` added to device `uuid`'s (the others shared, not copied).
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) fn with(&self, uuid: &Arc<str>, window: Window) -> Self {
        let mut next = self.clone();
        let at = next.devices.iter().position(|d| &d.uuid == uuid);
        let device = match at {
            Some(i) => Arc::make_mut(&mut next.devices[i]),
            None => {
                next.devices.push(Arc::new(DeviceLog {
                    uuid: uuid.clone(),
                    windows: VecDeque::new(),
                }));
                let last = next.devices.len() - 1;
                Arc::make_mut(&mut next.devices[last])
            }
        };
        if device.windows.len() == KEPT {
            device.windows.pop_front();
        }
        device.windows.push_back(window);
        next
    }

    /// The windows of the device with this UUID, looked for first at position `hint`.
    pub(crate) fn device(&self, hint: usize, uuid: &Arc<str>) -> Option<&DeviceLog> {
        crate::snapshot::position_by_uuid(&self.devices, hint, uuid, |d| &d.uuid)
            .map(|i| &*self.devices[i])
    }
}

/// The windows a span covers: their time, and each figure's time-weighted mean and peak.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ActivitySpan {
    /// The windows' total length.
    pub(crate) covered: Duration,
    /// How many windows.
    pub(crate) windows: u32,
    weighted: [f64; FIGURES],
    seconds: [f64; FIGURES],
    peak: [Option<f64>; FIGURES],
}

impl ActivitySpan {
    /// The mean over the covered windows that have the figure, weighted by their length.
    pub(crate) fn mean(&self, f: SpanActivity) -> Option<f64> {
        let k = f as usize;
        (self.seconds[k] > 0.0).then(|| self.weighted[k] / self.seconds[k])
    }

    /// The highest window's value.
    pub(crate) fn peak(&self, f: SpanActivity) -> Option<f64> {
        self.peak[f as usize]
    }
}

impl DeviceLog {
    /// The windows that began after pass `first` (and, being published, have ended):
    /// `None` when there is none.
    pub(crate) fn since(&self, first: u64) -> Option<ActivitySpan> {
        let mut span = ActivitySpan::default();
        for w in self.windows.iter().rev() {
            if w.after_pass < first {
                break;
            }
            let length = w.to.saturating_duration_since(w.from);
            let seconds = length.as_secs_f64();
            span.covered += length;
            span.windows += 1;
            for (k, v) in w.values.iter().enumerate() {
                if let Some(v) = *v {
                    span.weighted[k] += v * seconds;
                    span.seconds[k] += seconds;
                    span.peak[k] = Some(span.peak[k].map_or(v, |p: f64| p.max(v)));
                }
            }
        }
        (span.windows > 0).then_some(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A window of `secs` seconds from `at` s after `t`, begun after pass `after`.
    fn window(t: Instant, after: u64, at: u64, secs: u64, tensor: f64) -> Window {
        let from = t + Duration::from_secs(at);
        Window {
            after_pass: after,
            from,
            to: from + Duration::from_secs(secs),
            values: [Some(tensor), Some(0.2), None, None],
        }
    }

    #[test]
    fn a_span_gets_the_windows_within_it_weighted_by_length() {
        let t = Instant::now();
        let uuid: Arc<str> = "GPU-a".into();
        let log = ActivityLog::default()
            .with(&uuid, window(t, 0, 0, 1, 0.1))
            .with(&uuid, window(t, 5, 1, 1, 0.9))
            .with(&uuid, window(t, 10, 2, 3, 0.5));
        let d = log.device(0, &uuid).unwrap();
        // A span whose start snapshot is pass 3: its first pass is 4; the window begun
        // after pass 0 lies partly before it.
        let s = d.since(4).unwrap();
        assert_eq!(s.windows, 2);
        assert_eq!(s.covered, Duration::from_secs(4));
        let mean = s.mean(SpanActivity::Tensor).unwrap();
        assert!((mean - (0.9 + 0.5 * 3.0) / 4.0).abs() < 1e-12, "{mean}");
        assert_eq!(s.peak(SpanActivity::Tensor), Some(0.9));
        assert_eq!(s.mean(SpanActivity::SmOccupancy), None, "no value, no mean");
        // Start snapshot 5: the window begun after pass 5 may have begun before the span.
        assert_eq!(d.since(6).unwrap().windows, 1);
        assert!(d.since(11).is_none());
    }

    #[test]
    fn the_log_keeps_its_newest_windows_and_shares_other_devices() {
        let t = Instant::now();
        let (a, b): (Arc<str>, Arc<str>) = ("GPU-a".into(), "GPU-b".into());
        let mut log = ActivityLog::default().with(&b, window(t, 0, 0, 1, 0.3));
        for i in 0..(KEPT as u64 + 10) {
            log = log.with(&a, window(t, i, i, 1, 0.5));
        }
        assert_eq!(log.device(0, &a).unwrap().windows.len(), KEPT);
        assert_eq!(log.device(0, &b).unwrap().windows.len(), 1);
        let next = log.with(&a, window(t, 0, 0, 1, 0.5));
        assert!(
            Arc::ptr_eq(&log.devices[0], &next.devices[0]),
            "b is shared"
        );
    }
}
