//! Per-span histograms: what each selected span did, as metrics with bounded attributes
//! (the span's name, and the GPU's `hw.id` for GPU figures), one per catalogue row that
//! names a histogram.

use std::sync::Arc;

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::KeyValue;

use crate::keys;
use crate::sampler::Sampler;
use crate::snapshot::catalogue::{GpuFigure, HostFigure, Measure, SpanHistogram};
use crate::snapshot::{GpuSample, Snapshot};

/// The histograms, recorded at each selected span's end.
#[derive(Debug, Clone)]
pub(crate) struct SpanHistograms {
    host: Vec<(HostFigure, Histogram<f64>)>,
    gpu: Vec<(GpuFigure, Histogram<f64>)>,
}

fn histogram(meter: &Meter, h: SpanHistogram) -> Histogram<f64> {
    meter
        .f64_histogram(h.name)
        .with_unit(h.unit)
        .with_description(h.description)
        .with_boundaries(h.buckets.to_vec())
        .build()
}

/// What a host or process row's histogram records between two snapshots.
fn between(f: HostFigure, measure: Measure, start: &Snapshot, end: &Snapshot) -> Option<f64> {
    let read = f.figure().read;
    let (s, e) = (read(start)?, read(end)?);
    match measure {
        Measure::Delta => super::counter_delta(s, e),
        Measure::Growth => Some((e - s).max(0.0)),
        // A host figure's peak would need the span's passes; no row asks for it.
        Measure::Peak => None,
    }
}

impl SpanHistograms {
    pub(crate) fn new(meter: &Meter) -> Self {
        Self {
            host: HostFigure::ALL
                .into_iter()
                .filter_map(|f| Some((f, histogram(meter, f.figure().histogram?))))
                .collect(),
            gpu: GpuFigure::ALL
                .into_iter()
                .filter_map(|f| Some((f, histogram(meter, f.figure().histogram?))))
                .collect(),
        }
    }

    /// Records one span. The caller records only spans that
    /// [`observed`](super::observed::observed) something; `reported` says which GPUs count.
    pub(crate) fn record(
        &self,
        span_name: &'static str,
        fields: &[KeyValue],
        (sampler, start, end): (&Sampler, &Snapshot, &Snapshot),
        reported: impl Fn(&GpuSample) -> bool,
    ) {
        let mut name = Vec::with_capacity(fields.len() + 2);
        name.push(KeyValue::new(keys::SPAN_NAME.clone(), span_name));
        name.extend_from_slice(fields);
        for (f, h) in &self.host {
            let measure = f.figure().histogram.map(|h| h.measure);
            if let Some(v) = measure.and_then(|m| between(*f, m, start, end)) {
                h.record(v, &name);
            }
        }
        for (f, h) in &self.gpu {
            // GPU rows record their peak over the span's own passes, per GPU.
            for (uuid, peak) in super::figure_peaks(sampler, start, end, &reported, *f) {
                name.push(KeyValue::new(keys::HW_ID.clone(), uuid.to_string()));
                h.record(peak, &name);
                name.pop();
            }
        }
    }
}

/// Each reported GPU's peak of `figure` between two snapshots (UUID, value).
pub(crate) type Peaks = Vec<(Arc<str>, f64)>;
