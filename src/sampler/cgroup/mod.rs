//! This process's cgroup figures, on the sampler thread only. The cgroup is found once, from
//! `/proc/self/cgroup` and `/proc/self/mountinfo` (v2, v1 or hybrid); its files are kept open
//! and re-read from the start each pass, never looked up again.

mod ids;
mod locate;
mod parse;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crate::snapshot::{
    CgroupHierarchy, ContainerField, ContainerIdentity, ContainerMissing, ContainerSample,
    MissingReason,
};

/// Bytes asked for in one read: every cgroup file the probe reads fits (memory.stat is the
/// largest, about 1.5 KiB in v1).
const READ_SIZE: usize = 8192;

/// One cgroup file, open; `None` when it does not exist.
struct Kept(Option<File>);

impl Kept {
    fn open(dir: Option<&Path>, name: &str) -> Self {
        Self(dir.and_then(|d| File::open(d.join(name)).ok()))
    }

    /// The whole file, read from its start into `buf`: `None` when it does not exist,
    /// `Some(Err)` when the read failed.
    fn read<'b>(&self, buf: &'b mut Vec<u8>) -> Option<Result<&'b str, String>> {
        let file = self.0.as_ref()?;
        // One read for the whole file: the kernel generates a cgroup file anew for every read
        // (a second read at the end would cost as much as the first: memory.stat's is ~13 µs),
        // and a short read is its end.
        buf.clear();
        buf.resize(READ_SIZE, 0);
        let mut len = 0;
        loop {
            match file.read_at(&mut buf[len..], len as u64) {
                Ok(n) => {
                    len += n;
                    if n == 0 || len < buf.len() {
                        break;
                    }
                    buf.resize(buf.len() * 2, 0);
                }
                Err(e) => return Some(Err(e.to_string())),
            }
        }
        buf.truncate(len);
        Some(std::str::from_utf8(buf).map_err(|e| e.to_string()))
    }
}

/// Where each figure is read from.
struct Files {
    hierarchy: CgroupHierarchy,
    memory_usage: Kept,
    memory_stat: Kept,
    /// `memory.stat`'s key for inactive file pages (`total_inactive_file` in v1).
    inactive_key: &'static str,
    memory_limit: Kept,
    /// `memory.events` (v2) or `memory.oom_control` (v1): both have `oom_kill`.
    memory_oom: Kept,
    memory_pressure: Kept,
    /// v2 `cpu.max`, or v1 `cpu.cfs_quota_us` with `cpu.cfs_period_us`.
    cpu_max: Kept,
    /// v1 only: `cpu.cfs_period_us` (its presence says the CPU figures are v1).
    cpu_period: Option<Kept>,
    /// v2 `cpu.stat` (usage and throttling), v1 `cpu.stat` (throttling, ns).
    cpu_stat: Kept,
    /// v1 `cpuacct.usage` (ns).
    cpuacct_usage: Option<Kept>,
}

/// Reads this process's cgroup each pass.
pub(crate) struct CgroupProbe {
    files: Files,
    buf: Vec<u8>,
    pub(crate) identity: ContainerIdentity,
    /// The previous CPU time reading, for `cpu_usage`.
    last_cpu: Option<(f64, Instant)>,
}

impl CgroupProbe {
    /// This process's cgroup on this machine; `None` when no cgroup filesystem shows it.
    pub(crate) fn open() -> Option<Self> {
        Self::open_under(Path::new("/"), Path::new("/proc/self"))
    }

