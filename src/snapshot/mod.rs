//! What one sampler pass saw: host, this process and every visible GPU.
//!
//! A [`Snapshot`] is immutable and shared as `Arc<Snapshot>`. Every figure a device or the
//! operating system did not give is `None`, never a made-up zero; the reason is recorded beside
//! it ([`GpuStatus`], [`DeviceState`], [`GpuSample::missing`]).
#![doc = include_str!("reference.md")]

pub(crate) mod catalogue;
mod container;
mod gpu_activity;
mod gpu_condition;
mod inventory;
mod tier;

pub use container::{
    CgroupHierarchy, ContainerField, ContainerIdentity, ContainerMissing, ContainerSample,
};
pub use gpu_activity::GpuActivity;
pub use gpu_condition::{
    ClockEventReasons, GpuCondition, GpuHealth, ThrottledTime, CLOCK_EVENT_REASONS,
};
pub use inventory::{CudaOrdinals, GpuDevice, GpuInventory};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
pub use tier::GpuTier;
pub(crate) use tier::TierReads;

/// One pass of the sampler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Snapshot {
    /// Position of this snapshot in the sampler's sequence (0 is the first pass).
    pub seq: u64,
    /// When the pass started.
    pub taken_at: Instant,
    /// Wall-clock time of `taken_at`, for export.
    pub wall_time: SystemTime,
    /// Machine-wide figures.
    pub host: HostSample,
    /// Figures of this process.
    pub process: ProcessSample,
    /// One entry per visible GPU, in CUDA order (see [`SamplerBuilder::visible_devices`]).
    ///
    /// [`SamplerBuilder::visible_devices`]: crate::SamplerBuilder::visible_devices
    pub gpus: Vec<GpuSample>,
    /// Why there is, or is not, GPU data.
    pub gpu_status: GpuStatus,
    /// This process's cgroup figures; `None` where no cgroup filesystem shows it (not
    /// Linux, or none mounted).
    pub container: Option<ContainerSample>,
    /// `taken_at` on the coarse clock, for [`Snapshot::age_coarse`].
    pub(crate) taken_at_coarse_ns: Option<u64>,
}

impl Snapshot {
    /// How old this snapshot is now.
    pub fn age(&self) -> Duration {
        self.taken_at.elapsed()
    }

    /// How old this snapshot is, at a few milliseconds' resolution but for a few nanoseconds
    /// (span ends use it); exact where the platform has no coarse clock.
    pub(crate) fn age_coarse(&self) -> Duration {
        match (self.taken_at_coarse_ns, crate::clock::coarse_ns()) {
            (Some(then), Some(now)) => Duration::from_nanos(now.saturating_sub(then)),
            _ => self.age(),
        }
    }

    /// The sample of the GPU with this UUID, if it is visible.
    pub fn gpu(&self, uuid: &str) -> Option<&GpuSample> {
        self.gpus.iter().find(|g| &*g.uuid == uuid)
    }

    /// The sample of the GPU with this UUID, looked for first at position `hint` (where it
    /// is on every pass but those after the devices changed).
    #[inline]
    pub(crate) fn gpu_near(&self, hint: usize, uuid: &Arc<str>) -> Option<&GpuSample> {
        position_by_uuid(&self.gpus, hint, uuid, |g| &g.uuid).map(|i| &self.gpus[i])
    }

    /// `end`, or `start` when `end` is an older pass (a span's end read before its start,
    /// as a cached snapshot can be): the figures then cover nothing rather than negative time.
    pub(crate) fn end_of<'a, S: std::borrow::Borrow<Snapshot>>(start: &'a S, end: &'a S) -> &'a S {
        if end.borrow().seq < start.borrow().seq {
            start
        } else {
            end
        }
    }
}

