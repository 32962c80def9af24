//! What a handler finds in its request's extensions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sampler::Sampler;
use crate::snapshot::catalogue::{Figure, GpuFigure, HostFigure};
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
    /// What changed of every host and process figure of the catalogue ([`FiguresSoFar::change`]).
    changes: [Option<f64>; HostFigure::N],
    /// The same per GPU, for the GPUs read at both ends.
    gpu_changes: Vec<(Arc<str>, [Option<f64>; GpuFigure::N])>,
}

impl FiguresSoFar {
    /// What changed of the host or process figure with this name (its metric's name, e.g.
    /// `process.memory.usage`) since the start: a level's difference, what a counter rose by;
    /// `None` while nothing was observed, or for a figure missing at either end.
    pub fn change(&self, name: &str) -> Option<f64> {
        HostFigure::named(name).and_then(|f| self.changes[f as usize])
    }

    /// As [`FiguresSoFar::change`], for a figure of the GPU with this UUID (e.g.
    /// `hw.gpu.memory.usage`, `hw.energy`), when the GPU was read at both ends.
    pub fn gpu_change(&self, uuid: &str, name: &str) -> Option<f64> {
        let f = GpuFigure::named(name)?;
        let (_, changes) = self.gpu_changes.iter().find(|(u, _)| &**u == uuid)?;
        changes[f as usize]
    }
}

/// What changed of each of a subject's figures between two readings of it.
fn changes_of<T, K, const N: usize>(
    rows: [&'static Figure<T, K>; N],
    start: &T,
    end: &T,
) -> [Option<f64>; N] {
    rows.map(|row| row.kind.change((row.read)(start)?, (row.read)(end)?))
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
                changes: [None; HostFigure::N],
                gpu_changes: Vec::new(),
            };
        }
        // Every figure of the catalogue; a GPU's only where it was read at both ends (one
        // reading carried to the end is no change).
        let changes = changes_of(HostFigure::ALL.map(HostFigure::figure), &**s, end);
        let gpu_changes: Vec<(Arc<str>, [Option<f64>; GpuFigure::N])> = end
            .gpus
            .iter()
            .filter_map(|g| {
                let before = s.gpu(&g.uuid);
                if !crate::figures::gpu_observed(true, before, g) {
                    return None;
                }
                let rows = GpuFigure::ALL.map(GpuFigure::figure);
                Some((g.uuid.clone(), changes_of(rows, before?, g)))
            })
            .collect();
        FiguresSoFar {
            elapsed: self.started.elapsed(),
            process_cpu_time: changes[HostFigure::ProcessCpuTime as usize],
            rss_delta: changes[HostFigure::Resident as usize].map(|d| d as i64),
            gpu_memory_delta: gpu_changes
                .iter()
                .filter_map(|(uuid, c)| {
                    Some(GpuMemoryDelta {
                        index: end.gpu(uuid)?.index,
                        uuid: uuid.clone(),
                        bytes: c[GpuFigure::MemoryUsed as usize]? as i64,
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
            changes,
            gpu_changes,
        }
    }
}
