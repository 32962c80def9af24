//! The XID watcher: NVML's critical XID events on a thread of their own, because an event
//! set's `wait` blocks. Owned by the GPU probe ([`XidWatch`]), which starts it whenever NVML
//! comes up and stops it before letting NVML go; it delivers into the sampler's
//! [`XidLog`](crate::sampler::xid::XidLog).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use nvml_wrapper::Nvml;

use crate::sampler::xid::{XidLog, XidStatus};

/// The watcher thread, stopped on drop: joined once it has ended, which takes one wait
/// (100 ms) at most, or left behind after [`STOP_WAIT`] when a driver call holds it.
pub(crate) struct XidWatcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Disconnected when the thread ends.
    ended: std::sync::mpsc::Receiver<()>,
}

/// The longest dropping the watcher waits for its thread: a few of its waits.
const STOP_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

impl Drop for XidWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let ended = !matches!(
                self.ended.recv_timeout(STOP_WAIT),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if ended && thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// How long one wait lasts: the longest the watcher takes to notice it should stop.
const WAIT_MS: u32 = 100;

/// The XID side of the GPU probe: the log, and the watcher thread over the probe's devices
/// while NVML is up. Started by the probe whenever NVML comes up (at start, or late after a
/// failed start) and stopped before the probe lets its NVML go.
pub(crate) struct XidWatch {
    pub(crate) log: Arc<XidLog>,
    watcher: Option<XidWatcher>,
}

impl XidWatch {
    pub(crate) fn new(log: Arc<XidLog>) -> Self {
        Self { log, watcher: None }
    }

    /// Watches the devices with these UUIDs through the probe's own NVML (shared, not a
    /// second instance). Linux only; elsewhere the log keeps its `off` status.
    pub(crate) fn start(&mut self, nvml: &Arc<Nvml>, uuids: Vec<Arc<str>>) {
        self.stop();
        if uuids.is_empty() || !cfg!(target_os = "linux") {
            self.log.set_status(crate::sampler::xid::off());
            return;
        }
        self.log.set_status(XidStatus::Starting);
        let stop = Arc::new(AtomicBool::new(false));
        let (registered, on_registered) = std::sync::mpsc::channel();
        let (ended_tx, ended) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("otel-resmon-xid".into())
            .spawn({
                let (stop, nvml, log) = (stop.clone(), nvml.clone(), self.log.clone());
                move || {
                    let _ended = ended_tx;
                    run(&nvml, &uuids, &log, &stop, &registered);
                    // The last `Arc<Nvml>` may be this one: `nvmlShutdown` runs here.
                    drop(nvml);
                }
            });
        match spawned {
            Ok(thread) => {
                // The devices are registered in a few driver calls: the status says what the
                // watcher does from the first snapshot on, not `starting`.
                let _ = on_registered.recv_timeout(REGISTER_WAIT);
                self.watcher = Some(XidWatcher {
                    stop,
                    thread: Some(thread),
                    ended,
                })
            }
            Err(e) => self.log.set_status(XidStatus::NotSupported(
                format!("no watcher thread: {e}").into(),
            )),
        }
    }

    /// The device's XIDs so far into its sample: the count (only while every device is
    /// watched, else unknown), and whether one said it fell off the bus.
    pub(crate) fn apply(&self, g: &mut crate::snapshot::GpuSample) {
        let watching = matches!(self.log.status(), XidStatus::Watching);
        let (count, fell) = self.log.device(&g.uuid);
        g.condition.xid_errors = watching.then_some(count);
        g.condition.fell_off_the_bus = fell;
    }

    /// Stops the watcher, if one runs: joined after at most one wait (100 ms), or left
    /// behind when a driver call holds it.
    pub(crate) fn stop(&mut self) {
        self.watcher = None;
    }
}

/// The longest `start` waits for the watcher to register its devices.
const REGISTER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

fn run(
    nvml: &Nvml,
    uuids: &[Arc<str>],
    log: &XidLog,
    stop: &AtomicBool,
    registered: &std::sync::mpsc::Sender<()>,
) {
    // Whatever happens below, the starter stops waiting when this returns or registers.
    let _registered = Registered(registered);
    use nvml_wrapper::bitmasks::event::EventTypes;
    use nvml_wrapper::enums::event::XidError;
    use nvml_wrapper::error::NvmlError;

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
    let _ = registered.send(());
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

/// Tells the starter the watcher is done registering, also when it gives up early.
struct Registered<'a>(&'a std::sync::mpsc::Sender<()>);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}
