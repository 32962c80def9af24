//! Host and process figures: sysinfo for CPU, memory and load; `getrusage` for CPU time.
//!
//! Only what is read gets refreshed (never `refresh_all`): memory, the global CPU counters at
//! most every 200 ms (sysinfo's CPU % needs that gap and reads 0 otherwise), and this process.

use std::time::{Duration, Instant};

use sysinfo::{
    CpuRefreshKind, MemoryRefreshKind, Pid, ProcessRefreshKind, ProcessesToUpdate, System,
};

use super::warning::{WarningKind, Warnings};
use crate::snapshot::{HostSample, ProcessSample};

/// Shortest gap between two CPU counter readings that gives a meaningful utilization.
const CPU_MIN_GAP: Duration = sysinfo::MINIMUM_CPU_UPDATE_INTERVAL;

pub(crate) struct HostProbe {
    system: Option<System>,
    pid: Pid,
    cpu_primed_at: Option<Instant>,
    cpu_utilization: Option<f64>,
    cpu_measured_at: Option<Instant>,
}

impl HostProbe {
    pub(crate) fn new(warnings: &mut Warnings) -> Self {
        // sysinfo reads nothing on an OS it does not support: say so once, never report zeros.
        let system = sysinfo::IS_SUPPORTED_SYSTEM.then(System::new);
        if system.is_none() {
            warnings.raise(WarningKind::HostFailed, None, "system", || {
                "host figures are unavailable: sysinfo does not support this OS".to_owned()
            });
        }
        Self {
            system,
            pid: Pid::from_u32(std::process::id()),
            cpu_primed_at: None,
            cpu_utilization: None,
            cpu_measured_at: None,
        }
    }

    pub(crate) fn sample(&mut self, warnings: &mut Warnings) -> (HostSample, ProcessSample) {
        let now = Instant::now();
        let mut host = HostSample::default();
        let mut process = ProcessSample {
            pid: self.pid.as_u32(),
            ..ProcessSample::default()
        };
        if let Some(system) = self.system.as_mut() {
            system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
            host.taken_at = Some(Instant::now());
            host.memory_total = nonzero(system.total_memory());
            host.memory_used = host.memory_total.map(|_| system.used_memory());
            host.memory_available = host.memory_total.map(|_| system.available_memory());

            match self.cpu_primed_at {
                Some(at) if now.duration_since(at) < CPU_MIN_GAP => {}
                primed => {
                    system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
                    if primed.is_some() {
                        let percent = f64::from(system.global_cpu_usage());
                        self.cpu_utilization = Some((percent / 100.0).clamp(0.0, 1.0));
                        self.cpu_measured_at = Some(now);
                        host.cpu_fresh = true;
                    }
                    self.cpu_primed_at = Some(now);
                }
            }
            host.cpu_utilization = self.cpu_utilization;
            host.cpu_measured_at = self.cpu_measured_at;

            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[self.pid]),
                false,
                ProcessRefreshKind::nothing().with_memory(),
            );
            match system.process(self.pid) {
                Some(p) => {
                    process.resident_memory = Some(p.memory());
                    process.virtual_memory = Some(p.virtual_memory());
                }
                None => warnings.raise(WarningKind::HostFailed, None, "process", || {
                    "this process's memory figures are unavailable".to_owned()
                }),
            }
        }
        host.load_average_1m = load_average_1m();

        match cpu_times() {
            Some((user, system)) => {
                process.cpu_time_user = Some(user);
                process.cpu_time_system = Some(system);
                process.cpu_time = Some(user + system);
            }
            None => warnings.raise(WarningKind::HostFailed, None, "cpu_time", || {
                "this process's CPU time is unavailable".to_owned()
            }),
        }
        process.taken_at = Some(Instant::now());
        (host, process)
    }
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

/// The 1-minute load average, or `None` where the kernel does not give one (sysinfo 0.38
/// would answer 0 there).
#[cfg(unix)]
fn load_average_1m() -> Option<f64> {
    let mut loads = [0f64; 3];
    // SAFETY: getloadavg writes at most `nelem` (1) doubles into the array it is given.
    let n = unsafe { libc::getloadavg(loads.as_mut_ptr(), 1) };
    (n >= 1).then_some(loads[0])
}

#[cfg(not(unix))]
fn load_average_1m() -> Option<f64> {
    None
}

/// User and system CPU time of this process, seconds.
#[cfg(unix)]
pub(crate) fn cpu_times() -> Option<(f64, f64)> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage writes a whole `rusage` into the pointer on success and we read it only
    // then; RUSAGE_SELF is always a valid `who`.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some((seconds(usage.ru_utime), seconds(usage.ru_stime)))
}

/// User and system CPU time of this process, seconds (sysinfo gives only their sum here).
#[cfg(not(unix))]
pub(crate) fn cpu_times() -> Option<(f64, f64)> {
    None
}