/// Where the item with this UUID is in `items`, looked for first at `hint`: the one lookup
/// of a GPU by UUID across passes, buckets and devices.
pub(crate) fn position_by_uuid<T>(
    items: &[T],
    hint: usize,
    uuid: &Arc<str>,
    uuid_of: impl Fn(&T) -> &Arc<str>,
) -> Option<usize> {
    let same = |t: &T| {
        let u = uuid_of(t);
        Arc::ptr_eq(u, uuid) || u == uuid
    };
    if items.get(hint).is_some_and(same) {
        return Some(hint);
    }
    items.iter().position(same)
}

/// Heap bytes a snapshot owns beyond its own size (device names and UUIDs are shared with the
/// inventory and not counted).
pub(crate) fn heap_bytes(s: &Snapshot) -> usize {
    use std::mem::size_of;
    let gpus: usize = s
        .gpus
        .iter()
        .map(|g| g.missing.capacity() * size_of::<MissingField>())
        .sum();
    let container = s
        .container
        .as_ref()
        .map_or(0, |c| c.missing.capacity() * size_of::<ContainerMissing>());
    s.gpus.capacity() * size_of::<GpuSample>() + gpus + container
}

/// Machine-wide CPU and memory figures.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct HostSample {
    /// When memory and load were read.
    pub taken_at: Option<Instant>,
    /// Share of all CPUs' time spent busy, 0..1, over the measurement interval that ended at
    /// `cpu_measured_at`. `None` until two readings at least 200 ms apart exist.
    pub cpu_utilization: Option<f64>,
    /// End of the interval `cpu_utilization` covers.
    pub cpu_measured_at: Option<Instant>,
    /// 1-minute load average (not available on Windows).
    pub load_average_1m: Option<f64>,
    /// Physical memory, bytes.
    pub memory_total: Option<u64>,
    /// Memory in use, bytes.
    pub memory_used: Option<u64>,
    /// Memory available for new allocations without swapping, bytes.
    pub memory_available: Option<u64>,
    /// This process's cgroup memory limit (v1 or v2), bytes, when one is set: the same
    /// reading as [`ContainerSample::memory_limit`], read by the cgroup probe at each pass.
    pub cgroup_memory_limit: Option<u64>,
    /// `cpu_utilization` was measured by this pass (not carried from an earlier one).
    pub(crate) cpu_fresh: bool,
}

impl HostSample {
    /// Whether this pass measured `cpu_utilization` itself. It needs 200 ms between two
    /// readings of the CPU counters: a pass sooner than that carries the last measurement,
    /// which history, windows and span figures count once, where it was fresh.
    pub fn cpu_is_fresh(&self) -> bool {
        self.cpu_fresh
    }
}

/// Figures of this process.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ProcessSample {
    /// When they were read.
    pub taken_at: Option<Instant>,
    /// This process's id.
    pub pid: u32,
    /// CPU time used so far, user plus system, seconds.
    pub cpu_time: Option<f64>,
    /// CPU time used so far in user mode, seconds.
    pub cpu_time_user: Option<f64>,
    /// CPU time used so far in the kernel on this process's behalf, seconds.
    pub cpu_time_system: Option<f64>,
    /// Resident set size, bytes.
    pub resident_memory: Option<u64>,
    /// Virtual memory size, bytes.
    pub virtual_memory: Option<u64>,
}

