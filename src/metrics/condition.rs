//! The metrics of a GPU's condition (issue 18): the conventions' `hw.gpu.io`, `hw.errors`,
//! `hw.status` and `hw.temperature.limit`, and under `resmon.` the clocks, the clock-event
//! reasons (one series per reason, never a combination of bits) and the time throttled.

use opentelemetry::metrics::{Meter, ObservableCounter, ObservableGauge, ObservableUpDownCounter};
use opentelemetry::KeyValue;

use super::{counter, gauge, gpu_identity, up_down, with};
use crate::keys::attr;
use crate::keys::metric as name;
use crate::sampler::Sampler;
use crate::snapshot::{GpuHealth, CLOCK_EVENT_REASONS};

fn gpu_type() -> KeyValue {
    KeyValue::new(attr::HW_TYPE.clone(), "gpu")
}

pub(super) fn gauges(meter: &Meter, s: &Sampler) -> Vec<ObservableGauge<f64>> {
    vec![
        gauge(meter, s, name::HW_TEMPERATURE_LIMIT, "Cel", |s, o| {
            for g in &s.gpus {
                let c = &g.condition;
                // The sensor, as `hw.temperature` names it.
                let sensor = [
                    KeyValue::new(
                        crate::keys::HW_ID.clone(),
                        format!("{}:temperature", g.uuid),
                    ),
                    KeyValue::new(attr::HW_NAME.clone(), format!("{} temperature", g.name)),
                    KeyValue::new(attr::HW_TYPE.clone(), "temperature"),
                    KeyValue::new(attr::HW_PARENT.clone(), g.uuid.to_string()),
                ];
                for (limit, v) in [
                    ("throttled", c.temperature_slowdown),
                    ("critical", c.temperature_shutdown),
                    ("high.degraded", c.temperature_gpu_max),
                ] {
                    if let Some(v) = v {
                        let limit = KeyValue::new(attr::HW_LIMIT_TYPE.clone(), limit);
                        o.observe(v, &with(&sensor, &[limit]));
                    }
                }
            }
        }),
        gauge(meter, s, name::GPU_CLOCK, "MHz", |s, o| {
            for g in &s.gpus {
                let c = &g.condition;
                for (domain, v) in [("sm", c.clock_sm_mhz), ("memory", c.clock_memory_mhz)] {
                    if let Some(v) = v {
                        let domain = KeyValue::new(attr::CLOCK_DOMAIN.clone(), domain);
                        o.observe(f64::from(v), &with(&gpu_identity(g), &[domain]));
                    }
                }
            }
        }),
        gauge(meter, s, name::GPU_CLOCK_EVENT, "1", |s, o| {
            for g in &s.gpus {
                let Some(reasons) = g.condition.clock_event_reasons else {
                    continue;
                };
                for (bit, reason) in CLOCK_EVENT_REASONS {
                    let on = if reasons.contains(bit) { 1.0 } else { 0.0 };
                    let reason = KeyValue::new(attr::CLOCK_EVENT_REASON.clone(), reason);
                    o.observe(on, &with(&gpu_identity(g), &[reason]));
                }
            }
        }),
    ]
}

pub(super) fn up_downs(meter: &Meter, s: &Sampler) -> Vec<ObservableUpDownCounter<i64>> {
    vec![up_down(meter, s, name::HW_STATUS, "1", |s, o| {
        for g in &s.gpus {
            let health = g.health();
            for state in GpuHealth::ALL {
                let value = i64::from(state == health);
                let state = KeyValue::new(attr::HW_STATE.clone(), state.as_str());
                o.observe(value, &with(&gpu_identity(g), &[gpu_type(), state]));
            }
        }
    })]
}

pub(super) fn counters(meter: &Meter, s: &Sampler) -> Vec<ObservableCounter<f64>> {
    vec![
        counter(meter, s, name::HW_GPU_IO, "By", |s, o| {
            for g in &s.gpus {
                let c = &g.condition;
                for (direction, v) in [("receive", c.pcie_rx_bytes), ("transmit", c.pcie_tx_bytes)]
                {
                    if let Some(v) = v {
                        let direction =
                            KeyValue::new(attr::NETWORK_IO_DIRECTION.clone(), direction);
                        o.observe(v as f64, &with(&gpu_identity(g), &[direction]));
                    }
                }
            }
        }),
        counter(meter, s, name::HW_ERRORS, "{error}", |s, o| {
            for g in &s.gpus {
                let c = &g.condition;
                for (kind, v) in [
                    ("corrected", c.ecc_corrected),
                    ("uncorrected", c.ecc_uncorrected),
                    ("xid", c.xid_errors),
                ] {
                    if let Some(v) = v {
                        let kind = KeyValue::new(attr::ERROR_TYPE.clone(), kind);
                        o.observe(v as f64, &with(&gpu_identity(g), &[gpu_type(), kind]));
                    }
                }
            }
        }),
        counter(meter, s, name::GPU_THROTTLED_TIME, "s", |s, o| {
            for g in &s.gpus {
                let t = &g.condition.throttled_time;
                for (reason, v) in [
                    ("sw_power_cap", t.power_cap),
                    ("sw_thermal_slowdown", t.sw_thermal),
                    ("hw_thermal_slowdown", t.hw_thermal),
                    ("hw_power_brake_slowdown", t.power_brake),
                ] {
                    if let Some(v) = v {
                        let reason = KeyValue::new(attr::CLOCK_EVENT_REASON.clone(), reason);
                        o.observe(v, &with(&gpu_identity(g), &[reason]));
                    }
                }
            }
        }),
    ]
}
