//! [`SamplerBuilder`]: the sampler's settings, from code first, then the environment.

use std::path::PathBuf;
use std::time::Duration;

use super::history::{check_levels, default_levels, parse_levels, HistoryLevel};
use super::warning::{Warning, WarningSink};
use super::Sampler;
use crate::error::Error;

mod bounds;
mod checks;
mod rates;
pub(crate) use bounds::Bounds;
pub use bounds::{
    DEFAULT_DRIVER_DEADLINE, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_START_TIMEOUT,
    ENV_DRIVER_DEADLINE_MS, ENV_SHUTDOWN_TIMEOUT_MS, ENV_START_TIMEOUT_MS,
};
use checks::{
    check_activity, check_history, check_interval, default_history, invalid, parse_number,
    parse_switch,
};
pub(crate) use rates::TierRates;

/// Default time between two passes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
/// How much time the default history covers.
pub const DEFAULT_HISTORY_SPAN: Duration = Duration::from_secs(120);

/// Environment variable: interval between passes, milliseconds.
pub const ENV_INTERVAL_MS: &str = "RESMON_INTERVAL_MS";
/// Environment variable: number of snapshots kept in the history.
pub const ENV_HISTORY: &str = "RESMON_HISTORY";
/// Environment variable: the history's levels, `width/horizon` pairs (`1s/3m,10s/1h`) or
/// `none` (see [`SamplerBuilder::levels`]).
pub const ENV_HISTORY_LEVELS: &str = "RESMON_HISTORY_LEVELS";
/// Environment variable: `0`/`false`/`off` switches GPU sampling off.
pub const ENV_GPU: &str = "RESMON_GPU";
/// Environment variable: read the cgroup under this directory (see
/// [`SamplerBuilder::cgroup_root`]).
pub const ENV_CGROUP_ROOT: &str = "RESMON_CGROUP_ROOT";
/// Environment variable: path of the NVML library to load.
pub const ENV_NVML_LIB: &str = "RESMON_NVML_LIB";
/// Environment variable: CUDA's device selection, honoured as CUDA does.
pub const ENV_CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";
/// Environment variable: CUDA's device order (`PCI_BUS_ID` or the default `FASTEST_FIRST`).
pub const ENV_CUDA_DEVICE_ORDER: &str = "CUDA_DEVICE_ORDER";

/// Builds a [`Sampler`]. A setting made here wins over its environment variable, which wins
/// over the default.
///
/// ```
/// use std::time::Duration;
/// let sampler = otel_resmon::Sampler::builder()
///     .interval(Duration::from_millis(500))
///     .gpu(false)
///     .build()?;
/// assert_eq!(sampler.interval(), Duration::from_millis(500));
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct SamplerBuilder {
    interval: Option<Duration>,
    history: Option<usize>,
    levels: Option<Vec<HistoryLevel>>,
    gpu: Option<bool>,
    gpu_counters_interval: Option<Duration>,
    gpu_health_interval: Option<Duration>,
    gpu_activity_interval: Option<Duration>,
    nvml_library: Option<PathBuf>,
    visible_devices: Option<String>,
    on_warning: Option<WarningSink>,
    ignore_env: bool,
    cgroup_root: Option<PathBuf>,
    bounds: bounds::BoundsInCode,
}

impl std::fmt::Debug for SamplerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamplerBuilder")
            .field("interval", &self.interval)
            .field("history", &self.history)
            .field("levels", &self.levels)
            .field("gpu", &self.gpu)
            .field("gpu_counters_interval", &self.gpu_counters_interval)
            .field("gpu_health_interval", &self.gpu_health_interval)
            .field("gpu_activity_interval", &self.gpu_activity_interval)
            .field("nvml_library", &self.nvml_library)
            .field("visible_devices", &self.visible_devices)
            .field("on_warning", &self.on_warning.as_ref().map(|_| ".."))
            .field("ignore_env", &self.ignore_env)
            .field("cgroup_root", &self.cgroup_root)
            .field("bounds", &self.bounds)
            .finish()
    }
}

