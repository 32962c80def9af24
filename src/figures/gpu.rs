//! One GPU's figures over a span, under its CUDA ordinal's keys.

use super::entry::{counter_delta, value, Num, Out};
use super::span_window::GpuSpan;
use super::SpanEnds;
use std::time::Duration;

use crate::keys::GpuKeys;
use crate::snapshot::catalogue::GpuFigure;
use crate::snapshot::{DeviceState, GpuSample, GpuTier};

/// Whether the two ends hold two different reads of a slow `tier`, each taken within
/// `slack` of its end's fast reading: then their difference is the span's, not a longer
/// stretch's.
fn read_at_both_ends(start: &GpuSample, end: &GpuSample, tier: GpuTier, slack: Duration) -> bool {
    let near = |g: &GpuSample| {
        g.read_at(tier)
            .is_some_and(|at| at.max(g.taken_at).duration_since(at.min(g.taken_at)) <= slack)
    };
    start.read_at(tier) < end.read_at(tier) && near(start) && near(end)
}

/// How far from its end's fast reading a slow read may lie and still stand for that end: a
/// read made after a pass is carried by the next one, up to one interval later.
fn slack(interval: Duration) -> Duration {
    interval + interval / 2
}

/// The energy counter at the device's fast reading: the counter as read, moved to the fast
/// reading's time at the power read there (at most `slack` away). Exact at steady power.
fn energy_at_fast_read(g: &GpuSample) -> Option<f64> {
    let energy = g.energy?;
    let read = g.read_at(GpuTier::Energy)?;
    let Some(power) = g.power else {
        return Some(energy);
    };
    let seconds = if g.taken_at >= read {
        g.taken_at.duration_since(read).as_secs_f64()
    } else {
        -read.duration_since(g.taken_at).as_secs_f64()
    };
    Some(energy + power * seconds)
}

/// Power readings a span needs of its own for an energy estimate (power changes about ten
/// times a second; fewer readings would be one reading times a duration).
const ESTIMATE_READINGS: u32 = 2;

/// Device `g` (at position `j` of the end snapshot), whose figures over the span are `w`.
pub(super) fn device(span: &SpanEnds<'_>, j: usize, g: &GpuSample, w: &GpuSpan, out: &mut Out<'_>) {
    let k = GpuKeys::of(g.index);
    // The device at the start: for its starts (full set), changes and counters (observed);
    // a compact span within one interval needs nothing of it.
    let s = (span.full || span.observed)
        .then(|| span.start.gpu_near(j, &g.uuid))
        .flatten();
    let full = span.full;
    // Deltas need two readings of the device, not one carried to the end.
    let observed = super::observed::gpu_observed(span.observed, s, g);
    match &g.state {
        DeviceState::Ok => {}
        DeviceState::Lost => out.put(&k.state, Num::Str("lost")),
        DeviceState::Error(_) => out.put(&k.state, Num::Str("error")),
    }
    // Each figure's values at the ends, change, and statistics over the span's own passes,
    // as the catalogue's rows say.
    GpuFigure::put_span_outputs(
        (s, g),
        |f| *w.stat(f),
        (full, observed),
        |key, e, v| {
            out.put(key(k), value(e, v));
        },
    );
    condition(span, s, g, w, k, out);
    if !full {
        return;
    }
    energy(span, s, g, w, k, out);
}

/// The energy the device used over the span: the counter's difference where both ends hold
/// a read of it taken at that end (within 1.5 intervals, each moved to its end's fast reading
/// at the power read there), otherwise an estimate from the span's own power readings (their
/// mean times the time between the ends' readings), named `energy.estimate`; nothing for a
/// span with fewer than two power readings of its own.
fn energy(
    span: &SpanEnds<'_>,
    s: Option<&GpuSample>,
    g: &GpuSample,
    w: &GpuSpan,
    k: &'static GpuKeys,
    out: &mut Out<'_>,
) {
    let Some(s) = s.filter(|_| span.observed) else {
        return;
    };
    if read_at_both_ends(s, g, GpuTier::Energy, slack(span.interval)) {
        let ends = energy_at_fast_read(s).zip(energy_at_fast_read(g));
        // A counter that went backwards (the driver re-initialised) gives nothing, never 0.
        let counted = s
            .energy
            .zip(g.energy)
            .and_then(|(s, e)| counter_delta(s, e));
        if let (Some(_), Some((s, e))) = (counted, ends) {
            out.put(&k.energy_delta, Num::Float((e - s).max(0.0)));
        }
        return;
    }
    let power = w.stat(GpuFigure::Power);
    if power.count < ESTIMATE_READINGS {
        return;
    }
    let seconds = g
        .taken_at
        .saturating_duration_since(s.taken_at)
        .as_secs_f64();
    if let Some(mean) = power.mean() {
        out.put(&k.energy_estimate, Num::Float(mean * seconds));
    }
}

/// What slowed or endangered the device during the span, only when there is something to
/// say: the clock-event reasons seen (but `gpu_idle`), the time throttled when above 0, the
/// lowest SM clock (when the span saw passes of its own), the health when not `ok`.
fn condition(
    span: &SpanEnds<'_>,
    s: Option<&GpuSample>,
    g: &GpuSample,
    w: &GpuSpan,
    k: &'static GpuKeys,
    out: &mut Out<'_>,
) {
    if span.observed {
        let reasons = crate::snapshot::ClockEventReasons(w.clock_event_reasons).slowing();
        if reasons.0 != 0 {
            out.put_reasons(&k.clock_event_reasons, reasons.0);
        }
        // The counters are read every few seconds: their difference is the span's only
        // where each end holds a read taken at that end, and only of the causes counted at
        // both.
        let both = s.filter(|s| read_at_both_ends(s, g, GpuTier::Counters, slack(span.interval)));
        let rise = both.and_then(|s| {
            g.condition
                .throttled_time
                .rise_since(&s.condition.throttled_time)
        });
        if let Some(d) = rise.filter(|d| *d > 0.0) {
            out.put(&k.throttled_time_delta, Num::Float(d));
        }
    }
    let health = g.health();
    if health != crate::snapshot::GpuHealth::Ok {
        out.put(&k.health, Num::Str(health.as_str()));
    }
}
