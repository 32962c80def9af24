//! Every span attribute key, event name, metric name and metric attribute the crate writes, in
//! one place.
//!
//! Span attributes live under `resmon.` so nothing collides with future semantic conventions.
//! Per-GPU keys carry the device's CUDA ordinal: `resmon.gpu.<i>.memory.usage.start`.
#![doc = include_str!("keys.md")]

use std::sync::{Mutex, OnceLock};

use opentelemetry::Key;
use opentelemetry_semantic_conventions::attribute as semconv;

/// Span field that marks a span for figures (`resmon = true`) or opts it out (`resmon = false`).
pub const MARKER_FIELD: &str = "resmon";
/// Span field asking for a fresh sample at start and end (`resmon.sample_now = true`).
pub const SAMPLE_NOW_FIELD: &str = "resmon.sample_now";

/// Age of the end snapshot when the span closed, seconds.
pub static SAMPLE_AGE: Key = Key::from_static_str("resmon.sample.age");
/// Passes taken during the span that its figures were computed from (its end included, its
/// start snapshot, the state at entry, not).
pub static SAMPLE_COUNT: Key = Key::from_static_str("resmon.sample.count");
/// The fraction of a span the history still covered (0..1), written only when below 1: the
/// span reached past the oldest data kept, and its peaks, lows and means are those of the
/// covered part.
pub static SAMPLE_COVERAGE: Key = Key::from_static_str("resmon.sample.coverage");
/// Span event: an XID error arrived while the span was open (with `hw.id`, the code and the
/// CUDA ordinal).
pub const XID_EVENT: &str = "resmon.gpu.xid";
/// The XID code of a `resmon.gpu.xid` event (absent when the driver gave none).
pub static XID_CODE: Key = Key::from_static_str("resmon.gpu.xid.code");
/// Resource attribute (not a span attribute): the GPUs visible when the pipeline started.
pub static GPU_COUNT: Key = Key::from_static_str("resmon.gpu.count");
/// [`GpuStatus::as_str`](crate::snapshot::GpuStatus::as_str) at the end of the span.
pub static GPU_STATUS: Key = Key::from_static_str("resmon.gpu.status");

/// This process's CPU time used during the span (user + system, all threads), seconds.
pub static PROCESS_CPU_TIME_DELTA: Key = Key::from_static_str("resmon.process.cpu.time.delta");
/// This process's resident memory in the state at entry (the latest pass when the span
/// began), bytes.
pub static PROCESS_MEMORY_START: Key = Key::from_static_str("resmon.process.memory.usage.start");
/// This process's resident memory at span end, bytes.
pub static PROCESS_MEMORY_END: Key = Key::from_static_str("resmon.process.memory.usage.end");
/// End minus start of this process's resident memory, bytes (may be negative).
pub static PROCESS_MEMORY_DELTA: Key = Key::from_static_str("resmon.process.memory.usage.delta");
/// Highest resident memory of this process seen during the span, bytes.
pub static PROCESS_MEMORY_PEAK: Key = Key::from_static_str("resmon.process.memory.usage.peak");
/// This process's virtual memory at span end, bytes.
pub static PROCESS_VIRTUAL_END: Key = Key::from_static_str("resmon.process.memory.virtual.end");
/// CPU time of the threads while they were inside this span (opt-in), seconds.
pub static SPAN_CPU_TIME: Key = Key::from_static_str("resmon.span.cpu.time");

/// Host memory in use in the state at entry (the latest pass when the span began),
/// bytes.
pub static SYSTEM_MEMORY_START: Key = Key::from_static_str("resmon.system.memory.usage.start");
/// Host memory in use at span end, bytes.
pub static SYSTEM_MEMORY_END: Key = Key::from_static_str("resmon.system.memory.usage.end");
/// Lowest available host memory seen during the span, bytes.
pub static SYSTEM_MEMORY_AVAILABLE_MIN: Key =
    Key::from_static_str("resmon.system.memory.available.min");
/// Host CPU utilization at span end, 0..1.
pub static SYSTEM_CPU_UTILIZATION_END: Key =
    Key::from_static_str("resmon.system.cpu.utilization.end");
/// Mean host CPU utilization over the span's own passes, 0..1.
pub static SYSTEM_CPU_UTILIZATION_MEAN: Key =
    Key::from_static_str("resmon.system.cpu.utilization.mean");
