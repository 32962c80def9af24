//! What one pass reads with (the host probe, the GPU source, the warnings) and the pass
//! itself: one snapshot of host, process and GPUs.

use std::time::{Instant, SystemTime};

use super::builder::Settings;
use super::costs::Costs;
use super::host::HostProbe;
use super::warning::Warnings;
use super::xid::XidLog;
use crate::snapshot::{GpuInventory, GpuStatus, Snapshot};

/// Everything a pass reads with; behind one lock so `sample_now` can run a pass too.
pub(super) struct Probes {
    pub(super) host: HostProbe,
    pub(super) gpu: GpuSource,
    pub(super) warnings: Warnings,
    pub(super) next_seq: u64,
    /// This process's cgroup, where one is found (Linux).
    #[cfg(target_os = "linux")]
    pub(super) cgroup: Option<super::cgroup::CgroupProbe>,
}

/// The GPU side: NVML when built and switched on, otherwise just the reason why not.
pub(super) enum GpuSource {
    #[cfg(feature = "nvml")]
    /// Boxed: NVML's function table is about 12 KiB.
    Nvml(Box<super::gpu::GpuProbe>),
    Off(GpuStatus),
}

impl Probes {
    /// Stops the GPU probe's XID watcher, if one runs (the sampler is shutting down).
    pub(super) fn stop_xid(&mut self) {
        #[cfg(feature = "nvml")]
        if let GpuSource::Nvml(probe) = &mut self.gpu {
            probe.stop_xid();
        }
    }

    /// One snapshot, and the new inventory if NVML started during this pass. With `carry`
    /// (a slow read holds the driver) the GPUs' fast tier is carried from that snapshot
    /// instead of read. Only an interval pass (not `extra`) tries a failed NVML start again:
    /// a start reads every tier, which no caller waits for.
    pub(super) fn pass(
        &mut self,
        carry: Option<&Snapshot>,
        extra: bool,
    ) -> (Snapshot, Option<GpuInventory>) {
        #[cfg(feature = "nvml")]
        let inventory = match &mut self.gpu {
            GpuSource::Nvml(probe) if !extra => probe.retry_if_due(&mut self.warnings),
            _ => None,
        };
        #[cfg(not(feature = "nvml"))]
        let _ = extra;
        #[cfg(not(feature = "nvml"))]
        let inventory = None;
        let taken_at = Instant::now();
        let taken_at_coarse_ns = crate::clock::coarse_ns();
        let wall_time = SystemTime::now();
        let (mut host, process) = self.host.sample(&mut self.warnings);
        #[cfg(target_os = "linux")]
        let container = self.cgroup.as_mut().map(|c| c.sample());
        #[cfg(not(target_os = "linux"))]
        let container: Option<crate::snapshot::ContainerSample> = None;
        // The cgroup's limit, read once, by the cgroup probe.
        host.cgroup_memory_limit = container.as_ref().and_then(|c| c.memory_limit);
        let (gpus, gpu_status) = match &mut self.gpu {
            #[cfg(feature = "nvml")]
            GpuSource::Nvml(probe) => (
                probe.sample(&mut self.warnings, carry),
                probe.status().clone(),
            ),
            GpuSource::Off(status) => {
                let _ = carry;
                (Vec::<crate::snapshot::GpuSample>::new(), status.clone())
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let snapshot = Snapshot {
            seq,
            taken_at,
            wall_time,
            host,
            process,
            gpus,
            gpu_status,
            container,
            taken_at_coarse_ns,
        };
        (snapshot, inventory)
    }

    /// The slow GPU read most overdue at `by`, if any, to follow pass `after_pass`.
    pub(super) fn next_slow(&self, by: Instant, after_pass: u64) -> Option<SlowJob> {
        match &self.gpu {
            #[cfg(feature = "nvml")]
            GpuSource::Nvml(probe) => probe.next_slow(by, after_pass),
            GpuSource::Off(_) => {
                let _ = (by, after_pass);
                None
            }
        }
    }

    /// Keeps what a slow read found.
    #[cfg(feature = "nvml")]
    pub(super) fn store_slow(&mut self, result: SlowResult) {
        match &mut self.gpu {
            #[cfg(feature = "nvml")]
            GpuSource::Nvml(probe) => probe.store_slow(result, &mut self.warnings),
            GpuSource::Off(_) => {}
        }
    }

    /// Every GPU's activity windows, when a read added one since the last call.
    #[cfg(feature = "nvml")]
    pub(super) fn take_activity_log(
        &mut self,
    ) -> Option<std::sync::Arc<super::activity_log::ActivityLog>> {
        match &mut self.gpu {
            GpuSource::Nvml(probe) => probe.take_activity_log(),
            GpuSource::Off(_) => None,
        }
    }

    /// What the GPU reads cost so far.
    pub(super) fn costs(&self) -> Option<&Costs> {
        match &self.gpu {
            #[cfg(feature = "nvml")]
            GpuSource::Nvml(probe) => Some(&probe.costs),
            GpuSource::Off(_) => None,
        }
    }
}

/// A slow GPU read (never made without the `nvml` feature).
#[cfg(feature = "nvml")]
pub(super) use super::gpu::{SlowJob, SlowResult};
#[cfg(not(feature = "nvml"))]
pub(super) enum SlowJob {}

#[cfg(feature = "nvml")]
pub(super) fn open_gpu(
    settings: &Settings,
    warnings: &mut Warnings,
    xid: &std::sync::Arc<XidLog>,
) -> (GpuSource, GpuInventory) {
    if !settings.gpu {
        return (GpuSource::Off(GpuStatus::Disabled), GpuInventory::default());
    }
    let (probe, inventory) = super::gpu::GpuProbe::open(
        settings.nvml_library.as_deref(),
        settings.visible_devices.as_deref(),
        settings.cuda_device_order.as_deref(),
        settings.rates,
        warnings,
        xid.clone(),
    );
    (GpuSource::Nvml(Box::new(probe)), inventory)
}

#[cfg(not(feature = "nvml"))]
pub(super) fn open_gpu(
    settings: &Settings,
    _: &mut Warnings,
    _: &std::sync::Arc<XidLog>,
) -> (GpuSource, GpuInventory) {
    let status = if settings.gpu {
        GpuStatus::NotCompiled
    } else {
        GpuStatus::Disabled
    };
    (GpuSource::Off(status), GpuInventory::default())
}
