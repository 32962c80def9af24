//! The status service: JSON with the latest snapshot, the device inventory, the GPU status
//! and the sampler's own health: what the Python backend this crate grew from served as
//! `/api/status`, `/api/gpu-debug` and `/api/performance-metrics`, in one place; mount it at
//! any path.

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use serde_json::{json, Value};

use crate::sampler::{PidNamespace, Sampler};
use crate::snapshot::{ContainerSample, DeviceState, GpuSample, MissingReason, Snapshot};

/// A tower service answering every request with the sampler's status as JSON.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// # let sampler = otel_resmon::Sampler::builder().gpu(false).build().unwrap();
/// let app: axum::Router = axum::Router::new()
///     .route_service("/api/status", otel_resmon::tower::StatusService::new(&sampler));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct StatusService {
    sampler: Sampler,
}

impl StatusService {
    /// A status service for `sampler`.
    pub fn new(sampler: &Sampler) -> Self {
        Self {
            sampler: sampler.clone(),
        }
    }

    /// The JSON document.
    pub fn document(&self) -> Value {
        let s = self.sampler.latest();
        let inv = self.sampler.inventory();
        let health = self.sampler.health();
        let ns = PidNamespace::of_this_process();
        json!({
            "snapshot": snapshot_json(&s),
            "container": {
                "id": self.sampler.container_identity().container_id,
                "k8s_pod_uid": self.sampler.container_identity().pod_uid,
            },
            "pid_namespace": {
                "namespace": ns.as_str(),
                "inode": match ns { PidNamespace::Own(ino) => Some(ino), _ => None },
                "gpu_process_memory": ns.gpu_process_memory(&s),
            },
            "gpu_status": { "status": s.gpu_status.as_str(), "reason": s.gpu_status.to_string() },
            "xid_events": self.sampler.xid_status().describe(),
            "cuda_ordinals": self.sampler.inventory().ordinals.as_str(),
            "inventory": {
                "driver_version": inv.driver_version,
                "cuda_driver_version": inv.cuda_driver_version,
                "devices": inv.devices.iter().map(|d| json!({
                    "index": d.index,
                    "uuid": &*d.uuid,
                    "name": &*d.name,
                    "pci_bus_id": d.pci_bus_id,
                    "memory_total_bytes": d.memory_total,
                    "mig_enabled": d.mig_enabled,
                })).collect::<Vec<_>>(),
            },
            "sampler": {
                "interval_seconds": health.interval.as_secs_f64(),
                "history_capacity": health.history_capacity,
                "passes": health.passes,
                "last_pass_seconds": health.last_pass.as_secs_f64(),
                "last_sample_age_seconds": health.last_sample_age.as_secs_f64(),
                "running": health.running,
                "warnings": health.warnings.iter().map(|w| json!({
                    "kind": format!("{:?}", w.kind),
                    "device": w.device.as_deref(),
                    "message": w.message,
                })).collect::<Vec<_>>(),
            },
        })
    }
}

fn gpu_json(g: &GpuSample) -> Value {
    let state = match &g.state {
        DeviceState::Ok => "ok".to_owned(),
        DeviceState::Lost => "lost".to_owned(),
        DeviceState::Error(e) => format!("error: {e}"),
    };
    json!({
        "index": g.index,
        "uuid": &*g.uuid,
        "name": &*g.name,
        "state": state,
        "memory_used_bytes": g.memory_used,
        "memory_free_bytes": g.memory_free,
        "memory_total_bytes": g.memory_total,
        "utilization_gpu": g.utilization_gpu,
        "memory_busy": g.memory_busy,
        "temperature_celsius": g.temperature,
        "power_watts": g.power,
        "energy_joules": g.energy,
        "process_memory_bytes": g.process_memory,
        "mig_enabled": g.mig_enabled,
        "health": g.health().as_str(),
        "condition": condition_json(g),
        "missing": g.missing.iter().map(|m| missing(m.field.as_str(), &m.reason)).collect::<Vec<_>>(),
    })
}