    /// The cgroup `proc_self/cgroup` and `proc_self/mountinfo` name, its mount points taken
    /// under `root` (a fixture's directory; `/` on a real system).
    pub(crate) fn open_under(root: &Path, proc_self: &Path) -> Option<Self> {
        let cgroup = std::fs::read_to_string(proc_self.join("cgroup")).ok()?;
        let mountinfo = std::fs::read_to_string(proc_self.join("mountinfo")).ok()?;
        let at = locate::locate(root, &cgroup, &mountinfo);
        let (mut container_id, mut pod_uid) = ids::from_paths(at.paths.iter().map(String::as_str));
        if container_id.is_none() || pod_uid.is_none() {
            let (c, p) = ids::from_mountinfo(&mountinfo);
            container_id = container_id.or(c);
            pod_uid = pod_uid.or(p);
        }
        let v2 = at.v2.as_deref().filter(|d| d.is_dir());
        let v1_memory = at.v1_memory.as_deref().filter(|d| d.is_dir());
        let v1_cpu = at.v1_cpu.as_deref().filter(|d| d.is_dir());
        let v1_cpuacct = at.v1_cpuacct.as_deref().filter(|d| d.is_dir());
        let any_v1 = v1_memory.or(v1_cpu).or(v1_cpuacct).is_some();
        let hierarchy = match (any_v1, v2.is_some()) {
            (false, false) => return None,
            (false, true) => CgroupHierarchy::V2,
            (true, false) => CgroupHierarchy::V1,
            (true, true) => CgroupHierarchy::Hybrid,
        };
        let memory = |v1: &str, v2name: &str| match v1_memory {
            Some(d) => Kept::open(Some(d), v1),
            None => Kept::open(v2, v2name),
        };
        let files = Files {
            hierarchy,
            memory_usage: memory("memory.usage_in_bytes", "memory.current"),
            memory_stat: memory("memory.stat", "memory.stat"),
            inactive_key: if v1_memory.is_some() {
                "total_inactive_file"
            } else {
                "inactive_file"
            },
            memory_limit: memory("memory.limit_in_bytes", "memory.max"),
            memory_oom: memory("memory.oom_control", "memory.events"),
            // v1 has no per-cgroup PSI.
            memory_pressure: Kept::open(
                if v1_memory.is_some() { None } else { v2 },
                "memory.pressure",
            ),
            cpu_max: match v1_cpu {
                Some(d) => Kept::open(Some(d), "cpu.cfs_quota_us"),
                None => Kept::open(v2, "cpu.max"),
            },
            cpu_period: v1_cpu.map(|d| Kept::open(Some(d), "cpu.cfs_period_us")),
            cpu_stat: Kept::open(v1_cpu.or(v2), "cpu.stat"),
            cpuacct_usage: v1_cpuacct.map(|d| Kept::open(Some(d), "cpuacct.usage")),
        };
        Some(Self {
            files,
            buf: Vec::with_capacity(READ_SIZE),
            identity: ContainerIdentity {
                container_id,
                pod_uid,
            },
            last_cpu: None,
        })
    }

