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