/// Host 1-minute load average at span end.
pub static SYSTEM_LOAD_AVERAGE_END: Key = Key::from_static_str("resmon.system.load_average.1m.end");

/// This process's cgroup (its container's) working set at span end, bytes.
pub static CONTAINER_MEMORY_WORKING_SET_END: Key =
    Key::from_static_str("resmon.container.memory.working_set.end");
/// End minus start of the cgroup's working set, bytes (may be negative).
pub static CONTAINER_MEMORY_WORKING_SET_DELTA: Key =
    Key::from_static_str("resmon.container.memory.working_set.delta");
/// Time the cgroup was CPU-throttled (CFS quota used up) during the span, seconds; only
/// when above 0.
pub static CONTAINER_CPU_THROTTLED_TIME_DELTA: Key =
    Key::from_static_str("resmon.container.cpu.throttled_time.delta");

/// Span event raised when free GPU memory or available RAM fell below a threshold.
pub const PRESSURE_EVENT: &str = "resmon.pressure";
/// Pressure event: which resource, `gpu.memory`, `container.memory` (the cgroup's limit
/// minus its working set, where a limit is set) or `system.memory`.
pub static PRESSURE_RESOURCE: Key = Key::from_static_str("resmon.pressure.resource");
/// Pressure event: the threshold crossed, bytes.
pub static PRESSURE_THRESHOLD: Key = Key::from_static_str("resmon.pressure.threshold");
/// Pressure event: free (GPU) or available (RAM) memory at the lowest point, bytes.
pub static PRESSURE_FREE: Key = Key::from_static_str("resmon.pressure.free");
/// Pressure event: the memory's total, bytes.
pub static PRESSURE_LIMIT: Key = Key::from_static_str("resmon.pressure.limit");
/// Pressure event: the GPU's UUID (semantic convention `hw.id`).
pub static HW_ID: Key = Key::from_static_str(semconv::HW_ID);
/// Per-span histograms: the span's name (bounded: names are callsite literals).
pub static SPAN_NAME: Key = Key::from_static_str("span.name");
/// Pressure event: the GPU's CUDA ordinal.
pub static GPU_INDEX: Key = Key::from_static_str("resmon.gpu.index");

/// Highest CUDA ordinal with precomputed keys; devices beyond it get keys built on demand.
const GPU_KEY_TABLE: usize = 64;

/// The per-GPU keys of one CUDA ordinal.
#[derive(Debug, Clone)]
pub(crate) struct GpuKeys {
    pub(crate) memory_start: Key,
    pub(crate) memory_end: Key,
    pub(crate) memory_delta: Key,
    pub(crate) memory_peak: Key,
    pub(crate) memory_limit: Key,
    pub(crate) memory_free_min: Key,
    pub(crate) process_memory_start: Key,
    pub(crate) process_memory_end: Key,
    pub(crate) process_memory_delta: Key,
    pub(crate) process_memory_peak: Key,
    pub(crate) utilization_peak: Key,
    pub(crate) utilization_mean: Key,
    pub(crate) memory_busy_peak: Key,
    pub(crate) temperature_peak: Key,
    pub(crate) power_mean: Key,
    pub(crate) power_peak: Key,
    pub(crate) energy_delta: Key,
    pub(crate) energy_estimate: Key,
    pub(crate) state: Key,
    pub(crate) clock_event_reasons: Key,
    pub(crate) throttled_time_delta: Key,
    pub(crate) clock_sm_min: Key,
    pub(crate) clock_memory_min: Key,
    pub(crate) health: Key,
    /// Provisional (no convention): the activity windows within the span, means weighted
    /// by their length, 0..1.
    pub(crate) activity_tensor_mean: Key,
    pub(crate) activity_tensor_peak: Key,
    pub(crate) activity_dram_mean: Key,
    pub(crate) activity_dram_peak: Key,
    pub(crate) activity_sm_occupancy_mean: Key,
    /// The windows' share of the time since the span's start snapshot, 0..1.
    pub(crate) activity_coverage: Key,
    /// This process's share of the SMs over the windows, beside `utilization.mean`.
    pub(crate) process_utilization_mean: Key,
    /// Resource attributes (the OTLP pipeline's): the device's model and UUID.
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) model: Key,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    pub(crate) uuid: Key,
}