/// One GPU at one pass.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GpuSample {
    /// CUDA ordinal of the device among the visible ones (what `cuda:N` means to this process).
    pub index: u32,
    /// Device UUID, `GPU-...` (or `MIG-...` for a MIG instance).
    pub uuid: Arc<str>,
    /// Product name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: Arc<str>,
    /// When the device's fast tier was read ([`GpuTier::Fast`]; the other tiers have their
    /// own times, [`GpuSample::read_at`]).
    pub taken_at: Instant,
    /// Whether the device answered.
    pub state: DeviceState,
    /// Device memory allocated, bytes.
    pub memory_used: Option<u64>,
    /// Device memory free, bytes.
    pub memory_free: Option<u64>,
    /// Device memory installed, bytes.
    pub memory_total: Option<u64>,
    /// Device memory reserved by the driver and firmware, bytes.
    pub memory_reserved: Option<u64>,
    /// Share of the last sample period with a kernel running, 0..1.
    pub utilization_gpu: Option<f64>,
    /// Share of the last sample period with device memory being read or written, 0..1 (NVML's
    /// "memory utilization", nvidia-smi's `utilization.memory`). Not the share of memory in
    /// use: that is `memory_used / memory_total`, the `hw.gpu.memory.utilization` metric.
    pub memory_busy: Option<f64>,
    /// GPU die temperature, degrees Celsius.
    pub temperature: Option<f64>,
    /// Power draw, watts.
    pub power: Option<f64>,
    /// Energy used since the driver was loaded, joules.
    pub energy: Option<f64>,
    /// Device memory used by this process (its compute and graphics contexts), bytes.
    /// `Some(0)` when the process has no context on the device.
    pub process_memory: Option<u64>,
    /// Whether MIG mode is on.
    pub mig_enabled: Option<bool>,
    /// Clocks, limits, throttling and memory errors.
    pub condition: GpuCondition,
    /// What the GPU's units did over the last window of the activity tier: shared between
    /// the passes that carry one read (a pass copies a pointer, not 288 bytes per GPU).
    pub activity: Arc<GpuActivity>,
    /// Every figure that is `None` although the device answered, and why.
    pub missing: Vec<MissingField>,
    /// When each tier was read, and which this pass read itself.
    pub(crate) reads: TierReads,
}

impl GpuSample {
    /// A sample of a device that gave no figures at all.
    #[cfg(feature = "nvml")]
    pub(crate) fn empty(index: u32, uuid: Arc<str>, name: Arc<str>, state: DeviceState) -> Self {
        Self {
            index,
            uuid,
            name,
            taken_at: Instant::now(),
            state,
            memory_used: None,
            memory_free: None,
            memory_total: None,
            memory_reserved: None,
            utilization_gpu: None,
            memory_busy: None,
            temperature: None,
            power: None,
            energy: None,
            process_memory: None,
            mig_enabled: None,
            condition: GpuCondition::default(),
            activity: GpuActivity::none(),
            missing: Vec::new(),
            reads: TierReads::default(),
        }
    }

    /// When the figures of `tier` were read; `None` before their first read. A figure of a
    /// slow tier is carried from pass to pass until it is read again.
    pub fn read_at(&self, tier: GpuTier) -> Option<Instant> {
        self.reads.at(tier)
    }

    /// Whether this pass read `tier` itself. A figure carried from an earlier read is not a
    /// new reading: history, windows and span figures count it once, where it was fresh.
    pub fn is_fresh(&self, tier: GpuTier) -> bool {
        self.reads.is_fresh(tier)
    }

    /// Why `field` is missing on this sample, if it is.
    pub fn missing_reason(&self, field: GpuField) -> Option<&MissingReason> {
        self.missing
            .iter()
            .find(|m| m.field == field)
            .map(|m| &m.reason)
    }
}

/// Whether a GPU answered at this pass.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceState {
    /// The device answered.
    Ok,
    /// The device fell off the bus or is otherwise inaccessible (NVML `GPU_IS_LOST`).
    Lost,
    /// The device could not be reached for another reason.
    Error(Arc<str>),
}

