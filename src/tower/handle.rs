//! What a handler finds in its request's extensions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::snapshot::Snapshot;
use crate::Sampler;

/// The request's start snapshot and a way to read its figures so far; in every request's
/// extensions (axum: `Extension<RequestResources>`).
///
/// ```
/// # let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
/// # let resources = otel_resmon::tower::RequestResources::new(&sampler);
/// let so_far = resources.so_far();
/// println!("{:?} s of CPU, RSS {:+?} bytes", so_far.process_cpu_time, so_far.rss_delta);
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestResources {
    sampler: Sampler,
    start: Arc<Snapshot>,
    started: Instant,
}

/// A request's figures between its start and now.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FiguresSoFar {
    /// Time since the request arrived.
    pub elapsed: Duration,
    /// Process CPU time used since the start snapshot, seconds.
    pub process_cpu_time: Option<f64>,
    /// Change of this process's resident memory, bytes.
    pub rss_delta: Option<i64>,
    /// Change of device memory used, per GPU (CUDA ordinal, bytes).
    pub gpu_memory_delta: Vec<(u32, i64)>,
    /// Age of the snapshot these figures end with.
    pub sample_age: Duration,
}

fn delta(start: Option<u64>, end: Option<u64>) -> Option<i64> {
    Some(crate::figures::signed_delta(start?, end?))
}

impl RequestResources {
    /// Starts now, from the sampler's latest snapshot.
    pub fn new(sampler: &Sampler) -> Self {
        Self {
            sampler: sampler.clone(),
            start: sampler.latest(),
            started: Instant::now(),
        }
    }

    /// The snapshot the request started with.
    pub fn start(&self) -> &Arc<Snapshot> {
        &self.start
    }

    /// Figures from the start snapshot to the sampler's latest one.
    pub fn so_far(&self) -> FiguresSoFar {
        let end = self.sampler.latest();
        let (s, e) = (&self.start, &end);
        FiguresSoFar {
            elapsed: self.started.elapsed(),
            process_cpu_time: s
                .process
                .cpu_time
                .zip(e.process.cpu_time)
                .map(|(s, e)| (e - s).max(0.0)),
            rss_delta: delta(s.process.resident_memory, e.process.resident_memory),
            gpu_memory_delta: e
                .gpus
                .iter()
                .filter_map(|g| {
                    let before = s.gpu(&g.uuid)?.memory_used;
                    Some((g.index, delta(before, g.memory_used)?))
                })
                .collect(),
            sample_age: end.age(),
        }
    }
}