impl GpuKeys {
    fn new(i: usize, key: impl Fn(String) -> Key) -> Self {
        let k = |suffix: &str| key(format!("resmon.gpu.{i}.{suffix}"));
        Self {
            memory_start: k("memory.usage.start"),
            memory_end: k("memory.usage.end"),
            memory_delta: k("memory.usage.delta"),
            memory_peak: k("memory.usage.peak"),
            memory_limit: k("memory.limit"),
            memory_free_min: k("memory.free.min"),
            process_memory_start: k("process.memory.usage.start"),
            process_memory_end: k("process.memory.usage.end"),
            process_memory_delta: k("process.memory.usage.delta"),
            process_memory_peak: k("process.memory.usage.peak"),
            utilization_peak: k("utilization.peak"),
            utilization_mean: k("utilization.mean"),
            memory_busy_peak: k("memory.busy.peak"),
            temperature_peak: k("temperature.peak"),
            power_mean: k("power.mean"),
            power_peak: k("power.peak"),
            energy_delta: k("energy.delta"),
            energy_estimate: k("energy.estimate"),
            state: k("state"),
            clock_event_reasons: k("clock_event_reasons"),
            throttled_time_delta: k("throttled_time.delta"),
            clock_sm_min: k("clock.sm.min"),
            clock_memory_min: k("clock.memory.min"),
            health: k("health"),
            activity_tensor_mean: k("activity.tensor.mean"),
            activity_tensor_peak: k("activity.tensor.peak"),
            activity_dram_mean: k("activity.dram.mean"),
            activity_dram_peak: k("activity.dram.peak"),
            activity_sm_occupancy_mean: k("activity.sm_occupancy.mean"),
            activity_coverage: k("activity.coverage"),
            process_utilization_mean: k("process.utilization.mean"),
            model: k("model"),
            uuid: k("uuid"),
        }
    }

    /// Keys for CUDA ordinal `i`, built once per process and never freed (bounded: one set
    /// of 35 short keys per ordinal ever seen), so cloning a key is free.
    pub(crate) fn of(i: u32) -> &'static GpuKeys {
        static TABLE: OnceLock<Box<[GpuKeys]>> = OnceLock::new();
        static MORE: Mutex<Vec<(u32, &'static GpuKeys)>> = Mutex::new(Vec::new());
        let table = TABLE.get_or_init(|| (0..GPU_KEY_TABLE).map(GpuKeys::leaked).collect());
        if let Some(keys) = table.get(i as usize) {
            return keys;
        }
        let mut more = crate::sync::lock(&MORE);
        if let Some((_, keys)) = more.iter().find(|(n, _)| *n == i) {
            return keys;
        }
        let keys: &'static GpuKeys = Box::leak(Box::new(GpuKeys::leaked(i as usize)));
        more.push((i, keys));
        keys
    }

    fn leaked(i: usize) -> GpuKeys {
        GpuKeys::new(i, |s| Key::from_static_str(Box::leak(s.into_boxed_str())))
    }
}

/// Metric names: the semantic conventions' where they have one (with their units and kinds, as
/// `semconv-metrics.tsv` lists them), else under `resmon.`.
pub mod metric {
    use opentelemetry_semantic_conventions::metric as semconv;