/// A group of GPU figures that are missing or present together: what one read of the
/// device gives them. Most are one driver call; some take two (the SM and memory clocks),
/// and some share one batch of field values (the throttle-time and PCIe counters, ECC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GpuField {
    /// `memory_used`, `memory_free`, `memory_total`, `memory_reserved`.
    Memory,
    /// `utilization_gpu`, `memory_busy`.
    Utilization,
    /// `temperature`.
    Temperature,
    /// `power`.
    Power,
    /// `energy`.
    Energy,
    /// `process_memory`.
    ProcessMemory,
    /// `mig_enabled`.
    MigMode,
    /// `condition.clock_sm_mhz`, `condition.clock_memory_mhz`.
    Clocks,
    /// `condition.power_limit`.
    PowerLimit,
    /// `condition.temperature_slowdown`, `_shutdown`, `_gpu_max`.
    TemperatureThresholds,
    /// `condition.performance_state`.
    PerformanceState,
    /// `condition.fan_speed`.
    FanSpeed,
    /// `condition.clock_event_reasons`.
    ClockEventReasons,
    /// `condition.throttled_time`.
    ThrottledTime,
    /// `condition.encoder_utilization`.
    EncoderUtilization,
    /// `condition.decoder_utilization`.
    DecoderUtilization,
    /// `condition.pcie_rx_bytes`, `condition.pcie_tx_bytes`.
    PcieBytes,
    /// `condition.ecc_corrected`, `condition.ecc_uncorrected`.
    EccErrors,
    /// `condition.remapped_rows_*`.
    RemappedRows,
    /// `condition.retired_pages_pending`.
    RetiredPages,
    /// GPM's figures in `activity` (all but the process's share).
    Gpm,
    /// `activity.process_sm`, `activity.process_memory_busy`.
    ProcessUtilization,
}

impl GpuField {
    /// A short stable name, e.g. `"energy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuField::Memory => "memory",
            GpuField::Utilization => "utilization",
            GpuField::Temperature => "temperature",
            GpuField::Power => "power",
            GpuField::Energy => "energy",
            GpuField::ProcessMemory => "process_memory",
            GpuField::MigMode => "mig_mode",
            GpuField::Clocks => "clocks",
            GpuField::PowerLimit => "power_limit",
            GpuField::TemperatureThresholds => "temperature_thresholds",
            GpuField::PerformanceState => "performance_state",
            GpuField::FanSpeed => "fan_speed",
            GpuField::ClockEventReasons => "clock_event_reasons",
            GpuField::ThrottledTime => "throttled_time",
            GpuField::EncoderUtilization => "encoder_utilization",
            GpuField::DecoderUtilization => "decoder_utilization",
            GpuField::PcieBytes => "pcie_bytes",
            GpuField::EccErrors => "ecc_errors",
            GpuField::RemappedRows => "remapped_rows",
            GpuField::RetiredPages => "retired_pages",
            GpuField::Gpm => "gpm",
            GpuField::ProcessUtilization => "process_utilization",
        }
    }
}

/// A GPU figure that is absent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingField {
    /// Which figures.
    pub field: GpuField,
    /// Why.
    pub reason: MissingReason,
}

/// Why a GPU figure is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingReason {
    /// The device or driver does not provide it.
    NotSupported,
    /// This process may not read it.
    NoPermission,
    /// The driver call (or the read) failed.
    Failed(Arc<str>),
    /// A limit that is not set (`max`).
    NoLimit,
    /// This process runs in a PID namespace of its own (a container) and the driver's
    /// per-process figures cannot be matched to it: it lists host pids, or lists this process
    /// with 0 bytes while the device is in use. See [`PidNamespace`](crate::PidNamespace).
    PidNamespace,
    /// Its tier has not been read for longer than three of its periods (the sampler thread
    /// stopped or fell behind): the last reading is too old to stand for now.
    Stale,
    /// The device is in MIG mode: the whole GPU's figures would not be this instance's.
    Mig,
    /// The driver has no samples for it yet: a figure computed between two reads before the
    /// second, or per-process samples while no process ran on the device.
    NoSamples,
    /// The NVML library predates the call (its symbol is missing).
    DriverTooOld,
    /// The driver answered something no device can have, and it is not used: what it says
    /// (this process's entries of a process list adding up past 2^64 bytes, a list longer
    /// than the sampler reads, a negative or non-finite counter).
    Implausible(Arc<str>),
}

impl MissingReason {
    /// `not_supported`, `no_permission`, `failed`, `no_limit`, `pid_namespace`, `stale`,
    /// `mig`, `no_samples`, `driver_too_old` or `implausible`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotSupported => "not_supported",
            Self::NoPermission => "no_permission",
            Self::Failed(_) => "failed",
            Self::NoLimit => "no_limit",
            Self::PidNamespace => "pid_namespace",
            Self::Stale => "stale",
            Self::Mig => "mig",
            Self::NoSamples => "no_samples",
            Self::DriverTooOld => "driver_too_old",
            Self::Implausible(_) => "implausible",
        }
    }
}

