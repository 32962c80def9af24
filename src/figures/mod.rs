//! What a span did to the machine: attributes from its start and end snapshots and the
//! snapshots in between, plus pressure events. The tracing layer and the tower layer's spans
//! both get their figures here; `RequestResources::so_far` (tower/handle.rs) computes its few
//! figures itself, with the same rules (`observed.rs`, `counter_delta`, the history's peaks).

mod activity;
mod entry;
mod gpu;
mod histograms;
mod host;
mod observed;
mod pressure;
mod span_window;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::trace::SpanRef;
use opentelemetry::{KeyValue, Value};

pub(crate) use entry::counter_delta;
use entry::{Entry, Num, Out};
pub(crate) use histograms::SpanHistograms;
#[cfg(feature = "tower")]
pub(crate) use observed::{gpu_observed, observed};
pub(crate) use pressure::PressureEvent;
pub use pressure::PressureThresholds;
use span_window::{GpuSpan, HostSpan, SpanSnapshots};

use crate::keys;
use crate::sampler::Sampler;
use crate::snapshot::catalogue::GpuFigure;
use crate::snapshot::{GpuSample, Snapshot};

/// Which figures a span carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FigureSet {
    /// Each figure's end and delta (its start is end minus delta), and peaks: per GPU device
    /// memory end / delta / peak, this process's GPU memory end / delta, utilization peak /
    /// mean; process CPU time delta, RSS end / delta; host memory used and CPU utilization at
    /// end; GPU status when it is not `ok`; sample age; the cgroup's working set; the lowest
    /// SM clock, and the GPU condition and activity figures when there is something to say.
    /// About 8 attributes plus 8 per GPU. (The GPU count is a resource attribute: the same on
    /// every span, it is not repeated on each.)
    ///
    /// A span whose start and end read the same snapshot (it lies within one sampling
    /// interval) gets no deltas, peaks, lows or means: that snapshot was taken before the
    /// span began, so each would be a made-up 0 or a figure from before the span. 7
    /// attributes with one GPU, 2 more per GPU.
    #[default]
    Compact,
    /// Everything in `Compact`, plus the explicit starts (GPU memory, this process's GPU
    /// memory, RSS, host memory used), and per GPU memory limit, lowest free memory, this
    /// process's peak, memory-controller utilization peak, temperature peak, power mean /
    /// peak, energy used (`energy.delta` from the counter where both ends read it, else
    /// `energy.estimate` from the span's power readings); host lowest available memory, CPU utilization mean, load average;
    /// process RSS peak and virtual memory; the number of snapshots used. About 16 attributes
    /// plus 19 per GPU: five or six GPUs pass the SDK's default limit of 128 attributes per
    /// span (fewer with activity figures and the span's own fields), so pick GPUs with
    /// `ResourceLayerBuilder::gpus` or raise the SDK's span limits.
    Full,
}

thread_local! {
    static BUFFER: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Each reported GPU's peak of `figure` between two snapshots (UUID, value), over the
/// sampler's history in between.
pub(crate) fn figure_peaks(
    sampler: &Sampler,
    start: &Snapshot,
    end: &Snapshot,
    reported: &impl Fn(&GpuSample) -> bool,
    figure: GpuFigure,
) -> histograms::Peaks {
    // The compact fold where it has the figure, else the full one.
    let full = !figure.figure().needed(false);
    let end = Snapshot::end_of(start, end);
    let snapshots = SpanSnapshots {
        sampler,
        start,
        end,
    };
    end.gpus
        .iter()
        .enumerate()
        .filter(|(_, g)| reported(g))
        .filter_map(|(j, g)| {
            let peak = snapshots.gpu(j, &g.uuid, full).stat(figure).max()?;
            Some((g.uuid.clone(), peak))
        })
        .collect()
}

/// The fraction of the time between two snapshots the history still covers, when below 1.
#[cfg(feature = "tower")]
pub(crate) fn coverage(sampler: &Sampler, start: &Snapshot, end: &Snapshot) -> Option<f64> {
    let end = Snapshot::end_of(start, end);
    SpanSnapshots {
        sampler,
        start,
        end,
    }
    .host()
    .coverage
}

/// One span at its end: what the figures are computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndedSpan<'a> {
    pub(crate) start: &'a Snapshot,
    pub(crate) end: &'a Snapshot,
    /// The span's own thread CPU time, when measured.
    pub(crate) cpu_time: Option<f64>,
    pub(crate) name: &'static str,
    /// Field values for the per-span histograms.
    pub(crate) metric_fields: &'a [KeyValue],
    /// The XID errors that arrived while the span was open.
    pub(crate) xids: &'a [crate::sampler::XidEvent],
}

