//! The activity tier's conversions of driver answers and its clock marks.

use super::*;
use proptest::prelude::*;

/// Floats as a driver may answer them: ordinary, out of range, not finite.
fn answer() -> impl Strategy<Value = Option<f64>> {
    proptest::option::of(prop_oneof![
        -1.0e3..2.0e3f64,
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any GPM answers give shares within 0..1 and finite, non-negative rates, or none.
    #[test]
    fn any_gpm_answers_give_figures_in_range(
        values in proptest::collection::vec(answer(), 0..20),
    ) {
        let mut a = GpuActivity::default();
        put(&mut a, &values);
        for share in [a.sm, a.sm_occupancy, a.tensor, a.tensor_hmma, a.tensor_imma,
                      a.tensor_dfma, a.dram, a.fp16, a.fp32, a.fp64].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&share), "{share}");
        }
        for rate in [a.pcie_rx, a.pcie_tx, a.nvlink_rx, a.nvlink_tx].into_iter().flatten() {
            prop_assert!(rate.is_finite() && rate >= 0.0, "{rate}");
        }
    }

    /// Whatever the driver stamps and wherever the clock is, the next window's start is
    /// never past the wall clock by more than the slack: no stamp hides the samples after
    /// it for longer than the next read, and a start past it restarts the window.
    #[test]
    fn no_stamp_moves_the_window_start_past_the_clock(
        mark in proptest::option::of(any::<u64>()),
        now in any::<u64>(),
        stamps in proptest::collection::vec(any::<u64>(), 0..8),
        after in 0u64..10_000_000,
    ) {
        let Some(start) = window_start(mark, now) else {
            prop_assert!(mark.is_none_or(|m| m > now.saturating_add(STAMP_SLACK_US)));
            return Ok(());
        };
        prop_assert_eq!(Some(start), mark);
        let until = now.saturating_add(after).saturating_add(STAMP_SLACK_US);
        let next = next_mark(start, stamps.iter().copied(), until);
        prop_assert!(next >= start);
        prop_assert!(next <= until.max(start));
        // The read after: the window starts at `next` unless it lies ahead of the clock.
        let later = now.saturating_add(after);
        if let Some(s) = window_start(Some(next), later) {
            prop_assert!(s <= later.saturating_add(STAMP_SLACK_US));
        }
    }
}

#[test]
fn a_clock_stepped_back_restarts_the_window() {
    let hour = 3_600_000_000u64;
    let now = 1_700_000_000_000_000u64;
    // The newest sample seen was stamped an hour ahead of the clock now.
    assert_eq!(window_start(Some(now + hour), now), None);
    assert_eq!(window_start(Some(now - 1), now), Some(now - 1));
    assert_eq!(window_start(None, now), None);
    // A sample stamped an hour ahead does not move the mark.
    assert_eq!(
        next_mark(now - 5, [now + hour, now - 2].into_iter(), now),
        now - 2
    );
}
