//! The XID log: XID errors (NVML's critical XID events) as the GPU probe's watcher thread
//! (`gpu/xid_watch.rs`) delivers them. Each XID is counted and kept (the last 256); a span
//! reads the ones after its start with one atomic load, and takes the log's lock only when an
//! XID did arrive. The log outlives the watcher: the GPU probe starts one whenever NVML comes
//! up, at start or late.

// Without NVML on Linux there is no watcher: the log only reports its status.
#![cfg_attr(not(all(feature = "nvml", target_os = "linux")), allow(dead_code))]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::sync::lock;

/// One XID error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct XidEvent {
    /// The XID code; `None` when the driver gave none (NVML's 999).
    pub code: Option<u64>,
    /// The device's UUID (`hw.id`).
    pub uuid: Arc<str>,
    /// When it arrived.
    pub at: SystemTime,
    /// Its position among the XIDs this sampler saw (0 first).
    pub seq: u64,
}

/// Whether XID errors are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum XidStatus {
    /// The watcher has not registered its devices yet.
    Starting,
    /// Every visible device is registered for XID events.
    Watching,
    /// The driver has no event support for a device (a reason, not an error).
    NotSupported(Arc<str>),
    /// No watcher: no NVML, or not Linux.
    Off(&'static str),
}

impl XidStatus {
    /// `starting`, `watching`, `not_supported: ...` or `off: ...`.
    pub fn describe(&self) -> String {
        match self {
            XidStatus::Starting => "starting".into(),
            XidStatus::Watching => "watching".into(),
            XidStatus::NotSupported(why) => format!("not_supported: {why}"),
            XidStatus::Off(why) => format!("off: {why}"),
        }
    }
}

/// XID code of a GPU that fell off the bus.
pub(crate) const FELL_OFF_THE_BUS: u64 = 79;
const KEPT: usize = 256;

/// The XIDs seen so far.
#[derive(Debug)]
pub(crate) struct XidLog {
    count: AtomicU64,
    events: Mutex<VecDeque<XidEvent>>,
    /// Per device: XIDs counted, and whether one said it fell off the bus.
    devices: Mutex<Vec<(Arc<str>, u64, bool)>>,
    status: Mutex<XidStatus>,
}

impl XidLog {
    pub(crate) fn new(status: XidStatus) -> Self {
        Self {
            count: AtomicU64::new(0),
            events: Mutex::new(VecDeque::new()),
            devices: Mutex::new(Vec::new()),
            status: Mutex::new(status),
        }
    }

    /// How many XIDs arrived so far (one atomic load).
    #[inline]
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// The XIDs after the first `n` (nothing allocated when none arrived).
    pub(crate) fn since(&self, n: u64) -> Vec<XidEvent> {
        if self.count() <= n {
            return Vec::new();
        }
        lock(&self.events)
            .iter()
            .filter(|e| e.seq >= n)
            .cloned()
            .collect()
    }

    /// XIDs counted for this device, and whether one said it fell off the bus.
    pub(crate) fn device(&self, uuid: &str) -> (u64, bool) {
        if self.count() == 0 {
            return (0, false);
        }
        lock(&self.devices)
            .iter()
            .find(|(u, _, _)| &**u == uuid)
            .map_or((0, false), |(_, n, fell)| (*n, *fell))
    }

    pub(crate) fn status(&self) -> XidStatus {
        lock(&self.status).clone()
    }

    pub(crate) fn set_status(&self, status: XidStatus) {
        *lock(&self.status) = status;
    }

    pub(crate) fn push(&self, code: Option<u64>, uuid: Arc<str>) {
        let mut events = lock(&self.events);
        let seq = self.count.load(Ordering::Relaxed);
        {
            let mut devices = lock(&self.devices);
            let fell = code == Some(FELL_OFF_THE_BUS);
            match devices.iter_mut().find(|(u, _, _)| *u == uuid) {
                Some(d) => {
                    d.1 += 1;
                    d.2 |= fell;
                }
                None => devices.push((uuid.clone(), 1, fell)),
            }
        }
        if events.len() == KEPT {
            events.pop_front();
        }
        events.push_back(XidEvent {
            code,
            uuid,
            at: SystemTime::now(),
            seq,
        });
        // After the event is in: whoever sees the count finds it.
        self.count.store(seq + 1, Ordering::Release);
    }
}

/// The status before any watcher runs: no NVML device (yet), or not Linux.
pub(crate) fn off() -> XidStatus {
    XidStatus::Off(if cfg!(target_os = "linux") {
        "no NVML device"
    } else {
        "XID events are watched on Linux only"
    })
}