/// What to compute at a span's end.
#[derive(Debug, Clone, Default)]
pub(crate) struct FigureConfig {
    pub(crate) set: FigureSet,
    /// CUDA ordinals to report; `None` for every visible GPU.
    pub(crate) gpus: Option<Arc<[u32]>>,
    pub(crate) pressure: Option<PressureThresholds>,
    /// Per-span histograms, when a meter was given.
    pub(crate) histograms: Option<SpanHistograms>,
    /// Span fields whose values become histogram attributes (the user vouches that they
    /// are low-cardinality).
    pub(crate) metric_fields: Arc<[String]>,
}

impl FigureConfig {
    fn reports(&self, gpu: &GpuSample) -> bool {
        self.gpus
            .as_ref()
            .is_none_or(|list| list.contains(&gpu.index))
    }

    /// Writes a span's figures to its OpenTelemetry span in one batch, with its pressure
    /// events, and `extra` attributes in the same batch; records the per-span histograms when
    /// configured.
    pub(crate) fn write(
        &self,
        sampler: &Sampler,
        ended: &EndedSpan<'_>,
        span: &SpanRef<'_>,
        extra: Vec<KeyValue>,
    ) {
        let EndedSpan {
            start,
            end,
            cpu_time: span_cpu_time,
            name: span_name,
            metric_fields,
            xids,
        } = *ended;
        // A per-thread buffer, so a span end does not allocate once it has grown. Taken out
        // of the thread-local while in use: a re-entrant call finds it empty, not borrowed.
        let mut attributes = BUFFER
            .try_with(|b| std::mem::take(&mut *b.borrow_mut()))
            .unwrap_or_default();
        attributes.push(Entry {
            key: &keys::SAMPLE_AGE,
            value: Num::Float(end.age_coarse().as_secs_f64()),
        });
        if let Some(t) = span_cpu_time {
            attributes.push(Entry {
                key: &keys::SPAN_CPU_TIME,
                value: Num::Float(t),
            });
        }
        let mut rare = Vec::new();
        let events = self.compute(sampler, start, end, &mut attributes, &mut rare);
        self.record_histograms(sampler, start, end, span_name, metric_fields);
        span.set_attributes(
            attributes
                .drain(..)
                .map(|e| KeyValue::new(e.key.clone(), Value::from(e.value)))
                .chain(extra),
        );
        if !rare.is_empty() {
            span.set_attributes(rare);
        }
        let _ = BUFFER.try_with(|b| *b.borrow_mut() = attributes);
        for event in events {
            span.add_event_with_timestamp(keys::PRESSURE_EVENT, event.at, event.attributes);
        }
        for xid in xids {
            let mut attributes = vec![KeyValue::new(keys::HW_ID.clone(), xid.uuid.to_string())];
            if let Some(code) = xid.code {
                attributes.push(KeyValue::new(keys::XID_CODE.clone(), code as i64));
            }
            if let Some(g) = end.gpu(&xid.uuid) {
                attributes.push(KeyValue::new(keys::GPU_INDEX.clone(), i64::from(g.index)));
            }
            span.add_event_with_timestamp(keys::XID_EVENT, xid.at, attributes);
        }
    }

