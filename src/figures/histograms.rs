//! Per-span histograms: what each selected span did, as metrics with bounded attributes
//! (the span's name, and the GPU's `hw.id` for GPU figures).

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::KeyValue;

use crate::keys;
use crate::keys::metric::{SPAN_CPU_TIME, SPAN_GPU_MEMORY_PEAK, SPAN_MEMORY_GROWTH};
use crate::snapshot::Snapshot;

/// Buckets for CPU time, seconds (half a millisecond to half a minute).
pub(crate) const CPU_SECONDS: [f64; 12] = [
    0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];
const MIB: f64 = 1048576.0;
/// Buckets for memory, bytes (1 MiB to 192 GiB).
pub(crate) const BYTE_BUCKETS: [f64; 11] = [
    MIB,
    4.0 * MIB,
    16.0 * MIB,
    64.0 * MIB,
    256.0 * MIB,
    1024.0 * MIB,
    4096.0 * MIB,
    16384.0 * MIB,
    40960.0 * MIB,
    81920.0 * MIB,
    196608.0 * MIB,
];

/// The histograms, recorded at each selected span's end.
#[derive(Debug, Clone)]
pub(crate) struct SpanHistograms {
    cpu_time: Histogram<f64>,
    memory_growth: Histogram<f64>,
    gpu_memory_peak: Histogram<f64>,
}

impl SpanHistograms {
    pub(crate) fn new(meter: &Meter) -> Self {
        Self {
            cpu_time: meter
                .f64_histogram(SPAN_CPU_TIME)
                .with_unit("s")
                .with_description("Process CPU time used during a span")
                .with_boundaries(CPU_SECONDS.to_vec())
                .build(),
            memory_growth: meter
                .f64_histogram(SPAN_MEMORY_GROWTH)
                .with_unit("By")
                .with_description("Growth of the process's resident memory during a span")
                .with_boundaries(BYTE_BUCKETS.to_vec())
                .build(),
            gpu_memory_peak: meter
                .f64_histogram(SPAN_GPU_MEMORY_PEAK)
                .with_unit("By")
                .with_description("Peak device memory of a GPU during a span")
                .with_boundaries(BYTE_BUCKETS.to_vec())
                .build(),
        }
    }

    /// Records one span. `gpu_peaks` gives each reported GPU's UUID and peak memory. The
    /// caller records only spans that [`observed`](super::observed::observed) something.
    pub(crate) fn record(
        &self,
        span_name: &'static str,
        fields: &[KeyValue],
        start: &Snapshot,
        end: &Snapshot,
        gpu_peaks: &[(std::sync::Arc<str>, f64)],
    ) {
        let mut name = Vec::with_capacity(fields.len() + 2);
        name.push(KeyValue::new(keys::SPAN_NAME.clone(), span_name));
        name.extend_from_slice(fields);
        if let (Some(s), Some(e)) = (start.process.cpu_time, end.process.cpu_time) {
            if let Some(d) = super::counter_delta(s, e) {
                self.cpu_time.record(d, &name);
            }
        }
        if let (Some(s), Some(e)) = (start.process.resident_memory, end.process.resident_memory) {
            self.memory_growth.record(e.saturating_sub(s) as f64, &name);
        }
        for (uuid, peak) in gpu_peaks {
            name.push(KeyValue::new(keys::HW_ID.clone(), uuid.to_string()));
            self.gpu_memory_peak.record(*peak, &name);
            name.pop();
        }
    }
}
