//! XID errors (NVML's critical XID events) on a thread of their own, because an event set's
//! `wait` blocks. The thread starts and stops with the sampler (Linux only). Each XID is
//! counted and kept (the last 256); a span reads the ones after its start with one atomic
//! load, and takes the log's lock only when an XID did arrive.

// Without NVML on Linux there is no watcher: the log only reports its status.
#![cfg_attr(not(all(feature = "nvml", target_os = "linux")), allow(dead_code))]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::SystemTime;

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

    fn set_status(&self, status: XidStatus) {
        *lock(&self.status) = status;
    }

    fn push(&self, code: Option<u64>, uuid: Arc<str>) {
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The watcher thread, stopped and joined on drop.
pub(crate) struct XidWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for XidWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// How long one wait lasts: the longest the watcher takes to notice it should stop.
#[cfg(all(feature = "nvml", target_os = "linux"))]
const WAIT_MS: u32 = 100;

/// Starts watching the devices with these UUIDs through the NVML at `library`.
#[cfg(all(feature = "nvml", target_os = "linux"))]
pub(crate) fn watch(
    library: Option<std::path::PathBuf>,
    uuids: Vec<Arc<str>>,
    log: Arc<XidLog>,
) -> Option<XidWatcher> {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("otel-resmon-xid".into())
        .spawn({
            let stop = stop.clone();
            move || run(library, &uuids, &log, &stop)
        })
        .ok()?;
    Some(XidWatcher {
        stop,
        thread: Some(thread),
    })
}

#[cfg(all(feature = "nvml", target_os = "linux"))]
fn run(library: Option<std::path::PathBuf>, uuids: &[Arc<str>], log: &XidLog, stop: &AtomicBool) {
    use nvml_wrapper::bitmasks::event::EventTypes;
    use nvml_wrapper::enums::event::XidError;
    use nvml_wrapper::error::NvmlError;
    use nvml_wrapper::Nvml;

    let mut builder = Nvml::builder();
    if let Some(path) = &library {
        builder.lib_path(path.as_os_str());
    }
    let nvml = match builder.init() {
        Ok(nvml) => nvml,
        Err(err) => return log.set_status(XidStatus::NotSupported(err.to_string().into())),
    };
    let mut set = match nvml.create_event_set() {
        Ok(set) => set,
        Err(err) => return log.set_status(XidStatus::NotSupported(err.to_string().into())),
    };
    let mut unsupported: Option<String> = None;
    for uuid in uuids {
        let Ok(device) = nvml.device_by_uuid(&**uuid) else {
            continue;
        };
        match device.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
            Ok(registered) => set = registered,
            Err(err) => {
                // The set is released on failure: the next devices get a new one.
                unsupported.get_or_insert_with(|| format!("{uuid}: {}", err.error));
                set = match nvml.create_event_set() {
                    Ok(set) => set,
                    Err(err) => {
                        return log.set_status(XidStatus::NotSupported(err.to_string().into()))
                    }
                };
            }
        }
    }
    log.set_status(match unsupported {
        Some(why) => XidStatus::NotSupported(why.into()),
        None => XidStatus::Watching,
    });
    while !stop.load(Ordering::Relaxed) {
        match set.wait(WAIT_MS) {
            Ok(event) => {
                let code = match event.event_data {
                    Some(XidError::Value(v)) => Some(v),
                    _ => None,
                };
                let uuid: Arc<str> = match event.device.uuid() {
                    Ok(u) => uuids
                        .iter()
                        .find(|known| ***known == *u)
                        .cloned()
                        .unwrap_or_else(|| u.into()),
                    Err(_) => "unknown".into(),
                };
                log.push(code, uuid);
            }
            Err(NvmlError::Timeout) => {}
            Err(err) => {
                log.set_status(XidStatus::NotSupported(err.to_string().into()));
                // A failing wait must not spin: try again after a while.
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }
    }
}

/// The XID log, and the watcher thread over these devices where NVML is up on Linux.
pub(super) fn start(
    library: Option<std::path::PathBuf>,
    uuids: Vec<Arc<str>>,
) -> (Arc<XidLog>, Option<XidWatcher>) {
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    if !uuids.is_empty() {
        let log = Arc::new(XidLog::new(XidStatus::Starting));
        let watcher = watch(library, uuids, log.clone());
        return (log, watcher);
    }
    let _ = (library, uuids);
    let why = if cfg!(target_os = "linux") {
        "no NVML device"
    } else {
        "XID events are watched on Linux only"
    };
    (Arc::new(XidLog::new(XidStatus::Off(why))), None)
}