    /// Share of time the GPU was busy, 0..1 (`hw.gpu.task` = `general`).
    pub const HW_GPU_UTILIZATION: &str = semconv::HW_GPU_UTILIZATION;
    /// Device memory used over its total, 0..1.
    pub const HW_GPU_MEMORY_UTILIZATION: &str = semconv::HW_GPU_MEMORY_UTILIZATION;
    /// Device memory used, bytes.
    pub const HW_GPU_MEMORY_USAGE: &str = semconv::HW_GPU_MEMORY_USAGE;
    /// Device memory in all, bytes.
    pub const HW_GPU_MEMORY_LIMIT: &str = semconv::HW_GPU_MEMORY_LIMIT;
    /// Power draw, watts.
    pub const HW_POWER: &str = semconv::HW_POWER;
    /// Energy used since the driver loaded, joules.
    pub const HW_ENERGY: &str = semconv::HW_ENERGY;
    /// Temperature, degrees Celsius.
    pub const HW_TEMPERATURE: &str = semconv::HW_TEMPERATURE;
    /// Host CPU utilization, 0..1.
    pub const SYSTEM_CPU_UTILIZATION: &str = semconv::SYSTEM_CPU_UTILIZATION;
    /// Host memory in use, bytes.
    pub const SYSTEM_MEMORY_USAGE: &str = semconv::SYSTEM_MEMORY_USAGE;
    /// Host memory in all, bytes.
    pub const SYSTEM_MEMORY_LIMIT: &str = semconv::SYSTEM_MEMORY_LIMIT;
    /// This process's resident memory, bytes.
    pub const PROCESS_MEMORY_USAGE: &str = semconv::PROCESS_MEMORY_USAGE;
    /// This process's CPU time, seconds (`cpu.mode` user / system).
    pub const PROCESS_CPU_TIME: &str = semconv::PROCESS_CPU_TIME;
    /// This process's memory on each GPU, bytes (no semantic convention yet; the name others
    /// use).
    pub const PROCESS_GPU_MEMORY_USAGE: &str = "process.gpu.memory.usage";

    /// Per-span histogram: process CPU time used by a span, seconds.
    pub const SPAN_CPU_TIME: &str = "resmon.span.process.cpu.time";
    /// Per-span histogram: growth of this process's resident memory over a span, bytes (0
    /// when it shrank).
    pub const SPAN_MEMORY_GROWTH: &str = "resmon.span.process.memory.growth";
    /// Per-span histogram: peak device memory of a GPU during a span, bytes.
    pub const SPAN_GPU_MEMORY_PEAK: &str = "resmon.span.gpu.memory.peak";

    /// The cgroup's memory usage (page cache included), bytes.
    pub const CONTAINER_MEMORY_USAGE: &str = semconv::CONTAINER_MEMORY_USAGE;
    /// The cgroup's working set (usage minus inactive file pages), bytes.
    pub const CONTAINER_MEMORY_WORKING_SET: &str = semconv::CONTAINER_MEMORY_WORKING_SET;
    /// The cgroup's limit minus its working set, bytes (where a limit is set).
    pub const CONTAINER_MEMORY_AVAILABLE: &str = semconv::CONTAINER_MEMORY_AVAILABLE;
    /// The cgroup's CPU time, seconds.
    pub const CONTAINER_CPU_TIME: &str = semconv::CONTAINER_CPU_TIME;
    /// The cgroup's CPU use over the last interval, cores.
    pub const CONTAINER_CPU_USAGE: &str = semconv::CONTAINER_CPU_USAGE;
    /// The pod container's CPU limit, cores (in a pod, where set). The conventions'
    /// current name; `k8s.container.cpu.limit` is deprecated for it.
    pub const K8S_CONTAINER_CPU_LIMIT: &str = semconv::K8S_CONTAINER_CPU_LIMIT_CURRENT;
    /// The pod container's memory limit, bytes (in a pod, where set); likewise for
    /// `k8s.container.memory.limit`.
    pub const K8S_CONTAINER_MEMORY_LIMIT: &str = semconv::K8S_CONTAINER_MEMORY_LIMIT_CURRENT;
    /// Time the cgroup spent CPU-throttled, seconds (no convention).
    pub const CONTAINER_CPU_THROTTLED_TIME: &str = "resmon.container.cpu.throttled_time";
    /// CFS periods in which the cgroup was throttled (no convention).
    pub const CONTAINER_CPU_THROTTLED_PERIODS: &str = "resmon.container.cpu.throttled_periods";
    /// Processes the OOM killer killed in the cgroup (no convention).
    pub const CONTAINER_MEMORY_OOM_KILLS: &str = "resmon.container.memory.oom_kills";

