//! Request metrics with bounded attributes: method, scheme, route (the template, never the
//! path), status code, error type.

use opentelemetry::metrics::{Histogram, Meter};
use opentelemetry::KeyValue;

use super::exchange::Exchange;
use crate::keys::http as keys;
use crate::keys::metric::{
    HTTP_SERVER_REQUEST_DURATION, HTTP_SERVER_REQUEST_GPU_MEMORY_PEAK,
    HTTP_SERVER_REQUEST_PROCESS_CPU_TIME,
};
use crate::sampler::Sampler;
use crate::snapshot::catalogue::GpuFigure;
use crate::snapshot::Snapshot;

/// The conventions' advice for `http.server.request.duration`, in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[derive(Debug, Clone)]
pub(crate) struct RequestMetrics {
    duration: Histogram<f64>,
    cpu_time: Histogram<f64>,
    gpu_peak: Histogram<f64>,
}

impl RequestMetrics {
    pub(crate) fn new(meter: &Meter) -> Self {
        Self {
            duration: meter
                .f64_histogram(HTTP_SERVER_REQUEST_DURATION)
                .with_unit("s")
                .with_description("Duration of HTTP server requests")
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            cpu_time: meter
                .f64_histogram(HTTP_SERVER_REQUEST_PROCESS_CPU_TIME)
                .with_unit("s")
                .with_description(
                    "CPU time of the whole process (all threads, not only this request's) \
                     while a request ran",
                )
                .with_boundaries(crate::snapshot::catalogue::CPU_SECONDS.to_vec())
                .build(),
            gpu_peak: meter
                .f64_histogram(HTTP_SERVER_REQUEST_GPU_MEMORY_PEAK)
                .with_unit("By")
                .with_description("Peak device memory of a GPU while a request ran")
                .with_boundaries(crate::snapshot::catalogue::BYTE_BUCKETS.to_vec())
                .build(),
        }
    }

    pub(crate) fn record(&self, x: &Exchange, sampler: &Sampler, end: &Snapshot) {
        let mut attrs = Vec::with_capacity(6);
        attrs.push(KeyValue::new(keys::METHOD.clone(), x.method));
        attrs.push(KeyValue::new(keys::URL_SCHEME.clone(), x.scheme));
        if let Some(route) = &x.route {
            attrs.push(KeyValue::new(keys::ROUTE.clone(), route.clone()));
        }
        if let Some(status) = x.status {
            attrs.push(KeyValue::new(keys::STATUS_CODE.clone(), i64::from(status)));
        }
        if let Some(code) = x.grpc_status {
            attrs.push(KeyValue::new(keys::RPC_GRPC_STATUS_CODE.clone(), code));
        }
        if let Some(error) = x.error {
            attrs.push(KeyValue::new(keys::ERROR_TYPE.clone(), error));
        }
        self.duration
            .record(x.started.elapsed().as_secs_f64(), &attrs);
        let start = &x.start;
        // A request within one snapshot observed nothing: no made-up 0 (as on the span).
        if !crate::figures::observed(start, end) {
            return;
        }
        if let (Some(s), Some(e)) = (start.process.cpu_time, end.process.cpu_time) {
            if let Some(d) = crate::figures::counter_delta(s, e) {
                self.cpu_time.record(d, &attrs);
            }
        }
        for (uuid, peak) in
            crate::figures::figure_peaks(sampler, start, end, &|_| true, GpuFigure::MemoryUsed)
        {
            attrs.push(KeyValue::new(crate::keys::HW_ID.clone(), uuid.to_string()));
            self.gpu_peak.record(peak, &attrs);
            attrs.pop();
        }
    }
}
