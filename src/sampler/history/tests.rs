//! The history (through the window builder `Sampler::window` uses) against a brute force over
//! every pass a test recorded itself; its settings and its memory.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;

use super::{check_levels, default_levels, parse_levels, History, HistoryLevel};
use super::{Stats, Window, WindowBuilder};
use crate::snapshot::Snapshot;
use crate::snapshot::{DeviceState, GpuSample, HostSample, ProcessSample};

const MS: Duration = Duration::from_millis(1);

/// A pass at `at` with host memory used `mem` and one GPU's memory used `gpu` (either may be
/// missing).
fn pass(seq: u64, at: Instant, mem: Option<u64>, gpu: Option<u64>) -> Arc<Snapshot> {
    let uuid: Arc<str> = Arc::from("GPU-test");
    Arc::new(Snapshot {
        seq,
        taken_at: at,
        wall_time: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000),
        host: HostSample {
            memory_used: mem,
            memory_available: mem.map(|m| 1000 - m.min(1000)),
            ..HostSample::default()
        },
        process: ProcessSample::default(),
        gpus: vec![GpuSample {
            index: 0,
            uuid: uuid.clone(),
            name: uuid,
            taken_at: at,
            state: DeviceState::Ok,
            memory_used: gpu,
            memory_free: None,
            memory_total: None,
            memory_reserved: None,
            utilization_gpu: gpu.map(|g| (g % 100) as f64 / 100.0),
            memory_busy: None,
            temperature: None,
            power: None,
            energy: None,
            process_memory: None,
            mig_enabled: None,
            condition: Default::default(),
            activity: Default::default(),
            missing: Vec::new(),
            reads: crate::snapshot::TierReads::all_fresh(at),
        }],
        gpu_status: crate::snapshot::GpuStatus::Ok,
        container: None,
        taken_at_coarse_ns: None,
    })
}

fn window(h: &History, from: Instant, to: Instant) -> Window {
    let mut w = WindowBuilder::default();
    let covered = h.fold(from, to, &mut w);
    w.finish(covered)
}

/// Min / max / mean over values, as `Stats`.
fn brute(values: impl Iterator<Item = f64>) -> Option<Stats> {
    let v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    Some(Stats {
        min,
        max,
        mean,
        count: v.len() as u32,
    })
}

fn same(a: Option<Stats>, b: Option<Stats>) -> Result<(), TestCaseError> {
    match (a, b) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) => {
            prop_assert_eq!(a.min, b.min);
            prop_assert_eq!(a.max, b.max);
            prop_assert_eq!(a.count, b.count);
            prop_assert!(
                (a.mean - b.mean).abs() <= 1e-9 * b.mean.abs().max(1.0),
                "{a:?} {b:?}"
            );
            Ok(())
        }
        (a, b) => {
            prop_assert!(false, "{a:?} != {b:?}");
            Ok(())
        }
    }
}

/// A stream of passes: gaps in ms, whether each is an extra pass, and the two figures.
fn stream() -> impl Strategy<Value = Vec<(u64, bool, Option<u64>, Option<u64>)>> {
    prop::collection::vec(
        (
            prop_oneof![3 => 1u64..60, 1 => 0u64..2, 1 => 100u64..2000],
            prop::bool::weighted(0.25),
            prop::option::weighted(0.9, 0u64..1000),
            prop::option::weighted(0.9, 0u64..1_000_000),
        ),
        1..400,
    )
}

