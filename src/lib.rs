#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unnameable_types)]

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
pub use sampler::{
    PidNamespace, Sampler, SamplerBuilder, SamplerHealth, Warning, WarningKind, Window,
};
pub use snapshot::{
    CgroupHierarchy, ContainerField, ContainerIdentity, ContainerMissing, ContainerSample,
    DeviceState, GpuDevice, GpuField, GpuInventory, GpuSample, GpuStatus, HostSample, MissingField,
    MissingReason, ProcessSample, Snapshot,
};