    /// Records the per-span histograms, when configured (for every span, sampled or not).
    pub(crate) fn record_histograms(
        &self,
        sampler: &Sampler,
        start: &Snapshot,
        end: &Snapshot,
        span_name: &'static str,
        metric_fields: &[KeyValue],
    ) {
        let Some(h) = &self.histograms else {
            return;
        };
        // A span whose ends read one snapshot observed nothing: a 0 would be made up (the
        // attributes follow the same rule).
        if !observed::observed(start, end) {
            return;
        }
        h.record(span_name, metric_fields, (sampler, start, end), |g| {
            self.reports(g)
        });
    }

    /// The figures that depend only on the start and end snapshots (and the history between
    /// them), appended to `a`, and the pressure events. Each group of figures (process, host,
    /// each GPU) is a function of its own over the same [`SpanEnds`].
    fn compute(
        &self,
        sampler: &Sampler,
        start: &Snapshot,
        end: &Snapshot,
        a: &mut Vec<Entry>,
        rare: &mut Vec<KeyValue>,
    ) -> Vec<PressureEvent> {
        let snapshots = SpanSnapshots {
            sampler,
            start,
            end,
        };
        let span = SpanEnds {
            start,
            end,
            full: self.set == FigureSet::Full,
            observed: observed::observed(start, end),
            interval: sampler.interval(),
        };
        let mut out = Out(a, rare);
        // A span within one interval has no pass of its own: its statistics are empty, and
        // nothing is folded or built for them.
        let folded;
        let host_span = if span.observed {
            folded = snapshots.host();
            &folded
        } else {
            &HostSpan::EMPTY
        };
        let mut events = Vec::new();

        if end.gpu_status != crate::snapshot::GpuStatus::Ok {
            out.put(&keys::GPU_STATUS, Num::Str(end.gpu_status.as_str()));
        }
        if span.full {
            out.put(&keys::SAMPLE_COUNT, Num::Int(i64::from(host_span.samples)));
        }
        if let Some(coverage) = host_span.coverage {
            out.put(&keys::SAMPLE_COVERAGE, Num::Float(coverage));
        }
        host::host(&span, host_span, &mut out);
        // The activity windows, only for a span with passes of its own (a shorter one lies
        // within one window): one atomic load.
        let activity = span.observed.then(|| sampler.activity());
        for (j, g) in end.gpus.iter().enumerate() {
            if !self.reports(g) {
                continue;
            }
            let folded;
            let w = if span.observed {
                folded = snapshots.gpu(j, &g.uuid, span.full);
                &folded
            } else {
                &GpuSpan::EMPTY
            };
            // An event needs a pass taken during the span: the start snapshot is older than
            // the span, and its time would lie outside it.
            if let (true, Some(thresholds)) = (span.observed, &self.pressure) {
                events.extend(thresholds.gpu_event(g, w));
            }
            gpu::device(&span, j, g, w, &mut out);
            if let Some(log) = activity.as_ref().and_then(|a| a.device(j, &g.uuid)) {
                activity::activity(&span, log, keys::GpuKeys::of(g.index), &mut out);
            }
        }
        if let (true, Some(thresholds)) = (span.observed, &self.pressure) {
            events.extend(thresholds.ram_event(end, host_span));
        }
        events
    }
}

/// One span's ends and what every group of figures asks of them.
pub(crate) struct SpanEnds<'a> {
    pub(crate) start: &'a Snapshot,
    pub(crate) end: &'a Snapshot,
    /// The full figure set was asked for.
    pub(crate) full: bool,
    /// The ends read different snapshots: deltas, peaks and means mean something. When both
    /// ends read the same snapshot (the span lies within one sampling interval) nothing was
    /// observed between them, so a delta would be a made-up 0 and a peak or mean over one
    /// reading the reading itself.
    pub(crate) observed: bool,
    /// The sampler's interval: how far from its end a slow tier's read may lie for a
    /// difference of two reads to be the span's.
    pub(crate) interval: std::time::Duration,
}