/// Why there is, or is not, GPU data in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GpuStatus {
    /// NVML is up and at least one device is visible (each device has its own [`DeviceState`]).
    Ok,
    /// GPU sampling was switched off (`SamplerBuilder::gpu(false)` or `RESMON_GPU=0`).
    Disabled,
    /// The crate was built without its `nvml` feature.
    NotCompiled,
    /// The NVML library (`libnvidia-ml.so.1`) could not be loaded.
    NoLibrary(Arc<str>),
    /// NVML loaded, but the NVIDIA kernel driver is not running.
    DriverNotLoaded,
    /// NVML may not talk to the driver (device node permissions, container setup).
    NoPermission,
    /// NVML works but no device is visible (none installed, or `CUDA_VISIBLE_DEVICES` hides all).
    NoDevices,
    /// NVML failed to start for another reason.
    InitFailed(Arc<str>),
    /// NVML is still starting: its first call has not returned yet, and `build()` stopped
    /// waiting for it ([`SamplerBuilder::start_timeout`](crate::SamplerBuilder::start_timeout)).
    /// The figures appear once it does.
    Starting,
    /// A driver call has not returned for longer than three intervals (at least 1 s). NVML
    /// serialises every call, so every GPU figure is absent until it returns; host, process
    /// and container figures keep coming.
    Hung(HungCall),
}

/// A driver call that has not returned: which, on which GPU, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HungCall {
    /// The NVML function, e.g. `nvmlDeviceGetPowerUsage`.
    pub function: &'static str,
    /// The CUDA ordinal of the GPU it asks about; `None` for a call about no one device
    /// (`nvmlInit_v2`, `nvmlShutdown`).
    pub gpu: Option<u32>,
    /// How long it had been running when this was written.
    pub running_for: Duration,
}

impl fmt::Display for HungCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.function)?;
        if let Some(gpu) = self.gpu {
            write!(f, " on GPU {gpu}")?;
        }
        write!(
            f,
            " has not returned for {:.1} s",
            self.running_for.as_secs_f64()
        )
    }
}

impl GpuStatus {
    /// A short stable name, e.g. `"driver_not_loaded"`, for attributes and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            GpuStatus::Ok => "ok",
            GpuStatus::Disabled => "disabled",
            GpuStatus::NotCompiled => "not_compiled",
            GpuStatus::NoLibrary(_) => "no_library",
            GpuStatus::DriverNotLoaded => "driver_not_loaded",
            GpuStatus::NoPermission => "no_permission",
            GpuStatus::NoDevices => "no_devices",
            GpuStatus::InitFailed(_) => "init_failed",
            GpuStatus::Starting => "starting",
            GpuStatus::Hung(_) => "driver_hung",
        }
    }
}

impl fmt::Display for GpuStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpuStatus::Ok => f.write_str("GPU data available"),
            GpuStatus::Disabled => f.write_str("GPU sampling is switched off"),
            GpuStatus::NotCompiled => {
                f.write_str("otel-resmon was built without its `nvml` feature")
            }
            GpuStatus::NoLibrary(detail) => {
                write!(f, "the NVML library could not be loaded: {detail}")
            }
            GpuStatus::DriverNotLoaded => f.write_str("the NVIDIA driver is not loaded"),
            GpuStatus::NoPermission => f.write_str("no permission to talk to the NVIDIA driver"),
            GpuStatus::NoDevices => f.write_str("no visible GPU"),
            GpuStatus::InitFailed(detail) => write!(f, "NVML failed to start: {detail}"),
            GpuStatus::Starting => f.write_str("NVML is starting"),
            GpuStatus::Hung(call) => write!(f, "the NVIDIA driver is hung: {call}"),
        }
    }
}
