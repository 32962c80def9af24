//! The wiring: a sampler's parts built from its settings (the host probe, the GPU probe with
//! its XID log, the cgroup probe on Linux, the history), its first pass, and its thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use arc_swap::ArcSwap;

use super::builder::Settings;
#[cfg(target_os = "linux")]
use super::cgroup;
use super::history::History;
use super::host::HostProbe;
use super::probes::{open_gpu, Probes};
use super::thread::{self, Handle, Shared, Worker};
use super::warning::{WarningSink, Warnings};
use super::{costs, xid, Sampler};
use crate::error::Error;
#[cfg(not(target_os = "linux"))]
use crate::snapshot::ContainerIdentity;

impl Sampler {
    pub(super) fn start(settings: Settings, sink: WarningSink) -> Result<Self, Error> {
        let mut warnings = Warnings::default();
        let host = HostProbe::new(&mut warnings);
        // The GPU probe starts the XID watcher over its devices whenever NVML comes up.
        let xid = Arc::new(xid::XidLog::new(xid::off()));
        let (gpu, inventory) = open_gpu(&settings, &mut warnings, &xid);
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
            gpu,
            warnings,
            next_seq: 0,
            #[cfg(target_os = "linux")]
            cgroup,
        };
        let first = Arc::new(probes.pass(None, false).0);
        let warnings_so_far = probes.warnings.kept.clone();
        let history = History::new(first.clone(), settings.history, &settings.levels);
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            published: AtomicU64::new(first.seq),
            latest: ArcSwap::new(first),
            history,
            probes: Mutex::new(probes),
            interval: settings.interval,
            inventory: ArcSwap::from_pointee(inventory),
            last_pass_nanos: AtomicU64::new(0),
            warnings: Mutex::new(warnings_so_far),
            costs: Mutex::new(costs::Costs::default()),
            slow_busy: AtomicBool::new(false),
            activity: ArcSwap::default(),
            identity,
            xid,
        });
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("otel-resmon-sampler".into())
            .spawn({
                let shared = shared.clone();
                move || thread::run(&shared, &stopped, &*sink)
            })
            .map_err(Error::Spawn)?;
        Ok(Self {
            handle: Arc::new(Handle {
                shared,
                worker: Mutex::new(Some(Worker { stop, thread })),
            }),
        })
    }
}
