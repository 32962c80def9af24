//! This process's cgroup figures: its container's memory and CPU as the kernel accounts and
//! limits them, which in a pod are far below the node's.

use std::time::Instant;

use super::MissingReason;

/// Which cgroup hierarchy the figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CgroupHierarchy {
    /// The unified hierarchy only.
    V2,
    /// v1 controllers only.
    V1,
    /// v1 controllers beside a v2 mount (memory and CPU read from v1 where it has them).
    Hybrid,
}

impl CgroupHierarchy {
    /// `v2`, `v1` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "v2",
            Self::V1 => "v1",
            Self::Hybrid => "hybrid",
        }
    }
}

/// A container figure (for [`ContainerMissing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContainerField {
    /// `memory_usage`.
    MemoryUsage,
    /// `memory_working_set`.
    MemoryWorkingSet,
    /// `memory_limit`.
    MemoryLimit,
    /// `memory_oom_kills`.
    MemoryOomKills,
    /// `memory_pressure`.
    MemoryPressure,
    /// `cpu_limit`.
    CpuLimit,
    /// `cpu_time`.
    CpuTime,
    /// `cpu_periods`, `cpu_throttled_periods` and `cpu_throttled_time`.
    CpuThrottling,
}

impl ContainerField {
    /// The figure's name in [`ContainerSample`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemoryUsage => "memory_usage",
            Self::MemoryWorkingSet => "memory_working_set",
            Self::MemoryLimit => "memory_limit",
            Self::MemoryOomKills => "memory_oom_kills",
            Self::MemoryPressure => "memory_pressure",
            Self::CpuLimit => "cpu_limit",
            Self::CpuTime => "cpu_time",
            Self::CpuThrottling => "cpu_throttling",
        }
    }
}

/// An absent container figure and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerMissing {
    /// Which figure.
    pub field: ContainerField,
    /// Why: `NotSupported` (the kernel has no such file here), `NoLimit` (the limit is
    /// `max`), `Failed` (it could not be read).
    pub reason: MissingReason,
}

/// This process's cgroup: memory and CPU figures of its container (on a host, of the
/// cgroup the service manager put it in).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ContainerSample {
    /// When they were read.
    pub taken_at: Instant,
    /// The hierarchy they come from.
    pub hierarchy: CgroupHierarchy,
    /// Memory charged to the cgroup (page cache included), bytes.
    pub memory_usage: Option<u64>,
    /// Usage minus inactive file pages, bytes: what the kubelet and cAdvisor call the
    /// working set, and what the OOM killer and evictions weigh.
    pub memory_working_set: Option<u64>,
    /// The memory limit, bytes, when one is set.
    pub memory_limit: Option<u64>,
    /// Processes the OOM killer killed in this cgroup so far.
    pub memory_oom_kills: Option<u64>,
    /// Share of the last 10 s in which some task waited for memory (PSI `some avg10`), 0..1.
    pub memory_pressure: Option<f64>,
    /// The CPU quota, in cores, when one is set.
    pub cpu_limit: Option<f64>,
    /// CPU time used by the cgroup so far, seconds.
    pub cpu_time: Option<f64>,
    /// CPU the cgroup used since the previous reading, in cores (CPU time over wall time).
    pub cpu_usage: Option<f64>,
    /// CFS enforcement periods so far.
    pub cpu_periods: Option<u64>,
    /// Periods in which the cgroup used its whole quota and was throttled.
    pub cpu_throttled_periods: Option<u64>,
    /// Time the cgroup's tasks spent throttled so far, seconds.
    pub cpu_throttled_time: Option<f64>,
    /// Each absent figure and why.
    pub missing: Vec<ContainerMissing>,
}

impl ContainerSample {
    /// Memory the cgroup may still use before its limit, bytes: limit minus working set.
    pub fn memory_available(&self) -> Option<u64> {
        Some(self.memory_limit?.saturating_sub(self.memory_working_set?))
    }

    /// Why `field` is absent, if it is.
    pub fn missing_reason(&self, field: ContainerField) -> Option<&MissingReason> {
        self.missing
            .iter()
            .find(|m| m.field == field)
            .map(|m| &m.reason)
    }
}

/// Which container and pod this process runs in, from its cgroup paths (or, inside a cgroup
/// namespace, the bind mounts in mountinfo): the Resource's `container.id` and
/// `k8s.pod.uid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerIdentity {
    /// The runtime's 64-hex container id (docker, containerd, cri-o, podman).
    pub container_id: Option<String>,
    /// The Kubernetes pod UID.
    pub pod_uid: Option<String>,
}
