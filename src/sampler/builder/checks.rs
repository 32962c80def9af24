//! The checks and parsers of the builder's values: each error names the setting and the
//! value it refused.

use std::time::Duration;

use super::DEFAULT_HISTORY_SPAN;
use crate::error::Error;

pub(super) fn invalid(
    setting: &'static str,
    value: impl Into<String>,
    reason: &'static str,
) -> Error {
    Error::InvalidSetting {
        setting,
        value: value.into(),
        reason,
    }
}

pub(super) fn parse_number(setting: &'static str, value: &str) -> Result<u64, Error> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(setting, value, "must be a whole number"))
}

pub(super) fn parse_switch(setting: &'static str, value: &str) -> Result<bool, Error> {
    crate::env::switch(value).ok_or_else(|| {
        invalid(
            setting,
            value,
            "must be one of 1, 0, true, false, on, off, yes, no",
        )
    })
}

pub(super) fn check_interval(
    setting: &'static str,
    interval: Duration,
    shown: impl FnOnce() -> String,
) -> Result<Duration, Error> {
    if interval < Duration::from_millis(1) {
        return Err(invalid(setting, shown(), "must be at least 1 ms"));
    }
    if interval > Duration::from_secs(3600) {
        return Err(invalid(setting, shown(), "must be at most one hour"));
    }
    Ok(interval)
}

/// GPM reads 0 over shorter windows.
const MIN_ACTIVITY_INTERVAL: Duration = Duration::from_millis(200);

pub(super) fn check_activity(
    setting: &'static str,
    d: Duration,
    shown: impl Fn() -> String,
) -> Result<Duration, Error> {
    check_interval(setting, d, &shown)?;
    if d < MIN_ACTIVITY_INTERVAL {
        return Err(invalid(
            setting,
            shown(),
            "must be at least 200 ms (GPM reads 0 over shorter windows)",
        ));
    }
    Ok(d)
}

pub(super) fn check_history(
    setting: &'static str,
    n: usize,
    shown: String,
) -> Result<usize, Error> {
    match n {
        0 => Err(invalid(setting, shown, "must keep at least 1 snapshot")),
        n if n > 1_000_000 => Err(invalid(setting, shown, "must be at most 1000000 snapshots")),
        n => Ok(n),
    }
}

pub(super) fn default_history(interval: Duration) -> usize {
    let n = DEFAULT_HISTORY_SPAN
        .as_nanos()
        .div_ceil(interval.as_nanos());
    n.clamp(16, 100_000) as usize
}
