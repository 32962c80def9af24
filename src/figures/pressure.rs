//! Pressure: free GPU memory or available RAM below a threshold at some point of a span.

use std::time::SystemTime;

use opentelemetry::{KeyValue, Value};

use super::entry::byte_count;
use super::span_window::{GpuSpan, HostSpan};
use crate::keys;
use crate::snapshot::catalogue::{GpuFigure, HostFigure};
use crate::snapshot::{GpuSample, Snapshot};

const MIB: u64 = 1 << 20;

/// When a span gets a `resmon.pressure` event. A resource is under pressure when its free
/// (GPU) or available (RAM) memory falls below the byte threshold or below the fraction of its
/// total, whichever is set and larger.
///
/// ```
/// use otel_resmon::PressureThresholds;
/// let t = PressureThresholds::default()        // GPU and RAM: 500 MiB
///     .gpu_free_fraction(0.05)                 // or 5 % of the GPU's memory
///     .ram_available_bytes(2 << 30);           // RAM: 2 GiB
/// # let _ = t;
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PressureThresholds {
    gpu_free_bytes: Option<u64>,
    gpu_free_fraction: Option<f64>,
    ram_available_bytes: Option<u64>,
    ram_available_fraction: Option<f64>,
}

impl Default for PressureThresholds {
    /// 500 MiB of free GPU memory (the out-of-memory heuristic of the Python backend this crate grew from) and of available RAM.
    fn default() -> Self {
        Self {
            gpu_free_bytes: Some(500 * MIB),
            gpu_free_fraction: None,
            ram_available_bytes: Some(500 * MIB),
            ram_available_fraction: None,
        }
    }
}

impl PressureThresholds {
    /// No thresholds: add the ones wanted with the other methods.
    pub fn none() -> Self {
        Self {
            gpu_free_bytes: None,
            gpu_free_fraction: None,
            ram_available_bytes: None,
            ram_available_fraction: None,
        }
    }

    /// GPU memory is under pressure below this many free bytes.
    pub fn gpu_free_bytes(mut self, bytes: u64) -> Self {
        self.gpu_free_bytes = Some(bytes);
        self
    }

    /// GPU memory is under pressure below this fraction (0..1) of its total free.
    pub fn gpu_free_fraction(mut self, fraction: f64) -> Self {
        self.gpu_free_fraction = Some(fraction.clamp(0.0, 1.0));
        self
    }

    /// RAM is under pressure below this many available bytes.
    pub fn ram_available_bytes(mut self, bytes: u64) -> Self {
        self.ram_available_bytes = Some(bytes);
        self
    }

    /// RAM is under pressure below this fraction (0..1) of its total available.
    pub fn ram_available_fraction(mut self, fraction: f64) -> Self {
        self.ram_available_fraction = Some(fraction.clamp(0.0, 1.0));
        self
    }

    #[inline]
    fn threshold(bytes: Option<u64>, fraction: Option<f64>, total: Option<u64>) -> Option<u64> {
        let by_fraction = fraction.zip(total).map(|(f, t)| (f * t as f64) as u64);
        match (bytes, by_fraction) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// The event for this GPU, if its free memory fell below the threshold during the span.
    #[inline]
    pub(crate) fn gpu_event(&self, g: &GpuSample, w: &GpuSpan) -> Option<PressureEvent> {
        let (free, at) = w.low(GpuFigure::MemoryFree)?;
        let t = Self::threshold(self.gpu_free_bytes, self.gpu_free_fraction, g.memory_total)?;
        if free >= t {
            return None;
        }
        let mut attributes = vec![
            KeyValue::new(keys::PRESSURE_RESOURCE.clone(), "gpu.memory"),
            KeyValue::new(keys::HW_ID.clone(), Value::from(g.uuid.to_string())),
            KeyValue::new(keys::GPU_INDEX.clone(), i64::from(g.index)),
            KeyValue::new(keys::PRESSURE_FREE.clone(), Value::from(byte_count(free))),
            KeyValue::new(keys::PRESSURE_THRESHOLD.clone(), Value::from(byte_count(t))),
        ];
        if let Some(total) = g.memory_total {
            attributes.push(KeyValue::new(
                keys::PRESSURE_LIMIT.clone(),
                Value::from(byte_count(total)),
            ));
        }
        Some(PressureEvent { at, attributes })
    }

    /// The event for RAM, if available memory fell below the threshold during the span:
    /// against the container's limit when one is set (headroom = limit − working set, what
    /// the OOM killer weighs), otherwise host available memory.
    #[inline]
    pub(crate) fn ram_event(&self, end: &Snapshot, host: &HostSpan) -> Option<PressureEvent> {
        let limit = end.container.as_ref().and_then(|c| c.memory_limit);
        let (resource, (available, at), total) =
            match (limit, host.low(HostFigure::ContainerHeadroom)) {
                (Some(limit), Some(min)) => ("container.memory", min, Some(limit)),
                _ => (
                    "system.memory",
                    host.low(HostFigure::MemoryAvailable)?,
                    end.host.memory_total,
                ),
            };
        let t = Self::threshold(self.ram_available_bytes, self.ram_available_fraction, total)?;
        if available >= t {
            return None;
        }
        let mut attributes = vec![
            KeyValue::new(keys::PRESSURE_RESOURCE.clone(), resource),
            KeyValue::new(
                keys::PRESSURE_FREE.clone(),
                Value::from(byte_count(available)),
            ),
            KeyValue::new(keys::PRESSURE_THRESHOLD.clone(), Value::from(byte_count(t))),
        ];
        if let Some(total) = total {
            attributes.push(KeyValue::new(
                keys::PRESSURE_LIMIT.clone(),
                Value::from(byte_count(total)),
            ));
        }
        Some(PressureEvent { at, attributes })
    }
}

/// A `resmon.pressure` span event: when the lowest point was sampled, and its figures.
#[derive(Debug, Clone)]
pub(crate) struct PressureEvent {
    pub(crate) at: SystemTime,
    pub(crate) attributes: Vec<KeyValue>,
}