/// Clocks, limits, throttling and memory errors; absent figures are `null` (their reasons
/// are in `missing`).
fn condition_json(g: &GpuSample) -> Value {
    let c = &g.condition;
    let t = &c.throttled_time;
    json!({
        "clock_sm_mhz": c.clock_sm_mhz,
        "clock_memory_mhz": c.clock_memory_mhz,
        "power_limit_watts": c.power_limit,
        "temperature_slowdown_celsius": c.temperature_slowdown,
        "temperature_shutdown_celsius": c.temperature_shutdown,
        "temperature_gpu_max_celsius": c.temperature_gpu_max,
        "performance_state": c.performance_state,
        "fan_speed": c.fan_speed,
        "clock_event_reasons": c.clock_event_reasons.map(|r| r.names().collect::<Vec<_>>()),
        "throttled_seconds": {
            "sw_power_cap": t.power_cap,
            "sw_thermal_slowdown": t.sw_thermal,
            "hw_thermal_slowdown": t.hw_thermal,
            "hw_power_brake_slowdown": t.power_brake,
        },
        "encoder_utilization": c.encoder_utilization,
        "decoder_utilization": c.decoder_utilization,
        "pcie_rx_bytes": c.pcie_rx_bytes,
        "pcie_tx_bytes": c.pcie_tx_bytes,
        "ecc_corrected": c.ecc_corrected,
        "ecc_uncorrected": c.ecc_uncorrected,
        "remapped_rows_corrected": c.remapped_rows_corrected,
        "remapped_rows_uncorrected": c.remapped_rows_uncorrected,
        "remapped_rows_pending": c.remapped_rows_pending,
        "remapped_rows_failure": c.remapped_rows_failure,
        "retired_pages_pending": c.retired_pages_pending,
        "xid_errors": c.xid_errors,
        "fell_off_the_bus": c.fell_off_the_bus,
    })
}

/// An absent figure and why: the reason's name, and for a failure or an implausible answer
/// what it was.
fn missing(field: &str, reason: &MissingReason) -> Value {
    let reason = match reason {
        MissingReason::Failed(e) => format!("failed: {e}"),
        MissingReason::Implausible(e) => format!("implausible: {e}"),
        other => other.as_str().to_owned(),
    };
    json!({ "field": field, "reason": reason })
}

fn container_json(c: &ContainerSample) -> Value {
    json!({
        "cgroup": c.hierarchy.as_str(),
        "memory_usage_bytes": c.memory_usage,
        "memory_working_set_bytes": c.memory_working_set,
        "memory_limit_bytes": c.memory_limit,
        "memory_available_bytes": c.memory_available(),
        "memory_oom_kills": c.memory_oom_kills,
        "memory_pressure": c.memory_pressure,
        "cpu_limit_cores": c.cpu_limit,
        "cpu_time_seconds": c.cpu_time,
        "cpu_usage_cores": c.cpu_usage,
        "cpu_periods": c.cpu_periods,
        "cpu_throttled_periods": c.cpu_throttled_periods,
        "cpu_throttled_seconds": c.cpu_throttled_time,
        "missing": c.missing.iter().map(|m| missing(m.field.as_str(), &m.reason)).collect::<Vec<_>>(),
    })
}

fn snapshot_json(s: &Snapshot) -> Value {
    let wall = s
        .wall_time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    json!({
        "seq": s.seq,
        "taken_at_unix_seconds": wall,
        "age_seconds": s.age().as_secs_f64(),
        "host": {
            "cpu_utilization": s.host.cpu_utilization,
            "load_average_1m": s.host.load_average_1m,
            "memory_total_bytes": s.host.memory_total,
            "memory_used_bytes": s.host.memory_used,
            "memory_available_bytes": s.host.memory_available,
            "cgroup_memory_limit_bytes": s.host.cgroup_memory_limit,
        },
        "process": {
            "pid": s.process.pid,
            "cpu_time_seconds": s.process.cpu_time,
            "resident_memory_bytes": s.process.resident_memory,
            "virtual_memory_bytes": s.process.virtual_memory,
        },
        "container": s.container.as_ref().map(container_json),
        "gpus": s.gpus.iter().map(gpu_json).collect::<Vec<_>>(),
    })
}

impl<B> tower::Service<Request<B>> for StatusService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        let body = serde_json::to_vec_pretty(&self.document()).unwrap_or_default();
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        ready(Ok(response))
    }
}
