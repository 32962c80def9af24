//! # otel-resmon
//!
//! GPU memory and utilization, host CPU and RAM, and this process's CPU time and memory, sampled
//! on a background thread and ready to attach to spans and OpenTelemetry metrics.
//!
//! ```
//! use otel_resmon::Sampler;
//!
//! // Reads RESMON_INTERVAL_MS, RESMON_GPU, RESMON_NVML_LIB and CUDA_VISIBLE_DEVICES.
//! let sampler = Sampler::new()?;
//! let start = sampler.latest(); // one atomic load
//! // ... work ...
//! let end = sampler.sample_now(); // a synchronous pass, for exact boundaries
//! let window = sampler.window(start.taken_at, end.taken_at);
//! println!("GPU status: {}; {} samples in the window", end.gpu_status, window.samples);
//! for gpu in &end.gpus {
//!     println!("GPU {} {}: {:?} bytes used", gpu.index, gpu.name, gpu.memory_used);
//! }
//! # Ok::<(), otel_resmon::Error>(())
//! ```
//!
//! ## Features
//! - `nvml` (default): NVIDIA GPU figures through NVML, loaded at run time. Without it the
//!   crate has no NVML code and every snapshot's [`GpuStatus`] is `NotCompiled`.
#![warn(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod clock;
mod env;
mod error;
mod figures;
pub mod keys;
pub mod layer;
pub mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod sampler;
pub mod snapshot;
#[cfg(feature = "tower")]
pub mod tower;

pub use error::Error;
pub use figures::{FigureSet, PressureThresholds};
pub use layer::{LayerStatus, OtelLink, ResourceLayer, ResourceLayerBuilder};
pub use sampler::{Sampler, SamplerBuilder, SamplerHealth, Warning, WarningKind, Window};
pub use snapshot::{
    DeviceState, GpuDevice, GpuField, GpuInventory, GpuSample, GpuStatus, HostSample, MissingField,
    MissingReason, ProcessSample, Snapshot,
};
