//! What a GPU's units did during a span: the activity windows (GPM's tensor, DRAM and SM
//! occupancy figures, this process's SM share) that lie within it, each a mean over its
//! window. A span shorter than one window gets none of them: there is no reading of its own
//! to give, and a window reaching before the span would be another stretch's.

use std::time::Instant;

use super::entry::{Num, Out};
use super::SpanEnds;
use crate::keys::GpuKeys;
use crate::sampler::activity_log::{DeviceLog, SpanActivity};

/// Below this the covered share is written: the windows never quite line up with a span.
const WHOLE: f64 = 0.999;

/// The means (compact set), the peaks over two windows or more (full set), and the share of
/// the span the windows cover, of one device's windows within the span.
pub(super) fn activity(
    span: &SpanEnds<'_>,
    log: &DeviceLog,
    k: &'static GpuKeys,
    out: &mut Out<'_>,
) {
    // The first pass after the start snapshot was published after the span began.
    let Some(a) = log.since(span.start.seq + 1) else {
        return;
    };
    let mean = |f| a.mean(f).map(Num::Float);
    let figures = [
        (&k.activity_tensor_mean, mean(SpanActivity::Tensor)),
        (&k.activity_dram_mean, mean(SpanActivity::Dram)),
        (
            &k.activity_sm_occupancy_mean,
            mean(SpanActivity::SmOccupancy),
        ),
        (&k.process_utilization_mean, mean(SpanActivity::ProcessSm)),
    ];
    for (key, value) in figures {
        if let Some(v) = value {
            out.put(key, v);
        }
    }
    // One window's peak is its mean: it says nothing more.
    if span.full && a.windows > 1 {
        if let Some(p) = a.peak(SpanActivity::Tensor) {
            out.put(&k.activity_tensor_peak, Num::Float(p));
        }
        if let Some(p) = a.peak(SpanActivity::Dram) {
            out.put(&k.activity_dram_peak, Num::Float(p));
        }
    }
    let length = Instant::now()
        .saturating_duration_since(span.start.taken_at)
        .as_secs_f64();
    if length > 0.0 {
        let covered = (a.covered.as_secs_f64() / length).min(1.0);
        if covered < WHOLE {
            out.put(&k.activity_coverage, Num::Float(covered));
        }
    }
}
