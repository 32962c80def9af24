//! The wiring: a sampler's parts built from its settings (the host probe, the cgroup probe on
//! Linux, the XID log, the history), its GPU thread, its first pass, and its pass thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;

use super::builder::Settings;
#[cfg(target_os = "linux")]
use super::cgroup;
use super::desk::Desk;
use super::gpu_shared::GpuShared;
use super::history::History;
use super::host::HostProbe;
use super::probes::{gpu_off, PassLink, Probes};
use super::thread::{self, Handle, Shared, Worker};
use super::warning::{WarningSink, Warnings};
use super::{xid, Sampler};
use crate::error::Error;
#[cfg(not(target_os = "linux"))]
use crate::snapshot::ContainerIdentity;

impl Sampler {
    pub(super) fn start(settings: Settings, sink: WarningSink) -> Result<Self, Error> {
        let mut warnings = Warnings::default();
        let host = HostProbe::new(&mut warnings);
        // The GPU probe starts the XID watcher over its devices whenever NVML comes up.
        let xid = Arc::new(xid::XidLog::new(xid::off()));
        let gpu = Arc::new(GpuShared::default());
        let off = gpu_off(&settings);
        #[cfg(feature = "nvml")]
        let port = match off {
            Some(_) => None,
            None => Some(start_gpu_thread(&settings, &gpu, &xid)?),
        };
        // Should the pass thread not start, the GPU thread is told to stop, not left waiting.
        #[cfg(feature = "nvml")]
        let mut stop_on_error = StopOnError(port.clone());
        #[cfg(target_os = "linux")]
        let cgroup = match &settings.cgroup_root {
            Some(root) => cgroup::CgroupProbe::open_under(root, &root.join("proc/self")),
            None => cgroup::CgroupProbe::open(),
        };
        #[cfg(target_os = "linux")]
        let identity = cgroup
            .as_ref()
            .map(|c| c.identity.clone())
            .unwrap_or_default();
        #[cfg(not(target_os = "linux"))]
        let identity = ContainerIdentity::default();
        let mut probes = Probes {
            host,
            warnings,
            next_seq: 0,
            #[cfg(target_os = "linux")]
            cgroup,
            gpu_off: off.unwrap_or(crate::snapshot::GpuStatus::Starting),
        };
        // NVML opens on the GPU thread; the first pass waits for it within the start bound.
        #[cfg(feature = "nvml")]
        if let Some(port) = &port {
            let _ = port.wait_opened(settings.bounds.start);
        }
        let first = Arc::new(probes.pass(
            &PassLink {
                #[cfg(feature = "nvml")]
                port: port.as_deref(),
                bounds: settings.bounds,
                interval: settings.interval,
                previous: None,
            },
            false,
            Instant::now(),
        ));
        let warnings_so_far = probes.warnings.kept.clone();
        let history = History::new(first.clone(), settings.history, &settings.levels);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            published: AtomicU64::new(first.seq),
            latest: ArcSwap::new(first),
            history,
            interval: settings.interval,
            bounds: settings.bounds,
            gpu,
            #[cfg(feature = "nvml")]
            port,
            last_pass_nanos: AtomicU64::new(0),
            warnings: Mutex::new(warnings_so_far),
            identity,
            xid,
            desk: Desk::default(),
            probes: Mutex::new(probes),
        });
        let thread = std::thread::Builder::new()
            .name("otel-resmon-sampler".into())
            .spawn({
                let shared = shared.clone();
                let sink = sink.clone();
                move || thread::run(&shared, &*sink)
            })
            .map_err(Error::Spawn)?;
        #[cfg(feature = "nvml")]
        {
            stop_on_error.0 = None;
        }
        Ok(Self {
            handle: Arc::new(Handle {
                shared,
                worker: Mutex::new(Some(Worker { thread, sink })),
                left_behind: Mutex::new(None),
            }),
        })
    }
}

/// Starts the GPU thread, which opens NVML at once.
#[cfg(feature = "nvml")]
fn start_gpu_thread(
    settings: &Settings,
    gpu: &Arc<GpuShared>,
    xid: &Arc<xid::XidLog>,
) -> Result<Arc<super::gpu_thread::GpuPort>, Error> {
    use super::gpu_thread::{self, GpuPort, OpenArgs};
    let port = Arc::new(GpuPort::new());
    let args = OpenArgs {
        settings: settings.clone(),
        xid: xid.clone(),
    };
    // Detached: shutdown waits for it within its bound, never joins it.
    std::thread::Builder::new()
        .name("otel-resmon-gpu".into())
        .spawn({
            let (port, gpu) = (port.clone(), gpu.clone());
            move || gpu_thread::run(&port, &gpu, args)
        })
        .map_err(Error::Spawn)?;
    Ok(port)
}

/// Stops the GPU thread when dropped: on an error return of `start` after it started.
#[cfg(feature = "nvml")]
struct StopOnError(Option<Arc<super::gpu_thread::GpuPort>>);

#[cfg(feature = "nvml")]
impl Drop for StopOnError {
    fn drop(&mut self) {
        if let Some(port) = &self.0 {
            let _ = port.stop(std::time::Duration::ZERO);
        }
    }
}
