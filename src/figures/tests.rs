//! A figure carried forward is not a new reading: a span whose end carries its start's GPU
//! reading (a pass made while a slow read held the driver) gets no delta, peak or mean from
//! it. On the code before issue 23 the same two snapshots gave a delta of 0 and a peak.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::entry::{Entry, Num};
use super::{FigureConfig, FigureSet};
use crate::sampler::Sampler;
use crate::snapshot::{DeviceState, GpuSample, GpuTier, Snapshot, TierReads};

fn gpu(at: Instant, used: u64, fresh: bool) -> GpuSample {
    let mut reads = TierReads::default();
    reads.set(GpuTier::Fast, at, fresh);
    let uuid: Arc<str> = Arc::from("GPU-carried");
    GpuSample {
        index: 0,
        uuid: uuid.clone(),
        name: uuid,
        taken_at: at,
        state: DeviceState::Ok,
        memory_used: Some(used),
        memory_free: None,
        memory_total: None,
        memory_reserved: None,
        utilization_gpu: Some(0.5),
        memory_busy: None,
        temperature: None,
        power: Some(300.0),
        energy: None,
        process_memory: None,
        mig_enabled: None,
        condition: Default::default(),
        activity: Default::default(),
        missing: Vec::new(),
        reads,
    }
}

fn snapshot(seq: u64, at: Instant, g: GpuSample) -> Snapshot {
    Snapshot {
        seq,
        taken_at: at,
        wall_time: SystemTime::now(),
        host: Default::default(),
        process: Default::default(),
        gpus: vec![g],
        gpu_status: crate::snapshot::GpuStatus::Ok,
        container: None,
        taken_at_coarse_ns: None,
    }
}

/// The span's attributes, by key name.
fn figures(start: &Snapshot, end: &Snapshot) -> Vec<(String, Num)> {
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let config = FigureConfig {
        set: FigureSet::Full,
        ..FigureConfig::default()
    };
    let (mut a, mut rare): (Vec<Entry>, _) = (Vec::new(), Vec::new());
    config.compute(&sampler, start, end, &mut a, &mut rare);
    a.into_iter()
        .map(|e| (e.key.as_str().to_owned(), e.value))
        .collect()
}

fn has(figures: &[(String, Num)], key: &str) -> bool {
    figures.iter().any(|(k, _)| k == key)
}

#[test]
fn a_carried_gpu_reading_gives_no_delta_peak_or_mean() {
    let t0 = Instant::now();
    let read = gpu(t0, 10 << 30, true);
    let start = snapshot(100, t0, read.clone());
    let mut carried = read;
    carried.reads = carried.reads.carried();
    let end = snapshot(101, t0 + Duration::from_millis(3), carried);
    let f = figures(&start, &end);
    assert!(has(&f, "resmon.gpu.0.memory.usage.end"), "{f:?}");
    for key in [
        "resmon.gpu.0.memory.usage.delta",
        "resmon.gpu.0.memory.usage.peak",
        "resmon.gpu.0.utilization.peak",
        "resmon.gpu.0.utilization.mean",
        "resmon.gpu.0.power.mean",
        "resmon.gpu.0.energy.estimate",
    ] {
        assert!(!has(&f, key), "{key} from a carried reading: {f:?}");
    }

    // The same span with a reading of its own at the end has them.
    let end = snapshot(
        101,
        t0 + Duration::from_millis(3),
        gpu(t0 + Duration::from_millis(2), 11 << 30, true),
    );
    let f = figures(&start, &end);
    for key in [
        "resmon.gpu.0.memory.usage.delta",
        "resmon.gpu.0.memory.usage.peak",
        "resmon.gpu.0.utilization.mean",
    ] {
        assert!(has(&f, key), "{key}: {f:?}");
    }
}
