//! What a handler finds in its request's extensions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sampler::Sampler;
use crate::snapshot::catalogue::GpuFigure;
use crate::snapshot::Snapshot;

/// The request's start snapshot and a way to read its figures so far; in every request's
/// extensions (axum: `Extension<RequestResources>`).
///
/// ```
/// # let sampler = otel_resmon::Sampler::builder().gpu(false).build()?;
/// # let resources = otel_resmon::tower::RequestResources::new(&sampler);
/// let so_far = resources.so_far(); // None for each figure not yet observed
/// if let (Some(cpu), Some(rss)) = (so_far.process_cpu_time, so_far.rss_delta) {
///     println!("{cpu} s of CPU, RSS {rss:+} bytes");
/// }
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
    /// Change of device memory used, per GPU.
    pub gpu_memory_delta: Vec<GpuMemoryDelta>,
    /// Peak device memory used over the request's own passes (after its start snapshot, up
    /// to the end one), per GPU: the same window the request's span reports.
    pub gpu_memory_peak: Vec<GpuMemoryPeak>,
    /// The fraction of the request the history still covers, when below 1 (a request older
    /// than the history's levels): the peaks are then those of the covered part.
    pub coverage: Option<f64>,
    /// Age of the snapshot these figures end with.
    pub sample_age: Duration,
}

/// One GPU's peak device memory used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuMemoryPeak {
    /// The GPU's CUDA ordinal.
    pub index: u32,
    /// The GPU's UUID (`hw.id`).
    pub uuid: Arc<str>,
    /// Bytes.
    pub bytes: u64,
}

/// One GPU's change of device memory used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuMemoryDelta {
    /// The GPU's CUDA ordinal.
    pub index: u32,
    /// The GPU's UUID (`hw.id`).
    pub uuid: Arc<str>,
    /// End minus start, bytes.
    pub bytes: i64,
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

    /// Figures from the start snapshot to the sampler's latest one (an atomic load). While
    /// the latest snapshot is still the start one (the request is younger than one sampling
    /// interval) nothing was observed: the CPU time and the deltas are `None`, never a
    /// made-up 0. [`RequestResources::so_far_exact`] takes a fresh sample instead.
    pub fn so_far(&self) -> FiguresSoFar {
        self.between(&self.sampler.latest())
    }

    /// Figures from the start snapshot to a fresh one taken now: exact at this end, at the
    /// cost of one [`Sampler::sample_now`](crate::sampler::Sampler::sample_now) (the host and each
    /// GPU's fast tier: about 0.1 ms with one H200, 0.4 ms with eight, never queued behind a
    /// slow driver read), for handlers that report their own figures.
    pub fn so_far_exact(&self) -> FiguresSoFar {
        self.between(&self.sampler.sample_now())
    }

    fn between(&self, end: &Snapshot) -> FiguresSoFar {
        let s = &self.start;
        if !crate::figures::observed(s, end) {
            return FiguresSoFar {
                elapsed: self.started.elapsed(),
                process_cpu_time: None,
                rss_delta: None,
                gpu_memory_delta: Vec::new(),
                gpu_memory_peak: Vec::new(),
                coverage: None,
                sample_age: end.age(),
            };
        }
        FiguresSoFar {
            elapsed: self.started.elapsed(),
            process_cpu_time: s
                .process
                .cpu_time
                .zip(end.process.cpu_time)
                .and_then(|(s, e)| crate::figures::counter_delta(s, e)),
            rss_delta: delta(s.process.resident_memory, end.process.resident_memory),
            gpu_memory_delta: end
                .gpus
                .iter()
                .filter_map(|g| {
                    // One reading carried to the end is no change.
                    let before = s.gpu(&g.uuid);
                    if !crate::figures::gpu_observed(true, before, g) {
                        return None;
                    }
                    let before = before?.memory_used;
                    Some(GpuMemoryDelta {
                        index: g.index,
                        uuid: g.uuid.clone(),
                        bytes: delta(before, g.memory_used)?,
                    })
                })
                .collect(),
            gpu_memory_peak: crate::figures::figure_peaks(
                &self.sampler,
                s,
                end,
                &|_| true,
                GpuFigure::MemoryUsed,
            )
            .into_iter()
            .filter_map(|(uuid, bytes)| {
                let index = end.gpu(&uuid)?.index;
                Some(GpuMemoryPeak {
                    index,
                    uuid,
                    bytes: bytes as u64,
                })
            })
            .collect(),
            coverage: crate::figures::coverage(&self.sampler, s, end),
            sample_age: end.age(),
        }
    }
}