/// Default time between two reads of a GPU's energy, throttle-time and PCIe counters.
pub const DEFAULT_GPU_COUNTERS_INTERVAL: Duration = Duration::from_secs(10);
/// Default time between two reads of a GPU's health figures (power limit, ECC errors,
/// remapped rows, retired pages).
pub const DEFAULT_GPU_HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// Default time between two reads of a GPU's activity figures (GPM, this process's share)
/// with up to four GPUs; beyond, [`GPU_ACTIVITY_INTERVAL_PER_GPU`] per GPU, so the reads'
/// cost stays the same whatever the number of GPUs.
pub const DEFAULT_GPU_ACTIVITY_INTERVAL: Duration = Duration::from_secs(10);
/// The default activity interval per GPU beyond four (20 s with eight GPUs).
pub const GPU_ACTIVITY_INTERVAL_PER_GPU: Duration = Duration::from_millis(2500);
/// Environment variable: time between two reads of a GPU's activity figures, milliseconds.
pub const ENV_GPU_ACTIVITY_INTERVAL_MS: &str = "RESMON_GPU_ACTIVITY_INTERVAL_MS";
/// The variables [`SamplerBuilder::build`] reads as text (UTF-8): every one `resolve` reads.
/// The two paths, `RESMON_NVML_LIB` and `RESMON_CGROUP_ROOT`, are read as paths.
const TEXT_VARIABLES: [&str; 12] = [
    ENV_DRIVER_DEADLINE_MS,
    ENV_START_TIMEOUT_MS,
    ENV_SHUTDOWN_TIMEOUT_MS,
    ENV_INTERVAL_MS,
    ENV_HISTORY,
    ENV_HISTORY_LEVELS,
    ENV_GPU,
    ENV_GPU_COUNTERS_INTERVAL_MS,
    ENV_GPU_HEALTH_INTERVAL_MS,
    ENV_GPU_ACTIVITY_INTERVAL_MS,
    ENV_CUDA_VISIBLE_DEVICES,
    ENV_CUDA_DEVICE_ORDER,
];
/// Environment variable: time between two reads of a GPU's counters, milliseconds.
pub const ENV_GPU_COUNTERS_INTERVAL_MS: &str = "RESMON_GPU_COUNTERS_INTERVAL_MS";
/// Environment variable: time between two reads of a GPU's health figures, milliseconds.
pub const ENV_GPU_HEALTH_INTERVAL_MS: &str = "RESMON_GPU_HEALTH_INTERVAL_MS";

/// The resolved settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) interval: Duration,
    pub(crate) history: usize,
    pub(crate) levels: Vec<HistoryLevel>,
    pub(crate) gpu: bool,
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) rates: TierRates,
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) nvml_library: Option<PathBuf>,
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) visible_devices: Option<String>,
    /// `CUDA_DEVICE_ORDER`, as CUDA reads it.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) cuda_device_order: Option<String>,
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) cgroup_root: Option<PathBuf>,
    /// The bounds on every wait for the driver.
    pub(crate) bounds: Bounds,
}

impl SamplerBuilder {
    /// Time between two passes (default 200 ms; `RESMON_INTERVAL_MS`). Must be at least 1 ms.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Number of interval passes kept raw for [`Sampler::window`] and span figures (default:
    /// enough for 2 minutes at the interval; `RESMON_HISTORY`); as many passes asked for by
    /// [`Sampler::sample_now`] are kept beside them, so those never shorten the time the
    /// interval passes cover. Memory use is bounded by it.
    pub fn history(mut self, snapshots: usize) -> Self {
        self.history = Some(snapshots);
        self
    }

    /// The history's levels beyond the raw passes, finest first (`RESMON_HISTORY_LEVELS`,
    /// e.g. `1s/3m,10s/1h,10m/24h`, or `none`). Default: buckets of 5 intervals (at most
    /// 1 s) for 180 buckets, 10 s buckets for an hour, 10 min buckets for a day, leaving out
    /// a level not wider than the interval. An empty list keeps raw passes only.
    ///
    /// Each level must have wider buckets and a longer horizon than the one before, buckets
    /// of at least 1 ms, and at most 100 000 buckets; at most 8 levels.
    pub fn levels(mut self, levels: impl IntoIterator<Item = HistoryLevel>) -> Self {
        self.levels = Some(levels.into_iter().collect());
        self
    }

    /// Samples GPUs or not (default on when the `nvml` feature is built; `RESMON_GPU`).
    pub fn gpu(mut self, on: bool) -> Self {
        self.gpu = Some(on);
        self
    }

    /// Time between two reads of each GPU's energy, throttle-time and PCIe byte counters
    /// (default 10 s; `RESMON_GPU_COUNTERS_INTERVAL_MS`). On an H200 they cost 4.7 ms of
    /// driver time a GPU, so they are not read every pass: the sampler thread makes one such
    /// read after a pass, spread over GPUs and passes, and never while a caller waits. From
    /// 1 ms to one hour; below the interval it means "as often as passes allow".
    pub fn gpu_counters_interval(mut self, every: Duration) -> Self {
        self.gpu_counters_interval = Some(every);
        self
    }