    /// Bytes a GPU moved over PCIe since the driver loaded (`network.io.direction`).
    pub const HW_GPU_IO: &str = semconv::HW_GPU_IO;
    /// Errors a GPU counted (`error.type` = `corrected` / `uncorrected` ECC).
    pub const HW_ERRORS: &str = semconv::HW_ERRORS;
    /// 1 for a GPU's current `hw.state`, 0 for the others.
    pub const HW_STATUS: &str = semconv::HW_STATUS;
    /// A GPU's temperature thresholds (`hw.limit_type`: `throttled` = slowdown,
    /// `critical` = shutdown, `high.degraded` = the GPU max operating temperature).
    pub const HW_TEMPERATURE_LIMIT: &str = semconv::HW_TEMPERATURE_LIMIT;
    /// A GPU's clock, MHz (`resmon.gpu.clock.domain` = `sm` / `memory`; no convention).
    pub const GPU_CLOCK: &str = "resmon.gpu.clock";
    /// 1 while a clock-event (throttle) reason holds a GPU's clocks, else 0, an up-down counter
    /// of unit `1` as `hw.status` is (a state, not a ratio); one series per
    /// reason (`resmon.gpu.clock_event.reason`; no convention).
    pub const GPU_CLOCK_EVENT: &str = "resmon.gpu.clock_event";
    /// Time a GPU spent throttled since the driver loaded, seconds, per reason
    /// (`resmon.gpu.clock_event.reason`; no convention).
    pub const GPU_THROTTLED_TIME: &str = "resmon.gpu.throttled_time";
    /// **Provisional** (semantic conventions have no names for these yet; they may be
    /// renamed when they do): what a GPU's units did over the last activity window, 0..1,
    /// from GPM (Hopper and newer), one series per `resmon.gpu.activity.type`.
    pub const GPU_ACTIVITY: &str = "resmon.gpu.activity";
    /// **Provisional**: bytes per second a GPU moved over a link in the last activity
    /// window, from GPM (`resmon.gpu.link`, `network.io.direction`).
    pub const GPU_LINK_IO_RATE: &str = "resmon.gpu.link.io.rate";
    /// **Provisional**: this process's share of a GPU's SMs over the last activity window,
    /// 0..1, from the driver's per-process samples.
    pub const PROCESS_GPU_UTILIZATION: &str = "resmon.process.gpu.utilization";
    /// **Provisional**: this process's share of a GPU's memory controller over the last
    /// activity window, 0..1.
    pub const PROCESS_GPU_MEMORY_BUSY: &str = "resmon.process.gpu.memory.busy";

    /// Request histogram: duration of HTTP server requests, seconds.
    pub const HTTP_SERVER_REQUEST_DURATION: &str = semconv::HTTP_SERVER_REQUEST_DURATION;
    /// Request histogram: CPU time of the whole process (every thread, not only the
    /// request's) while a request ran, seconds: under concurrency each request is charged
    /// the others' CPU too. A request's own CPU time is `resmon.span.cpu.time`
    /// (`ResourceLayerBuilder::span_cpu_time`).
    pub const HTTP_SERVER_REQUEST_PROCESS_CPU_TIME: &str =
        "resmon.http.server.request.process.cpu.time";
    /// Request histogram: peak device memory of a GPU while a request ran, bytes.
    pub const HTTP_SERVER_REQUEST_GPU_MEMORY_PEAK: &str =
        "resmon.http.server.request.gpu.memory.peak";
}

/// Metric attributes (bounded: identities and fixed values, never a request value).
pub(crate) mod attr {
    use super::semconv;
    use opentelemetry::Key;

    pub(crate) static HW_NAME: Key = Key::from_static_str(semconv::HW_NAME);
    pub(crate) static HW_VENDOR: Key = Key::from_static_str(semconv::HW_VENDOR);
    pub(crate) static HW_TYPE: Key = Key::from_static_str(semconv::HW_TYPE);
    pub(crate) static HW_PARENT: Key = Key::from_static_str(semconv::HW_PARENT);
    pub(crate) static HW_GPU_TASK: Key = Key::from_static_str(semconv::HW_GPU_TASK);
    pub(crate) static SYSTEM_MEMORY_STATE: Key = Key::from_static_str(semconv::SYSTEM_MEMORY_STATE);
    pub(crate) static CPU_MODE: Key = Key::from_static_str(semconv::CPU_MODE);
    pub(crate) static HW_LIMIT_TYPE: Key = Key::from_static_str(semconv::HW_LIMIT_TYPE);
    pub(crate) static HW_STATE: Key = Key::from_static_str(semconv::HW_STATE);
    pub(crate) static NETWORK_IO_DIRECTION: Key =
        Key::from_static_str(semconv::NETWORK_IO_DIRECTION);
    pub(crate) static ERROR_TYPE: Key = Key::from_static_str(semconv::ERROR_TYPE);
    /// Which clock a `resmon.gpu.clock` point is: `sm` or `memory` (no convention).
    pub(crate) static CLOCK_DOMAIN: Key = Key::from_static_str("resmon.gpu.clock.domain");
    /// One clock-event reason, dcgm-exporter's names (no convention).
    pub(crate) static CLOCK_EVENT_REASON: Key =
        Key::from_static_str("resmon.gpu.clock_event.reason");
    /// Which unit a `resmon.gpu.activity` point is (provisional, no convention): `sm`,
    /// `sm_occupancy`, `tensor`, `tensor.hmma`, `tensor.imma`, `tensor.dfma`, `dram`,
    /// `fp16`, `fp32`, `fp64`.
    pub(crate) static GPU_ACTIVITY_TYPE: Key = Key::from_static_str("resmon.gpu.activity.type");
    /// Which link a `resmon.gpu.link.io.rate` point is (provisional): `pcie` or `nvlink`.
    pub(crate) static GPU_LINK: Key = Key::from_static_str("resmon.gpu.link");
}

