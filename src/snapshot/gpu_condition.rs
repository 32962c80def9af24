//! What explains a slow or failing GPU: clocks, limits, thresholds, clock-event (throttle)
//! reasons and the time spent throttled, codec and PCIe traffic, memory errors; and the
//! health they add up to.

use super::{DeviceState, GpuSample};

/// Clocks, limits and health figures of one GPU at one pass. Each is `None` when the device
/// does not give it; [`GpuSample::missing`](crate::GpuSample::missing) says why.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct GpuCondition {
    /// SM clock, MHz.
    pub clock_sm_mhz: Option<u32>,
    /// Memory clock, MHz.
    pub clock_memory_mhz: Option<u32>,
    /// The power limit the driver enforces now, watts.
    pub power_limit: Option<f64>,
    /// Temperature at which the GPU starts to slow down, °C.
    pub temperature_slowdown: Option<f64>,
    /// Temperature at which the GPU shuts down, °C.
    pub temperature_shutdown: Option<f64>,
    /// Highest GPU temperature before clocks may fall below base, °C.
    pub temperature_gpu_max: Option<f64>,
    /// Performance state, 0 (P0, most performance) to 15.
    pub performance_state: Option<u8>,
    /// Speed of the first fan, 0..1 of its maximum; `None` on a board without a fan.
    pub fan_speed: Option<f64>,
    /// Why clocks are held low now.
    pub clock_event_reasons: Option<ClockEventReasons>,
    /// Time throttled since the driver loaded, seconds, by cause.
    pub throttled_time: ThrottledTime,
    /// Share of the last sample period the video encoder was busy, 0..1.
    pub encoder_utilization: Option<f64>,
    /// Share of the last sample period the video decoder was busy, 0..1.
    pub decoder_utilization: Option<f64>,
    /// PCIe bytes received since the driver loaded (the counter may wrap).
    pub pcie_rx_bytes: Option<u64>,
    /// PCIe bytes transmitted since the driver loaded (the counter may wrap).
    pub pcie_tx_bytes: Option<u64>,
    /// Corrected (single-bit) ECC errors since the driver loaded.
    pub ecc_corrected: Option<u64>,
    /// Uncorrected (double-bit) ECC errors since the driver loaded.
    pub ecc_uncorrected: Option<u64>,
    /// Rows of device memory remapped after corrected errors.
    pub remapped_rows_corrected: Option<u64>,
    /// Rows of device memory remapped after uncorrected errors.
    pub remapped_rows_uncorrected: Option<u64>,
    /// Whether a row remapping waits for the next reset.
    pub remapped_rows_pending: Option<bool>,
    /// Whether a row remapping failed.
    pub remapped_rows_failure: Option<bool>,
    /// Whether retired pages wait for the next reset.
    pub retired_pages_pending: Option<bool>,
    /// XID errors since the sampler started watching; `None` when it does not watch
    /// ([`Sampler::xid_status`](crate::sampler::Sampler::xid_status) says why).
    pub xid_errors: Option<u64>,
    /// Whether an XID 79 (the GPU fell off the bus) arrived.
    pub fell_off_the_bus: bool,
}

/// Cumulative time a GPU spent throttled, seconds, by cause, where the driver counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct ThrottledTime {
    /// Held under the power limit (`sw_power_cap`).
    pub power_cap: Option<f64>,
    /// Slowed by the driver for temperature (`sw_thermal_slowdown`).
    pub sw_thermal: Option<f64>,
    /// Slowed by the hardware for temperature (`hw_thermal_slowdown`).
    pub hw_thermal: Option<f64>,
    /// Slowed by an external power brake (`hw_power_brake_slowdown`).
    pub power_brake: Option<f64>,
}

impl ThrottledTime {
    /// The sum over the causes the driver counts; `None` when it counts none.
    pub fn total(&self) -> Option<f64> {
        [
            self.power_cap,
            self.sw_thermal,
            self.hw_thermal,
            self.power_brake,
        ]
        .into_iter()
        .flatten()
        .reduce(|a, b| a + b)
    }

    fn causes(&self) -> [Option<f64>; 4] {
        [
            self.power_cap,
            self.sw_thermal,
            self.hw_thermal,
            self.power_brake,
        ]
    }

    /// The time throttled from `start` to `self`, over the causes counted at both: a cause
    /// the driver did not answer at one end adds nothing (its whole count since the driver
    /// loaded is no part of a span). `None` when no cause is counted at both, or when one of
    /// them went backwards (the driver re-initialised).
    pub(crate) fn rise_since(&self, start: &ThrottledTime) -> Option<f64> {
        let mut rise = None;
        for (s, e) in start.causes().into_iter().zip(self.causes()) {
            if let (Some(s), Some(e)) = (s, e) {
                if e < s {
                    return None;
                }
                rise = Some(rise.unwrap_or(0.0) + (e - s));
            }
        }
        rise
    }
}

