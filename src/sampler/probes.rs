//! What one pass reads with (the host probe, the warnings) and the pass itself: one
//! snapshot of host, process and GPUs, the GPUs' part from the GPU thread.

use std::time::{Instant, SystemTime};

use super::builder::Settings;
use super::host::HostProbe;
use super::warning::Warnings;
use crate::snapshot::{GpuSample, GpuStatus, Snapshot};

/// Everything a pass reads with; owned by the pass thread (the first pass by `build`).
pub(super) struct Probes {
    pub(super) host: HostProbe,
    pub(super) warnings: Warnings,
    pub(super) next_seq: u64,
    /// This process's cgroup, where one is found (Linux).
    #[cfg(target_os = "linux")]
    pub(super) cgroup: Option<super::cgroup::CgroupProbe>,
    /// Why there are no GPU figures when no GPU thread runs.
    pub(super) gpu_off: GpuStatus,
}

/// What a pass needs of the sampler besides its probes: the GPU thread, its bounds, and the
/// last snapshot to carry figures from. `build` makes the first pass with one too, before
/// the threads' shared state exists.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
pub(super) struct PassLink<'a> {
    #[cfg(feature = "nvml")]
    pub(super) port: Option<&'a super::gpu_thread::GpuPort>,
    pub(super) bounds: super::builder::Bounds,
    pub(super) interval: std::time::Duration,
    pub(super) previous: Option<&'a Snapshot>,
}

impl Probes {
    /// One snapshot. The GPU thread is asked for the GPUs' fast tier first, so it reads
    /// while the host is read here; the pass waits for it until three quarters of the
    /// driver deadline from `started` at most (the rest is the caller's margin), then
    /// carries the last figures. A call in flight for three intervals (at least 1 s) empties
    /// the GPUs.
    pub(super) fn pass(&mut self, link: &PassLink<'_>, extra: bool, started: Instant) -> Snapshot {
        let seq = self.next_seq;
        self.next_seq += 1;
        #[cfg(feature = "nvml")]
        let asked = link
            .port
            .is_some_and(|port| port.ask(seq, !extra, link.bounds.deadline));
        #[cfg(not(feature = "nvml"))]
        let _ = (link, extra);
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
        #[cfg(feature = "nvml")]
        let (gpus, gpu_status) = match link.port {
            Some(port) => gpu_part(port, link, seq, asked, started),
            None => (Vec::new(), self.gpu_off.clone()),
        };
        #[cfg(not(feature = "nvml"))]
        let (gpus, gpu_status) = {
            let _ = started;
            (Vec::<GpuSample>::new(), self.gpu_off.clone())
        };
        Snapshot {
            seq,
            taken_at,
            wall_time,
            host,
            process,
            gpus,
            gpu_status,
            container,
            taken_at_coarse_ns,
        }
    }
}

/// The GPUs' part of pass `seq`: the GPU thread's answer, or the last figures carried (a
/// slow read under way, a late answer), or none with the reason (NVML starting, a call hung
/// for three intervals, at least 1 s).
#[cfg(feature = "nvml")]
fn gpu_part(
    port: &super::gpu_thread::GpuPort,
    link: &PassLink<'_>,
    seq: u64,
    asked: bool,
    started: Instant,
) -> (Vec<GpuSample>, GpuStatus) {
    use super::gpu_thread::NoAnswer;
    if let Some(call) = port.stuck_longer_than(super::hung_after(link.interval)) {
        return (Vec::new(), GpuStatus::Hung(call.hung(Instant::now())));
    }
    let until = if asked {
        started + link.bounds.deadline * 3 / 4
    } else {
        started
    };
    match port.answer(seq, until) {
        Ok(super::gpu_thread::Answer {
            gpus: Some(gpus),
            status,
            ..
        }) => (gpus, status),
        Ok(_) | Err(NoAnswer::Carry) => carry(link.previous),
        Err(NoAnswer::Ended(status)) => (Vec::new(), status),
        Err(NoAnswer::Starting) => match port.stuck_longer_than(link.bounds.deadline) {
            Some(call) => (Vec::new(), GpuStatus::Hung(call.hung(Instant::now()))),
            None => (Vec::new(), GpuStatus::Starting),
        },
    }
}

/// The last pass's GPU figures, marked as carried: none of their tiers was read now.
#[cfg(feature = "nvml")]
fn carry(previous: Option<&Snapshot>) -> (Vec<GpuSample>, GpuStatus) {
    let Some(previous) = previous else {
        return (Vec::new(), GpuStatus::Starting);
    };
    let gpus = previous
        .gpus
        .iter()
        .map(|g| {
            let mut g = g.clone();
            g.reads = g.reads.carried();
            g
        })
        .collect();
    (gpus, previous.gpu_status.clone())
}

/// Why no GPU thread runs, or `None` when one should (GPU sampling on, `nvml` built).
pub(super) fn gpu_off(settings: &Settings) -> Option<GpuStatus> {
    if !settings.gpu {
        Some(GpuStatus::Disabled)
    } else if cfg!(feature = "nvml") {
        None
    } else {
        Some(GpuStatus::NotCompiled)
    }
}
