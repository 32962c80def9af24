//! The kernel's cgroup file formats (`Documentation/admin-guide/cgroup-v2.rst` and the v1
//! documents), each a pure function of the file's text.

/// A v1 limit at or above this is the kernel's "unlimited" (`PAGE_COUNTER_MAX` pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// A single number (`memory.current`, `memory.usage_in_bytes`, `cpuacct.usage`).
pub(crate) fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A limit: `Some(None)` when it is `max` (v2) or the v1 "unlimited" value.
pub(crate) fn limit(text: &str) -> Option<Option<u64>> {
    let text = text.trim();
    if text == "max" {
        return Some(None);
    }
    let v: u64 = text.parse().ok()?;
    Some((v < V1_UNLIMITED).then_some(v))
}

/// The value of `key` in a flat-keyed file (`memory.stat`, `memory.events`, `cpu.stat`,
/// `memory.oom_control`): lines of `key value`.
pub(crate) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// v2 `cpu.max`: `$MAX $PERIOD`; the quota in cores, `Some(None)` for `max`.
pub(crate) fn cpu_max(text: &str) -> Option<Option<f64>> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" {
        return Some(None);
    }
    let quota: f64 = quota.parse().ok()?;
    (period > 0.0).then_some(Some(quota / period))
}

/// v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`: the quota in cores, `Some(None)` for -1.
pub(crate) fn cfs_quota(quota: &str, period: &str) -> Option<Option<f64>> {
    let quota: i64 = quota.trim().parse().ok()?;
    let period: f64 = period.trim().parse().ok()?;
    if quota < 0 {
        return Some(None);
    }
    (period > 0.0).then_some(Some(quota as f64 / period))
}

/// PSI `some avg10` of a pressure file, as a fraction 0..1 (the file gives percent).
pub(crate) fn pressure_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    let avg10 = line
        .split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?;
    avg10.parse::<f64>().ok().map(|p| p / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_max_and_v1_unlimited_as_none() {
        assert_eq!(limit("max\n"), Some(None));
        assert_eq!(limit("4294967296\n"), Some(Some(4 << 30)));
        assert_eq!(limit("9223372036854771712\n"), Some(None));
        assert_eq!(limit("garbage"), None);
    }

    #[test]
    fn cpu_quotas_in_cores() {
        assert_eq!(cpu_max("max 100000\n"), Some(None));
        assert_eq!(cpu_max("250000 100000\n"), Some(Some(2.5)));
        assert_eq!(cfs_quota("-1\n", "100000\n"), Some(None));
        assert_eq!(cfs_quota("50000\n", "100000\n"), Some(Some(0.5)));
    }

    #[test]
    fn keyed_files_and_pressure() {
        let stat = "usage_usec 1000\nnr_periods 20\nnr_throttled 3\nthrottled_usec 4500\n";
        assert_eq!(keyed(stat, "nr_throttled"), Some(3));
        assert_eq!(keyed(stat, "throttled_usec"), Some(4500));
        assert_eq!(keyed(stat, "nr_bursts"), None);
        let psi = "some avg10=12.50 avg60=1.00 avg300=0.10 total=123\nfull avg10=2.00 avg60=0.00 avg300=0.00 total=9\n";
        assert_eq!(pressure_some_avg10(psi), Some(0.125));
    }
}