    /// Time between two reads of each GPU's power limit, ECC errors, remapped rows and
    /// retired pages (default 30 s; `RESMON_GPU_HEALTH_INTERVAL_MS`). From 1 ms to one hour.
    pub fn gpu_health_interval(mut self, every: Duration) -> Self {
        self.gpu_health_interval = Some(every);
        self
    }

    /// Time between two reads of each GPU's activity figures: GPM's SM, tensor, DRAM and
    /// link figures (Hopper and newer) and this process's share of the device
    /// (`RESMON_GPU_ACTIVITY_INTERVAL_MS`). Each figure is the mean over the time since the
    /// last read, and a span gets the windows that lie within it, so a shorter interval
    /// gives shorter spans these figures. On an H200 a read costs about 4 ms of driver time
    /// a GPU (GPM's sample and metrics 1.65 ms, the per-process samples 2.1 ms). Default
    /// 10 s with up to four GPUs, 2.5 s per GPU beyond (20 s with eight), which keeps the
    /// sampler within 0.3 % of a core with one GPU and 1 % with eight (at 5 s, one GPU read
    /// 0.27-0.30 %: too close). From 200 ms (GPM reads 0 over shorter windows) to one hour.
    pub fn gpu_activity_interval(mut self, every: Duration) -> Self {
        self.gpu_activity_interval = Some(every);
        self
    }