    /// One reading of every figure.
    pub(crate) fn sample(&mut self) -> ContainerSample {
        let f = &self.files;
        let buf = &mut self.buf;
        // (self.last_cpu is read after the figures.)
        let mut s = ContainerSample {
            taken_at: Instant::now(),
            hierarchy: f.hierarchy,
            memory_usage: None,
            memory_working_set: None,
            memory_limit: None,
            memory_oom_kills: None,
            memory_pressure: None,
            cpu_limit: None,
            cpu_time: None,
            cpu_usage: None,
            cpu_periods: None,
            cpu_throttled_periods: None,
            cpu_throttled_time: None,
            missing: Vec::new(),
        };
        let mut gaps: Vec<ContainerMissing> = Vec::new();
        let mut gap = |field: ContainerField, reason: MissingReason| {
            gaps.push(ContainerMissing { field, reason });
        };
        // Each read gives the value, or records why there is none.
        macro_rules! read {
            ($kept:expr, $field:expr, $parse:expr) => {
                match $kept.read(buf) {
                    None => {
                        gap($field, MissingReason::NotSupported);
                        None
                    }
                    Some(Err(e)) => {
                        gap($field, MissingReason::Failed(e.into()));
                        None
                    }
                    Some(Ok(text)) => {
                        let parsed = ($parse)(text);
                        if parsed.is_none() {
                            gap(
                                $field,
                                MissingReason::Failed(format!("unreadable: {text:?}").into()),
                            );
                        }
                        parsed
                    }
                }
            };
        }
        s.memory_usage = read!(f.memory_usage, ContainerField::MemoryUsage, parse::number);
        let inactive = read!(f.memory_stat, ContainerField::MemoryWorkingSet, |t| {
            parse::keyed(t, f.inactive_key)
        });
        s.memory_working_set = s
            .memory_usage
            .zip(inactive)
            .map(|(u, i)| u.saturating_sub(i));
        match read!(f.memory_limit, ContainerField::MemoryLimit, parse::limit) {
            Some(Some(l)) => s.memory_limit = Some(l),
            Some(None) => gap(ContainerField::MemoryLimit, MissingReason::NoLimit),
            None => {}
        }
        s.memory_oom_kills = read!(f.memory_oom, ContainerField::MemoryOomKills, |t| {
            parse::keyed(t, "oom_kill")
        });
        s.memory_pressure = read!(
            f.memory_pressure,
            ContainerField::MemoryPressure,
            parse::pressure_some_avg10
        );
        let quota = match &f.cpu_period {
            Some(period) => {
                let period = match period.read(buf) {
                    Some(Ok(t)) => t.to_owned(),
                    _ => String::new(),
                };
                read!(f.cpu_max, ContainerField::CpuLimit, |t| parse::cfs_quota(
                    t, &period
                ))
            }
            None => read!(f.cpu_max, ContainerField::CpuLimit, parse::cpu_max),
        };
        match quota {
            Some(Some(cores)) => s.cpu_limit = Some(cores),
            Some(None) => gap(ContainerField::CpuLimit, MissingReason::NoLimit),
            None => {}
        }
        // Throttling (and, in v2, usage) from cpu.stat; v1 counts throttled time in ns. A
        // cgroup without the CPU controller (the v2 root) has usage but no throttling.
        // v1 has a separate period file.
        let v1 = f.cpu_period.is_some();
        let stat = match f.cpu_stat.read(buf) {
            None => {
                gap(ContainerField::CpuThrottling, MissingReason::NotSupported);
                None
            }
            Some(Err(e)) => {
                gap(
                    ContainerField::CpuThrottling,
                    MissingReason::Failed(e.into()),
                );
                None
            }
            Some(Ok(t)) => Some(t),
        };
        if let Some(t) = stat {
            let throttling = (|| {
                let periods = parse::keyed(t, "nr_periods")?;
                let throttled = parse::keyed(t, "nr_throttled")?;
                let time = if v1 {
                    parse::keyed(t, "throttled_time")? as f64 / 1e9
                } else {
                    parse::keyed(t, "throttled_usec")? as f64 / 1e6
                };
                Some((periods, throttled, time))
            })();
            match throttling {
                Some((periods, throttled, time)) => {
                    s.cpu_periods = Some(periods);
                    s.cpu_throttled_periods = Some(throttled);
                    s.cpu_throttled_time = Some(time);
                }
                None => gap(ContainerField::CpuThrottling, MissingReason::NotSupported),
            }
            if !v1 {
                s.cpu_time = parse::keyed(t, "usage_usec").map(|u| u as f64 / 1e6);
            }
        }
        match &f.cpuacct_usage {
            Some(kept) => {
                s.cpu_time =
                    read!(kept, ContainerField::CpuTime, parse::number).map(|ns| ns as f64 / 1e9);
            }
            None if s.cpu_time.is_none() => {
                gap(ContainerField::CpuTime, MissingReason::NotSupported);
            }
            None => {}
        }
        s.missing = gaps;
        if let (Some(t), Some((t0, at0))) = (s.cpu_time, self.last_cpu) {
            let wall = s.taken_at.duration_since(at0).as_secs_f64();
            // A counter that went backwards gives nothing, never a negative use.
            if wall > 0.0 && t >= t0 {
                s.cpu_usage = Some((t - t0) / wall);
            }
        }
        self.last_cpu = s.cpu_time.map(|t| (t, s.taken_at));
        s
    }
}

#[cfg(test)]
mod tests;
