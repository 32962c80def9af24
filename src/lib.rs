#![doc = include_str!("lib.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unnameable_types)]

mod clock;
mod env;
mod error;
mod figures;
pub mod guide;
pub mod keys;
pub mod layer;
pub mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod sampler;
pub mod snapshot;
mod sync;
#[cfg(feature = "tower")]
pub mod tower;

pub use error::Error;
pub use figures::{FigureSet, PressureThresholds};
pub use layer::{LayerStatus, OtelLink, ResourceLayer, ResourceLayerBuilder};
pub use sampler::{
    DriverCall, HistoryLevel, PidNamespace, Sampler, SamplerBuilder, SamplerHealth, TierCost,
    Warning, WarningKind, Window, XidEvent, XidStatus,
};
pub use snapshot::{
    CgroupHierarchy, ClockEventReasons, ContainerField, ContainerIdentity, ContainerMissing,
    ContainerSample, CudaOrdinals, DeviceState, GpuActivity, GpuCondition, GpuDevice, GpuField,
    GpuHealth, GpuInventory, GpuSample, GpuStatus, GpuTier, HostSample, HungCall, MissingField,
    MissingReason, ProcessSample, Snapshot, ThrottledTime, CLOCK_EVENT_REASONS,
};

/// The unit tests' allocator: the system's, counting what each thread holds, so a test can
/// measure what a structure it builds allocates.
#[cfg(test)]
pub(crate) mod test_alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static HELD: Cell<isize> = const { Cell::new(0) };
    }

    struct Counting;

    // SAFETY: every call goes to the system allocator unchanged; the counter is a
    // const-initialised thread-local `Cell`, which never allocates.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = HELD.try_with(|h| h.set(h.get() + layout.size() as isize));
            // SAFETY: the caller's contract for `alloc` is passed on as is.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let _ = HELD.try_with(|h| h.set(h.get() - layout.size() as isize));
            // SAFETY: `ptr` came from `System.alloc` with this layout (see `alloc`).
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    /// Bytes this thread has allocated and not freed.
    pub(crate) fn held() -> isize {
        HELD.with(Cell::get)
    }
}
