//! The bounds on every wait for the driver: how long a pass (and a `sample_now` caller)
//! waits for the GPUs' fast tier, `build()` for NVML to open, and shutdown for the sampler's
//! threads to end. A driver call that hangs costs at most these, never more.

use std::time::Duration;

use super::{invalid, parse_number, SamplerBuilder};
use crate::error::Error;

/// Default longest wait for the GPUs' fast tier in a pass, and so for
/// [`Sampler::sample_now`](crate::Sampler::sample_now). Measured at an H200's call costs the
/// fast tier takes about 0.08 ms with one GPU and 0.43 ms with eight (BENCHMARKS.md; a real
/// H200 answers it in 0.04 ms a GPU): 5 ms is ten times eight GPUs' read, and still short
/// against any request.
pub const DEFAULT_DRIVER_DEADLINE: Duration = Duration::from_millis(5);
/// Default longest wait of [`SamplerBuilder::build`] for NVML to open (loading the library,
/// listing the devices, their first reads, the XID watcher's registration).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest wait of [`Sampler::shutdown`](crate::Sampler::shutdown) (and of dropping
/// the last clone) for the sampler's threads to end.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Environment variable: the driver deadline, milliseconds (see
/// [`SamplerBuilder::driver_deadline`]).
pub const ENV_DRIVER_DEADLINE_MS: &str = "RESMON_DRIVER_DEADLINE_MS";
/// Environment variable: the start timeout, milliseconds (see
/// [`SamplerBuilder::start_timeout`]).
pub const ENV_START_TIMEOUT_MS: &str = "RESMON_START_TIMEOUT_MS";
/// Environment variable: the shutdown timeout, milliseconds (see
/// [`SamplerBuilder::shutdown_timeout`]).
pub const ENV_SHUTDOWN_TIMEOUT_MS: &str = "RESMON_SHUTDOWN_TIMEOUT_MS";

/// The bounds on every wait for the driver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// The longest a pass (and so a `sample_now` caller) waits for the GPUs' fast tier.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) deadline: Duration,
    /// The longest `build()` waits for NVML to open.
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    pub(crate) start: Duration,
    /// The longest shutdown waits for the threads to end.
    pub(crate) shutdown: Duration,
}

/// One bound: its builder method, variable, default and range.
struct Bound {
    setting: &'static str,
    env: &'static str,
    default: Duration,
    min: Duration,
    max: Duration,
    range: &'static str,
}

const DEADLINE: Bound = Bound {
    setting: "SamplerBuilder::driver_deadline",
    env: ENV_DRIVER_DEADLINE_MS,
    default: DEFAULT_DRIVER_DEADLINE,
    min: Duration::from_millis(1),
    max: Duration::from_secs(10),
    range: "must be from 1 ms to 10 s",
};

const START: Bound = Bound {
    setting: "SamplerBuilder::start_timeout",
    env: ENV_START_TIMEOUT_MS,
    default: DEFAULT_START_TIMEOUT,
    min: Duration::ZERO,
    max: Duration::from_secs(600),
    range: "must be at most 600 s",
};

const SHUTDOWN: Bound = Bound {
    setting: "SamplerBuilder::shutdown_timeout",
    env: ENV_SHUTDOWN_TIMEOUT_MS,
    default: DEFAULT_SHUTDOWN_TIMEOUT,
    min: Duration::ZERO,
    max: Duration::from_secs(600),
    range: "must be at most 600 s",
};

impl Bound {
    fn resolve(
        &self,
        code: Option<Duration>,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<Duration, Error> {
        let (d, shown) = match (code, var(self.env)) {
            (Some(d), _) => (d, format!("{d:?}")),
            (None, Some(v)) => (Duration::from_millis(parse_number(self.env, &v)?), v),
            (None, None) => return Ok(self.default),
        };
        let setting = if code.is_some() {
            self.setting
        } else {
            self.env
        };
        if d < self.min || d > self.max {
            return Err(invalid(setting, shown, self.range));
        }
        Ok(d)
    }
}

impl SamplerBuilder {
    /// The longest a pass waits for the GPUs' fast tier before it carries their last figures
    /// (default 5 ms; `RESMON_DRIVER_DEADLINE_MS`; from 1 ms to 10 s). A caller of
    /// [`Sampler::sample_now`](crate::Sampler::sample_now) (and so `so_far_exact`, spans with
    /// `resmon.sample_now` and the report) waits at most this long, then gets the latest
    /// snapshot. Once a driver call has run longer than this, passes and callers stop
    /// waiting for it at all.
    pub fn driver_deadline(mut self, deadline: Duration) -> Self {
        self.bounds.deadline = Some(deadline);
        self
    }

    /// The longest [`build`](SamplerBuilder::build) waits for NVML to open (default 5 s;
    /// `RESMON_START_TIMEOUT_MS`; at most 600 s). Past it, `build` returns and the GPU
    /// figures are absent (status `starting`, then `driver_hung` with the call) until
    /// NVML opens, then appear.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.bounds.start = Some(timeout);
        self
    }

    /// The longest [`Sampler::shutdown`](crate::Sampler::shutdown), or dropping the last
    /// clone, waits for the sampler's threads to end (default 2 s;
    /// `RESMON_SHUTDOWN_TIMEOUT_MS`; at most 600 s). A thread stuck in a driver call is left
    /// behind, and shutdown names the call.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.bounds.shutdown = Some(timeout);
        self
    }
}

/// The bounds set in code, before the environment and the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct BoundsInCode {
    deadline: Option<Duration>,
    start: Option<Duration>,
    shutdown: Option<Duration>,
}

impl BoundsInCode {
    pub(super) fn resolve(&self, var: &impl Fn(&str) -> Option<String>) -> Result<Bounds, Error> {
        Ok(Bounds {
            deadline: DEADLINE.resolve(self.deadline, var)?,
            start: START.resolve(self.start, var)?,
            shutdown: SHUTDOWN.resolve(self.shutdown, var)?,
        })
    }
}