/// NVML's clock-event (throttle) reason bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClockEventReasons(pub u64);

/// Every reason with its bit, named as dcgm-exporter's `clock_event` label names them.
pub const CLOCK_EVENT_REASONS: [(u64, &str); 9] = [
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
];

impl ClockEventReasons {
    /// Whether the reason with this bit is set.
    pub fn contains(self, bit: u64) -> bool {
        self.0 & bit != 0
    }

    /// The names of the reasons set, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        CLOCK_EVENT_REASONS
            .into_iter()
            .filter(move |(bit, _)| self.contains(*bit))
            .map(|(_, name)| name)
    }

    /// The reasons that slow a busy GPU: every one but `gpu_idle`.
    pub fn slowing(self) -> Self {
        Self(self.0 & !0x1)
    }
}

/// A GPU's health, as the conventions' `hw.state` values name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum GpuHealth {
    /// Nothing below applies.
    Ok,
    /// Remapped rows or retired pages wait for a reset: the memory is wearing out.
    PredictedFailure,
    /// A row remapping failed, uncorrected ECC errors were counted, or the device did not
    /// answer for a reason other than being lost.
    Degraded,
    /// The device fell off the bus (NVML `GPU_IS_LOST`).
    Failed,
}

impl GpuHealth {
    /// The `hw.state` value: `ok`, `predicted_failure`, `degraded` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            GpuHealth::Ok => "ok",
            GpuHealth::PredictedFailure => "predicted_failure",
            GpuHealth::Degraded => "degraded",
            GpuHealth::Failed => "failed",
        }
    }

    /// Every value, for metrics that report one series per state.
    pub const ALL: [GpuHealth; 4] = [
        GpuHealth::Ok,
        GpuHealth::PredictedFailure,
        GpuHealth::Degraded,
        GpuHealth::Failed,
    ];
}

impl GpuSample {
    /// The device's health from this sample, by these rules, the worst that applies:
    /// - lost (fell off the bus), or an XID 79 arrived → `failed`;
    /// - unreachable for another reason, a failed row remapping, or uncorrected ECC errors
    ///   counted since the driver loaded → `degraded`;
    /// - rows waiting to be remapped or pages waiting to be retired → `predicted_failure`;
    /// - otherwise `ok`. A figure the device does not give counts as nothing found.
    #[inline]
    pub fn health(&self) -> GpuHealth {
        let c = &self.condition;
        if c.fell_off_the_bus {
            return GpuHealth::Failed;
        }
        match self.state {
            DeviceState::Lost => return GpuHealth::Failed,
            DeviceState::Error(_) => return GpuHealth::Degraded,
            DeviceState::Ok => {}
        }
        if c.remapped_rows_failure == Some(true) || c.ecc_uncorrected.is_some_and(|n| n > 0) {
            GpuHealth::Degraded
        } else if c.remapped_rows_pending == Some(true) || c.retired_pages_pending == Some(true) {
            GpuHealth::PredictedFailure
        } else {
            GpuHealth::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn throttled() -> impl Strategy<Value = ThrottledTime> {
        let cause = || proptest::option::of(0.0..1.0e6f64);
        (cause(), cause(), cause(), cause()).prop_map(|(a, b, c, d)| ThrottledTime {
            power_cap: a,
            sw_thermal: b,
            hw_thermal: c,
            power_brake: d,
        })
    }

    #[test]
    fn a_cause_counted_at_one_end_adds_nothing() {
        let start = ThrottledTime {
            power_cap: Some(1.0),
            ..Default::default()
        };
        let end = ThrottledTime {
            power_cap: Some(2.0),
            sw_thermal: Some(100.0),
            ..Default::default()
        };
        assert_eq!(end.rise_since(&start), Some(1.0));
        assert_eq!(start.rise_since(&end), None, "backwards: nothing");
        assert_eq!(end.rise_since(&ThrottledTime::default()), None);
    }

    proptest! {
        /// The rise is the sum of the causes counted at both ends, never negative.
        #[test]
        fn the_rise_is_over_the_causes_at_both_ends(s in throttled(), e in throttled()) {
            let both: Vec<(f64, f64)> = s.causes().into_iter().zip(e.causes())
                .filter_map(|(s, e)| s.zip(e)).collect();
            match e.rise_since(&s) {
                Some(r) => {
                    prop_assert!(!both.is_empty() && both.iter().all(|(s, e)| e >= s));
                    let want: f64 = both.iter().map(|(s, e)| e - s).sum();
                    prop_assert!((r - want).abs() <= 1e-9 * want.max(1.0));
                }
                None => prop_assert!(both.is_empty() || both.iter().any(|(s, e)| e < s)),
            }
        }
    }
}