fn levels() -> impl Strategy<Value = Vec<HistoryLevel>> {
    (1u64..40, 2u64..30, 2u64..8, 2u64..20).prop_map(|(w, n, k, m)| {
        let first = HistoryLevel::new(MS * w as u32, MS * (w * n) as u32);
        let second = HistoryLevel::new(MS * (w * k) as u32, MS * (w * k * m + w * n) as u32);
        vec![first, second]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For any stream, settings and range, the window equals a brute force over every pass
    /// in the part it says it covers; that part lies in the range, has no gap, and is all of
    /// it wherever the raw passes still reach.
    #[test]
    fn window_equals_a_brute_force_over_the_covered_part(
        passes in stream(),
        raw in 1usize..24,
        levels in prop_oneof![1 => Just(Vec::new()), 4 => levels()],
        ranges in prop::collection::vec((0.0f64..1.1, 0.0f64..1.1), 1..8),
    ) {
        let origin = Instant::now();
        let mut at = origin;
        let mut recorded = Vec::new();
        let mut history = None;
        for (seq, (gap, extra, mem, gpu)) in passes.iter().enumerate() {
            if seq > 0 {
                at += MS * *gap as u32 + Duration::from_nanos(1);
            }
            let s = pass(seq as u64, at, *mem, *gpu);
            recorded.push(s.clone());
            match &history {
                None => history = Some(History::new(s, raw, &levels)),
                Some(h) => h.push(s, *extra && seq > 0),
            }
        }
        let h = history.unwrap();
        let span = at - origin;
        for (a, b) in ranges {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            let from = origin + span.mul_f64(a);
            let to = origin + span.mul_f64(b);
            let w = window(&h, from, to);
            let inside = |s: &&Arc<Snapshot>| {
                w.covered.is_some_and(|(lo, hi)| s.taken_at >= lo && s.taken_at <= hi)
            };
            let covered: Vec<_> = recorded.iter().filter(inside).collect();
            prop_assert_eq!(w.samples as usize, covered.len());
            same(w.memory_used, brute(covered.iter().filter_map(|s| s.host.memory_used.map(|v| v as f64))))?;
            same(w.memory_available, brute(covered.iter().filter_map(|s| s.host.memory_available.map(|v| v as f64))))?;
            let gpu = w.gpus.first().and_then(|g| g.memory_used);
            same(gpu, brute(covered.iter().filter_map(|s| s.gpus[0].memory_used.map(|v| v as f64))))?;
            let util = w.gpus.first().and_then(|g| g.utilization_gpu);
            same(util, brute(covered.iter().filter_map(|s| s.gpus[0].utilization_gpu)))?;
            if let Some((lo, hi)) = w.covered {
                prop_assert!(lo >= from && hi <= to, "covered {:?} outside the range", (lo - origin, hi - origin));
                let length = (hi - lo).as_nanos() as f64 + 1.0;
                let total = (to - from).as_nanos() as f64 + 1.0;
                prop_assert!((w.coverage - length / total).abs() < 1e-9, "a gap: {} vs {}", w.coverage, length / total);
            } else {
                prop_assert_eq!(w.samples, 0);
            }
            // Where the raw rings still hold every pass, from `from` on for the interval
            // passes and every one of the extra passes, all is covered.
            let extras = passes.iter().skip(1).filter(|(_, extra, _, _)| *extra).count();
            if from >= h.at(h.raw_complete_from()) && extras <= raw {
                prop_assert_eq!(w.coverage, 1.0);
            }
        }
    }
}

/// The measured case, on the history alone: 50 ms passes, 5 kept raw, a 1.5 s
/// window, 9 GB between 0.2 s and 0.5 s: the levels answer 9 GB.
#[test]
fn a_spike_older_than_the_raw_passes_is_found_in_the_levels() {
    let origin = Instant::now();
    let gb = 1_000_000_000;
    let levels = default_levels(50 * MS, 5);
    let mut h = None;
    for i in 0..=30u64 {
        let t = i * 50;
        let mem = if (200..=500).contains(&t) { 9 * gb } else { gb };
        let s = pass(i, origin + MS * t as u32, Some(mem), Some(mem));
        match &h {
            None => h = Some(History::new(s, 5, &levels)),
            Some(h) => h.push(s, false),
        }
    }
    let h = h.unwrap();
    let w = window(&h, origin, origin + MS * 1500);
    assert_eq!(w.gpus[0].memory_used.unwrap().max, 9e9, "{w:?}");
    assert_eq!(w.coverage, 1.0, "{w:?}");
    let without = History::new(pass(0, origin, Some(gb), Some(gb)), 5, &[]);
    for i in 1..=30u64 {
        let t = i * 50;
        let mem = if (200..=500).contains(&t) { 9 * gb } else { gb };
        without.push(pass(i, origin + MS * t as u32, Some(mem), Some(mem)), false);
    }
    let w = window(&without, origin, origin + MS * 1500);
    assert_eq!(w.gpus[0].memory_used.unwrap().max, 1e9);
    assert!(
        w.coverage < 0.2,
        "raw only covers the last 5 passes: {}",
        w.coverage
    );
}

/// A thousand extra passes in 100 ms leave the interval passes of the last minutes alone.
#[test]
fn extra_passes_never_shorten_the_interval_passes() {
    let origin = Instant::now();
    let h = History::new(pass(0, origin, Some(1), Some(1)), 10, &[]);
    let mut seq = 1;
    for i in 1..10u64 {
        let v = if i == 3 { 900 } else { 1 };
        h.push(
            pass(seq, origin + MS * (i * 200) as u32, Some(v), Some(v)),
            false,
        );
        seq += 1;
    }
    for i in 0..1000u64 {
        let at = origin + MS * 1800 + Duration::from_micros(i * 100);
        h.push(pass(seq, at, Some(2), Some(2)), true);
        seq += 1;
    }
    let w = window(&h, origin, origin + Duration::from_secs(2));
    assert_eq!(w.memory_used.unwrap().max, 900.0);
}

/// Buckets are exactly as large as the spans guide says: the memory of the levels at the defaults
/// after a full day, with 1 and 8 GPUs (printed for `src/guide/spans.md` and BENCHMARKS.md).
#[test]
fn memory_of_the_levels_at_the_defaults_over_a_day() {
    for gpus in [1usize, 8] {
        let levels = default_levels(crate::sampler::DEFAULT_INTERVAL, 600);
        let origin = Instant::now();
        // Names and UUIDs shared by every pass, as the sampler's inventory shares them.
        let uuids: Vec<Arc<str>> = (0..gpus).map(|i| Arc::from(format!("GPU-{i}"))).collect();
        let template = pass(0, origin, Some(1), Some(1));
        let make = |seq: u64, at: Instant| {
            let mut s = (*template).clone();
            s.seq = seq;
            s.taken_at = at;
            let g = &template.gpus[0];
            s.gpus = uuids
                .iter()
                .enumerate()
                .map(|(i, uuid)| GpuSample {
                    index: i as u32,
                    uuid: uuid.clone(),
                    taken_at: at,
                    reads: crate::snapshot::TierReads::all_fresh(at),
                    ..g.clone()
                })
                .collect();
            Arc::new(s)
        };
        let before = crate::test_alloc::held();
        let h = History::new(make(0, origin), 600, &levels);
        // A day at one pass per 2 s fills every bucket of every level.
        for i in 1..=43_200u64 {
            h.push(make(i, origin + Duration::from_secs(2 * i)), false);
        }
        let allocated = crate::test_alloc::held() - before;
        let (raw, level_bytes) = h.heap_bytes();
        // What the history says it holds is what the allocator handed out (the writer's two
        // buckets in progress, and the names the GPUs share, aside).
        let counted = (raw + level_bytes) as isize;
        assert!(
            (allocated - counted).abs() < 16 << 10,
            "allocated {allocated}, counted {counted}"
        );
        eprintln!(
            "history memory, {gpus} GPU(s): levels {:.2} MiB, raw (600 passes) {:.2} MiB, \
             allocator {:.2} MiB in all",
            level_bytes as f64 / 1048576.0,
            raw as f64 / 1048576.0,
            allocated as f64 / 1048576.0
        );
        assert!(level_bytes < 2 << 20, "{level_bytes} bytes");
    }
}

#[test]
fn default_levels_follow_the_interval_and_the_raw_history() {
    let s = Duration::from_secs(1);
    let d = default_levels(200 * MS, 600);
    assert_eq!(
        d,
        vec![
            HistoryLevel::new(s, 180 * s),
            HistoryLevel::new(10 * s, 3600 * s),
            HistoryLevel::new(600 * s, 86_400 * s),
        ]
    );
    // 50 ms passes, 5 kept: 125 ms buckets (at most half of the 250 ms raw time).
    assert_eq!(
        default_levels(50 * MS, 5)[0],
        HistoryLevel::new(125 * MS, 22_500 * MS)
    );
    // Passes every 30 s: only the 10 min level is wider.
    assert_eq!(
        default_levels(30 * s, 600),
        vec![HistoryLevel::new(600 * s, 86_400 * s)]
    );
    for (interval, raw) in [(MS, 16), (7 * MS, 100), (200 * MS, 600), (3 * s, 40)] {
        let levels = default_levels(interval, raw);
        let raw_time = interval * raw as u32;
        check_levels("t", levels.clone(), raw_time, String::new)
            .unwrap_or_else(|e| panic!("{interval:?} x {raw}: {levels:?}: {e}"));
    }
}

#[test]
fn levels_are_checked_and_parsed_with_the_setting_named() {
    let s = Duration::from_secs(1);
    let raw = 120 * s;
    let check =
        |l: Vec<HistoryLevel>| check_levels("SamplerBuilder::levels", l, raw, || "x".into());
    assert!(check(vec![
        HistoryLevel::new(s, 60 * s),
        HistoryLevel::new(10 * s, 3600 * s)
    ])
    .is_ok());
    for (bad, why) in [
        (
            vec![
                HistoryLevel::new(s, 60 * s),
                HistoryLevel::new(15 * s / 10, 3600 * s),
            ],
            "multiple",
        ),
        (
            vec![
                HistoryLevel::new(s, 60 * s),
                HistoryLevel::new(40 * s, 3600 * s),
            ],
            "half",
        ),
        (vec![HistoryLevel::new(100 * s, 3600 * s)], "raw history"),
        (
            vec![
                HistoryLevel::new(s, 60 * s),
                HistoryLevel::new(10 * s, 30 * s),
            ],
            "further back",
        ),
        (vec![HistoryLevel::new(s, MS)], "at least its width"),
        (
            vec![HistoryLevel::new(Duration::from_micros(10), s)],
            "1 ms",
        ),
    ] {
        let err = check(bad).unwrap_err().to_string();
        assert!(
            err.contains("SamplerBuilder::levels") && err.contains(why),
            "{err}"
        );
    }
    let parsed = parse_levels("RESMON_HISTORY_LEVELS", "1s/3m, 10s/1h,10m/24h").unwrap();
    assert_eq!(parsed, default_levels(200 * MS, 600));
    assert_eq!(
        parse_levels("RESMON_HISTORY_LEVELS", "none").unwrap(),
        vec![]
    );
    for bad in ["1s", "1x/3m", "s/3m", "1s/3m,", "-1s/3m"] {
        let err = parse_levels("RESMON_HISTORY_LEVELS", bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("RESMON_HISTORY_LEVELS") && err.contains(bad),
            "{err}"
        );
    }
}
