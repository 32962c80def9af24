//! The host's and this process's figures, one row each.

use super::super::exports::{metric, pod_metric};
use super::super::{Encoding, Figure, HostKey, Instrument, Kind, Labels, Measure, SpanHistogram};
use super::super::{Statistic, Tier, BYTE_BUCKETS, CPU_SECONDS};
use super::{bytes, out, ANY, COMPACT, FULL, OBSERVED};
use crate::keys;
use crate::keys::metric as m;
use crate::snapshot::Snapshot;

use Encoding::{Bytes, Float};
use Statistic::{Delta, End, Low, Mean, Peak, Rise, Start};

catalogue! {
    /// The host's and this process's figures.
    enum HostFigure of Snapshot, keys HostKey {
        /// Host CPU utilization, 0..1: counted where measured (not carried).
        CpuUtilization = "system.cpu.utilization", Gauge, Tier::HostCpu, low_at false,
            read |s| s.host.cpu_utilization,
            span [
                out(End, COMPACT, ANY, || &keys::SYSTEM_CPU_UTILIZATION_END, Float),
                out(Mean, FULL, ANY, || &keys::SYSTEM_CPU_UTILIZATION_MEAN, Float),
            ],
            metric metric(m::SYSTEM_CPU_UTILIZATION, Instrument::Gauge, "1", Labels::None);
        /// Host 1-minute load average.
        Load1m = "resmon.system.load_average.1m", Gauge, Tier::Pass, low_at false,
            read |s| s.host.load_average_1m,
            span [out(End, FULL, ANY, || &keys::SYSTEM_LOAD_AVERAGE_END, Float)],
            metric None;
        /// Host memory in use, bytes.
        MemoryUsed = "system.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.host.memory_used),
            span [
                out(Start, FULL, ANY, || &keys::SYSTEM_MEMORY_START, Bytes),
                out(End, COMPACT, ANY, || &keys::SYSTEM_MEMORY_END, Bytes),
            ],
            metric metric(m::SYSTEM_MEMORY_USAGE, Instrument::IntUpDown, "By", Labels::MemoryState("used"));
        /// Host memory available, bytes.
        MemoryAvailable = "system.memory.linux.available", Gauge, Tier::Pass, low_at true,
            read |s| bytes(s.host.memory_available),
            span [out(Low, FULL, ANY, || &keys::SYSTEM_MEMORY_AVAILABLE_MIN, Bytes)],
            metric None;
        /// This process's CPU time, seconds.
        ProcessCpuTime = "process.cpu.time", Counter, Tier::Pass, low_at false,
            read |s| s.process.cpu_time,
            // Exported by CPU mode: the two rows below.
            span [out(Delta, COMPACT, OBSERVED, || &keys::PROCESS_CPU_TIME_DELTA, Float)],
            metric None,
            histogram SpanHistogram {
                name: m::SPAN_CPU_TIME,
                description: "Process CPU time used during a span",
                unit: "s",
                buckets: &CPU_SECONDS,
                measure: Measure::Delta,
            };
        /// This process's resident memory, bytes.
        Resident = "process.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.process.resident_memory),
            span [
                out(Start, FULL, ANY, || &keys::PROCESS_MEMORY_START, Bytes),
                out(End, COMPACT, ANY, || &keys::PROCESS_MEMORY_END, Bytes),
                out(Delta, COMPACT, OBSERVED, || &keys::PROCESS_MEMORY_DELTA, Bytes),
                out(Peak, FULL, ANY, || &keys::PROCESS_MEMORY_PEAK, Bytes),
            ],
            metric metric(m::PROCESS_MEMORY_USAGE, Instrument::IntUpDown, "By", Labels::None),
            histogram SpanHistogram {
                name: m::SPAN_MEMORY_GROWTH,
                description: "Growth of the process's resident memory during a span",
                unit: "By",
                buckets: &BYTE_BUCKETS,
                measure: Measure::Growth,
            };
        /// This process's virtual memory, bytes.
        Virtual = "process.memory.virtual", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.process.virtual_memory),
            span [out(End, FULL, ANY, || &keys::PROCESS_VIRTUAL_END, Bytes)],
            metric None;
        /// The cgroup's headroom under its memory limit (limit − working set), bytes.
        ContainerHeadroom = "container.memory.available", Gauge, Tier::Pass, low_at true,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_available())),
            span [],
            metric metric(m::CONTAINER_MEMORY_AVAILABLE, Instrument::IntUpDown, "By", Labels::None);
        /// The cgroup's working set (what the OOM killer and the kubelet weigh), bytes.
        ContainerWorkingSet = "container.memory.working_set", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_working_set)),
            span [
                out(End, COMPACT, ANY, || &keys::CONTAINER_MEMORY_WORKING_SET_END, Bytes),
                out(Delta, COMPACT, OBSERVED, || &keys::CONTAINER_MEMORY_WORKING_SET_DELTA, Bytes),
            ],
            metric metric(m::CONTAINER_MEMORY_WORKING_SET, Instrument::IntUpDown, "By", Labels::None);
        /// The time the cgroup's CPU quota throttled it, seconds.
        ContainerThrottledTime = "resmon.container.cpu.throttled_time", Counter, Tier::Pass,
            low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_throttled_time),
            span [out(Rise, COMPACT, OBSERVED, || &keys::CONTAINER_CPU_THROTTLED_TIME_DELTA, Float)],
            metric metric(m::CONTAINER_CPU_THROTTLED_TIME, Instrument::Counter, "s", Labels::None);
        /// The cgroup's memory in use (page cache included), bytes: exported only.
        ContainerMemoryUsage = "container.memory.usage", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_usage)),
            span [],
            metric metric(m::CONTAINER_MEMORY_USAGE, Instrument::IntUpDown, "By", Labels::None),
            kept false;
        /// The cgroup's CPU use over the last pass, CPUs: exported only.
        ContainerCpuUsage = "container.cpu.usage", Gauge, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_usage),
            span [],
            metric metric(m::CONTAINER_CPU_USAGE, Instrument::Gauge, "{cpu}", Labels::None),
            kept false;
        /// The cgroup's CPU time, seconds: exported only.
        ContainerCpuTime = "container.cpu.time", Counter, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_time),
            span [],
            metric metric(m::CONTAINER_CPU_TIME, Instrument::Counter, "s", Labels::None),
            kept false;
        /// The CPU-quota periods the cgroup was throttled in: exported only.
        ContainerThrottledPeriods = "resmon.container.cpu.throttled_periods", Counter, Tier::Pass,
            low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_throttled_periods).map(|n| n as f64),
            span [],
            metric metric(m::CONTAINER_CPU_THROTTLED_PERIODS, Instrument::Counter, "{period}", Labels::None),
            kept false;
        /// The cgroup's OOM kills: exported only.
        ContainerOomKills = "resmon.container.memory.oom_kills", Counter, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.memory_oom_kills).map(|n| n as f64),
            span [],
            metric metric(m::CONTAINER_MEMORY_OOM_KILLS, Instrument::Counter, "{kill}", Labels::None),
            kept false;
        /// The host's memory, bytes: exported only.
        MemoryLimit = "system.memory.limit", Gauge, Tier::Pass, low_at false,
            read |s| bytes(s.host.memory_total),
            span [],
            metric metric(m::SYSTEM_MEMORY_LIMIT, Instrument::IntUpDown, "By", Labels::None),
            kept false;
        /// This process's CPU time in user mode, seconds: exported only.
        ProcessCpuUser = "process.cpu.time.user", Counter, Tier::Pass, low_at false,
            read |s| s.process.cpu_time_user,
            span [],
            metric metric(m::PROCESS_CPU_TIME, Instrument::Counter, "s", Labels::CpuMode("user")),
            kept false;
        /// This process's CPU time in kernel mode, seconds: exported only.
        ProcessCpuSystem = "process.cpu.time.system", Counter, Tier::Pass, low_at false,
            read |s| s.process.cpu_time_system,
            span [],
            metric metric(m::PROCESS_CPU_TIME, Instrument::Counter, "s", Labels::CpuMode("system")),
            kept false;
        /// The container's memory limit, bytes: exported only, in a pod.
        ContainerMemoryLimit = "k8s.container.memory.limit.current", Gauge, Tier::Pass,
            low_at false,
            read |s| bytes(s.container.as_ref().and_then(|c| c.memory_limit)),
            span [],
            metric pod_metric(m::K8S_CONTAINER_MEMORY_LIMIT, Instrument::IntUpDown, "By"),
            kept false;
        /// The container's CPU limit, CPUs: exported only, in a pod.
        ContainerCpuLimit = "k8s.container.cpu.limit.current", Gauge, Tier::Pass, low_at false,
            read |s| s.container.as_ref().and_then(|c| c.cpu_limit),
            span [],
            metric pod_metric(m::K8S_CONTAINER_CPU_LIMIT, Instrument::UpDown, "{cpu}"),
            kept false;
    }
}
