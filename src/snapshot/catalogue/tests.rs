//! The catalogue's own checks: names, slots, the statistics type.

use super::*;

#[test]
fn the_tables_name_each_figure_once_and_slot_their_lows() {
    let mut names: Vec<&str> = HostFigure::ALL.iter().map(|f| f.figure().name).collect();
    names.extend(GpuFigure::ALL.iter().map(|f| f.figure().name));
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "a figure named twice");
    assert_eq!(HostFigure::LOWS, 2);
    assert_eq!(HostFigure::MemoryAvailable.low_slot(), Some(0));
    assert_eq!(HostFigure::ContainerHeadroom.low_slot(), Some(1));
    assert_eq!(GpuFigure::MemoryFree.low_slot(), Some(0));
    assert_eq!(GpuFigure::Power.low_slot(), None);
}

#[test]
fn a_stat_keeps_min_max_mean_and_merges() {
    let mut a = Stat::default();
    assert!(a.add(Some(3.0)));
    assert!(!a.add(None));
    assert!(a.add(Some(1.0)));
    assert!(!a.add(Some(5.0)));
    assert_eq!(
        (a.min(), a.max(), a.mean(), a.count),
        (Some(1.0), Some(5.0), Some(3.0), 3)
    );
    let mut b = Stat::default();
    assert!(!b.merge(&Stat::default()));
    assert!(b.merge(&a));
    assert_eq!(b, a);
    assert_eq!(Stat::default().get(Statistic::Mean), None);
}

#[cfg(feature = "nvml")]
#[test]
fn every_clock_event_reason_is_one_row_that_reads_its_own_bit() {
    use crate::keys::metric::GPU_CLOCK_EVENT;
    use crate::snapshot::{ClockEventReasons, CLOCK_EVENT_REASONS};
    let rows: Vec<(GpuFigure, &str)> = GpuFigure::ALL
        .into_iter()
        .filter_map(|f| match f.figure().metric {
            Some(Metric {
                name: GPU_CLOCK_EVENT,
                labels: Labels::GpuClockReason(reason),
                ..
            }) => Some((f, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), CLOCK_EVENT_REASONS.len());
    let mut g = crate::snapshot::GpuSample::empty(
        0,
        "GPU-0".into(),
        "H200".into(),
        crate::snapshot::DeviceState::Ok,
    );
    for (bit, reason) in CLOCK_EVENT_REASONS {
        let (row, _) = rows
            .iter()
            .find(|(_, r)| *r == reason)
            .unwrap_or_else(|| panic!("no row for {reason}"));
        g.condition.clock_event_reasons = Some(ClockEventReasons(bit));
        // Its own bit is 1, every other row 0.
        for (other, r) in &rows {
            let want = if *r == reason { 1.0 } else { 0.0 };
            assert_eq!(
                (other.figure().read)(&g),
                Some(want),
                "{r} with {reason} set"
            );
        }
        g.condition.clock_event_reasons = None;
        assert_eq!((row.figure().read)(&g), None, "absent without the reasons");
    }
}

#[test]
fn a_span_holds_statistics_only_of_the_rows_it_folds() {
    // The rows exported and nothing else cost a span's state nothing.
    const { assert!(GpuFigure::FOLDED < GpuFigure::N) };
    assert_eq!(GpuFigure::StatusOk.fold_slot(), None);
    assert_eq!(GpuFigure::MemoryUsed.fold_slot(), Some(0));
    const { assert!(HostFigure::FOLDED < HostFigure::KEPT) };
}

#[test]
fn the_kept_and_folded_rows_are_listed_in_slot_order() {
    for (k, f) in GpuFigure::KEPT_ROWS.into_iter().enumerate() {
        assert_eq!(f.kept_slot(), Some(k));
    }
    for (k, f) in HostFigure::KEPT_ROWS.into_iter().enumerate() {
        assert_eq!(f.kept_slot(), Some(k));
    }
    for (k, f) in GpuFigure::FOLDED_ROWS.into_iter().enumerate() {
        assert_eq!(f.fold_slot(), Some(k));
    }
    for (k, f) in HostFigure::FOLDED_ROWS.into_iter().enumerate() {
        assert_eq!(f.fold_slot(), Some(k));
    }
    let kept = GpuFigure::ALL.iter().filter(|f| f.figure().kept).count();
    assert_eq!(kept, GpuFigure::KEPT);
}