/// Request attributes of the tower layer (span handover and request metrics), semantic
/// conventions' names. The request span's own fields are spelled in `tracing::info_span!`,
/// which takes identifiers, not constants; `tests/tower.rs` reads them back by these names.
#[cfg(feature = "tower")]
pub(crate) mod http {
    use super::semconv;
    use opentelemetry::Key;

    pub(crate) static METHOD: Key = Key::from_static_str(semconv::HTTP_REQUEST_METHOD);
    pub(crate) static ROUTE: Key = Key::from_static_str(semconv::HTTP_ROUTE);
    pub(crate) static STATUS_CODE: Key = Key::from_static_str(semconv::HTTP_RESPONSE_STATUS_CODE);
    pub(crate) static URL_SCHEME: Key = Key::from_static_str(semconv::URL_SCHEME);
    pub(crate) static ERROR_TYPE: Key = Key::from_static_str(semconv::ERROR_TYPE);
    // The RPC names the crate has always written. opentelemetry-semantic-conventions 0.33 marks
    // `rpc.system`, `rpc.service` and `rpc.grpc.status_code` deprecated (for `rpc.system.name`,
    // a fully-qualified `rpc.method`, and a string `rpc.response.status_code`); moving to them
    // changes what users query, so it is its own change.
    pub(crate) static RPC_SYSTEM: Key = Key::from_static_str("rpc.system");
    pub(crate) static RPC_SERVICE: Key = Key::from_static_str("rpc.service");
    pub(crate) static RPC_METHOD: Key = Key::from_static_str(semconv::RPC_METHOD);
    pub(crate) static RPC_GRPC_STATUS_CODE: Key = Key::from_static_str("rpc.grpc.status_code");
    /// The request ended before its response did (client gone, timeout).
    pub(crate) static CANCELLED: Key = Key::from_static_str("resmon.cancelled");
}

/// Resource attributes the pipeline adds.
#[cfg(feature = "otlp")]
pub(crate) mod resource {
    use opentelemetry::Key;

    pub(crate) static HOST_NAME: Key =
        Key::from_static_str(opentelemetry_semantic_conventions::resource::HOST_NAME);
    pub(crate) static GPU_DRIVER_VERSION: Key = Key::from_static_str("resmon.gpu.driver.version");
    pub(crate) static GPU_CUDA_VERSION: Key = Key::from_static_str("resmon.gpu.cuda.version");
    pub(crate) static CONTAINER_ID: Key =
        Key::from_static_str(opentelemetry_semantic_conventions::resource::CONTAINER_ID);
    pub(crate) static K8S_POD_UID: Key =
        Key::from_static_str(opentelemetry_semantic_conventions::resource::K8S_POD_UID);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_keys_name_the_ordinal() {
        assert_eq!(
            GpuKeys::of(0).memory_peak.as_str(),
            "resmon.gpu.0.memory.usage.peak"
        );
        assert_eq!(
            GpuKeys::of(3).process_memory_delta.as_str(),
            "resmon.gpu.3.process.memory.usage.delta"
        );
        assert_eq!(
            GpuKeys::of(70).utilization_mean.as_str(),
            "resmon.gpu.70.utilization.mean"
        );
    }
}