    /// Reads this process's cgroup under `root` instead of `/`: `root/proc/self/cgroup` and
    /// `root/proc/self/mountinfo`, and the cgroup mounts they name, under `root` too (a copy
    /// of another machine's files, as the tests use; `RESMON_CGROUP_ROOT`).
    pub fn cgroup_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.cgroup_root = Some(root.into());
        self
    }

    /// Loads NVML from this path instead of `libnvidia-ml.so.1` (`RESMON_NVML_LIB`).
    pub fn nvml_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.nvml_library = Some(path.into());
        self
    }

    /// Which devices are visible and in which order, with `CUDA_VISIBLE_DEVICES` syntax
    /// (ordinals, `GPU-` UUIDs or unique prefixes, `MIG-` UUIDs); default: the variable itself,
    /// or every device. Ordinals follow PCI bus order, as CUDA does with
    /// `CUDA_DEVICE_ORDER=PCI_BUS_ID`.
    pub fn visible_devices(mut self, devices: impl Into<String>) -> Self {
        self.visible_devices = Some(devices.into());
        self
    }

    /// Sends warnings here instead of to `tracing` (or stderr when no subscriber is set).
    /// Called from the sampler thread, once per distinct warning.
    pub fn on_warning(mut self, sink: impl Fn(&Warning) + Send + Sync + 'static) -> Self {
        self.on_warning = Some(std::sync::Arc::new(sink));
        self
    }

    /// With `true`, reads no environment variable: only this builder's settings and the
    /// defaults count (default `false`).
    pub fn ignore_env(mut self, on: bool) -> Self {
        self.ignore_env = on;
        self
    }

    /// Checks the settings, takes the first snapshot and starts the sampler thread. An empty
    /// `RESMON_*` variable counts as unset (as the OpenTelemetry specification says of its
    /// own); `CUDA_VISIBLE_DEVICES` set but empty hides every GPU, as in CUDA.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming the setting for a bad value (out of range, not a
    /// number, not UTF-8; `RESMON_NVML_LIB` may be any path), [`Error::Spawn`] if the
    /// thread cannot start. A missing GPU, driver or permission is not an error: it is the
    /// snapshot's [`GpuStatus`](crate::snapshot::GpuStatus).
    pub fn build(self) -> Result<Sampler, Error> {
        let mut builder = self;
        let settings = if builder.ignore_env {
            builder.resolve(|_| None)?
        } else {
            // A library path need not be UTF-8: it is read as a path, every other variable as
            // text (which must be UTF-8).
            if builder.cgroup_root.is_none() {
                builder.cgroup_root = std::env::var_os(ENV_CGROUP_ROOT)
                    .filter(|p| !p.to_string_lossy().trim().is_empty())
                    .map(PathBuf::from);
            }
            if builder.nvml_library.is_none() {
                builder.nvml_library = std::env::var_os(ENV_NVML_LIB)
                    .filter(|p| !p.to_string_lossy().trim().is_empty())
                    .map(PathBuf::from);
            }
            let env = crate::env::read(&TEXT_VARIABLES)?;
            builder.resolve(|name| env.get(name).cloned())?
        };
        let sink = builder
            .on_warning
            .unwrap_or_else(super::warning::default_sink);
        Sampler::start(settings, sink)
    }

    pub(crate) fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        // Empty means unset for the crate's variables (CUDA_VISIBLE_DEVICES keeps CUDA's
        // meaning: set but empty hides every device).
        let var = |name: &str| crate::env::non_empty(env(name));
        let interval = match (self.interval, var(ENV_INTERVAL_MS)) {
            (Some(d), _) => check_interval("SamplerBuilder::interval", d, || format!("{d:?}"))?,
            (None, Some(v)) => {
                let ms = parse_number(ENV_INTERVAL_MS, &v)?;
                check_interval(ENV_INTERVAL_MS, Duration::from_millis(ms), || v.clone())?
            }
            (None, None) => DEFAULT_INTERVAL,
        };
        let history = match (self.history, var(ENV_HISTORY)) {
            (Some(n), _) => check_history("SamplerBuilder::history", n, n.to_string())?,
            (None, Some(v)) => {
                let n = parse_number(ENV_HISTORY, &v)?;
                check_history(ENV_HISTORY, n as usize, v)?
            }
            (None, None) => default_history(interval),
        };
        let raw_time = interval.saturating_mul(u32::try_from(history).unwrap_or(u32::MAX));
        let levels = match (&self.levels, var(ENV_HISTORY_LEVELS)) {
            (Some(l), _) => check_levels("SamplerBuilder::levels", l.clone(), raw_time, || {
                format!("{l:?}")
            })?,
            (None, Some(v)) => {
                let l = parse_levels(ENV_HISTORY_LEVELS, &v)?;
                check_levels(ENV_HISTORY_LEVELS, l, raw_time, || v.clone())?
            }
            (None, None) => default_levels(interval, history),
        };
        let gpu = match (self.gpu, var(ENV_GPU)) {
            (Some(on), _) => on,
            (None, Some(v)) => parse_switch(ENV_GPU, &v)?,
            (None, None) => true,
        };
        let tier =
            |code: Option<Duration>, setting: &'static str, env: &'static str, default| match (
                code,
                var(env),
            ) {
                (Some(d), _) => check_interval(setting, d, || format!("{d:?}")),
                (None, Some(v)) => {
                    let ms = parse_number(env, &v)?;
                    check_interval(env, Duration::from_millis(ms), || v.clone())
                }
                (None, None) => Ok(default),
            };
        let rates = TierRates {
            counters: tier(
                self.gpu_counters_interval,
                "SamplerBuilder::gpu_counters_interval",
                ENV_GPU_COUNTERS_INTERVAL_MS,
                DEFAULT_GPU_COUNTERS_INTERVAL,
            )?,
            health: tier(
                self.gpu_health_interval,
                "SamplerBuilder::gpu_health_interval",
                ENV_GPU_HEALTH_INTERVAL_MS,
                DEFAULT_GPU_HEALTH_INTERVAL,
            )?,
            activity: match (
                self.gpu_activity_interval,
                var(ENV_GPU_ACTIVITY_INTERVAL_MS),
            ) {
                (Some(d), _) => Some(check_activity(
                    "SamplerBuilder::gpu_activity_interval",
                    d,
                    || format!("{d:?}"),
                )?),
                (None, Some(v)) => {
                    let ms = parse_number(ENV_GPU_ACTIVITY_INTERVAL_MS, &v)?;
                    Some(check_activity(
                        ENV_GPU_ACTIVITY_INTERVAL_MS,
                        Duration::from_millis(ms),
                        || v.clone(),
                    )?)
                }
                (None, None) => None,
            },
            interval,
        };
        let nvml_library = match (&self.nvml_library, var(ENV_NVML_LIB)) {
            (Some(p), _) if p.as_os_str().is_empty() => {
                return Err(invalid(
                    "SamplerBuilder::nvml_library",
                    "",
                    "must be a path to the NVML library",
                ))
            }
            (Some(p), _) => Some(p.clone()),
            (None, Some(v)) => Some(PathBuf::from(v)),
            (None, None) => None,
        };
        let visible_devices = self
            .visible_devices
            .clone()
            .or_else(|| env(ENV_CUDA_VISIBLE_DEVICES));
        Ok(Settings {
            bounds: self.bounds.resolve(&var)?,
            cuda_device_order: var(ENV_CUDA_DEVICE_ORDER),
            interval,
            history,
            levels,
            gpu,
            rates,
            nvml_library,
            visible_devices,
            cgroup_root: match &self.cgroup_root {
                Some(root) if !root.join("proc/self/cgroup").is_file() => {
                    return Err(Error::InvalidSetting {
                        setting: "SamplerBuilder::cgroup_root / RESMON_CGROUP_ROOT",
                        value: root.to_string_lossy().into_owned(),
                        reason:
                            "must be a directory holding proc/self/cgroup and proc/self/mountinfo",
                    });
                }
                other => other.clone(),
            },
        })
    }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
