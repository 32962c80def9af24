//! [`ResourceLayerBuilder`]: which spans, which figures, pressure thresholds.

use std::sync::{Arc, OnceLock};

use tracing_core::Level;

use super::select::Selection;
use super::status::LayerStatus;
use super::ResourceLayer;
use crate::figures::{FigureConfig, FigureSet, PressureThresholds};
use crate::sampler::Sampler;

/// Builds a [`ResourceLayer`]. Defaults: spans at INFO and above, the compact figure set, every
/// visible GPU, pressure events at 500 MiB, no per-span CPU time.
///
/// ```
/// use otel_resmon::{FigureSet, ResourceLayer, Sampler};
/// let sampler = Sampler::builder().gpu(false).build()?;
/// let layer = ResourceLayer::builder(&sampler)
///     .target_prefix("my_service::inference")
///     .figures(FigureSet::Full)
///     .span_cpu_time(true)
///     .build();
/// # let _ = layer;
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ResourceLayerBuilder {
    sampler: Sampler,
    selection: Selection,
    figures: FigureConfig,
    span_cpu_time: bool,
}

impl ResourceLayerBuilder {
    pub(crate) fn new(sampler: &Sampler) -> Self {
        Self {
            sampler: sampler.clone(),
            selection: Selection::default(),
            figures: FigureConfig {
                pressure: Some(PressureThresholds::default()),
                ..FigureConfig::default()
            },
            span_cpu_time: false,
        }
    }

    /// Every span, at every level: clears the rules set so far (add others after it).
    pub fn all_spans(mut self) -> Self {
        self.selection = Selection {
            level: Level::TRACE,
            ..Selection::default()
        };
        self
    }

    /// Spans at this level and above (default INFO: INFO, WARN, ERROR).
    pub fn level(mut self, level: Level) -> Self {
        self.selection.level = level;
        self
    }

    /// Only spans whose target starts with one of the prefixes given (call again to add one).
    pub fn target_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.selection.targets.push(prefix.into());
        self
    }

    /// Only spans whose name starts with one of the prefixes given (call again to add one).
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.selection.names.push(prefix.into());
        self
    }

    /// With `true`, only spans that carry `resmon = true` (default `false`). Either way,
    /// `resmon = false` opts a span out.
    pub fn marker_only(mut self, on: bool) -> Self {
        self.selection.marker_only = on;
        self
    }

    /// The compact (default) or the full figure set.
    pub fn figures(mut self, set: FigureSet) -> Self {
        self.figures.set = set;
        self
    }

    /// Report only these GPUs (CUDA ordinals); default every visible GPU.
    pub fn gpus(mut self, ordinals: impl IntoIterator<Item = u32>) -> Self {
        self.figures.gpus = Some(ordinals.into_iter().collect::<Arc<[u32]>>());
        self
    }

    /// Measures the CPU time of each span's own enters (thread CPU time summed over every
    /// enter / exit, on whichever thread) as `resmon.span.cpu.time`. Costs a clock read per
    /// enter and exit, so it is off by default. An enter exited on another thread (a guard held
    /// across an `.await`) is not counted: the entering thread's clock cannot be read there.
    pub fn span_cpu_time(mut self, on: bool) -> Self {
        self.span_cpu_time = on;
        self
    }

    /// When to add `resmon.pressure` events (default: 500 MiB free GPU memory or available
    /// RAM); [`PressureThresholds::none()`] for none.
    pub fn pressure(mut self, thresholds: PressureThresholds) -> Self {
        self.figures.pressure = Some(thresholds);
        self
    }

    /// Records per-span histograms on this meter: process CPU time
    /// (`resmon.span.process.cpu.time`, s), resident memory growth
    /// (`resmon.span.process.memory.growth`, By) and each GPU's peak memory
    /// (`resmon.span.gpu.memory.peak`, By), with the span's name (and the GPU's `hw.id`) as
    /// the only attributes. Costs a few hundred nanoseconds per span; off by default.
    pub fn metrics(mut self, meter: &opentelemetry::metrics::Meter) -> Self {
        self.figures.histograms = Some(crate::figures::SpanHistograms::new(meter));
        self
    }

    /// Adds the values of these span fields as attributes of the per-span histograms (see
    /// [`metrics`](Self::metrics)), e.g. `"http.route"` or `"model"`. Only name fields with a
    /// few distinct values: every combination is a separate time series.
    pub fn metric_fields<S: Into<String>>(mut self, fields: impl IntoIterator<Item = S>) -> Self {
        self.figures.metric_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// The layer. Register it before (inside) tracing-opentelemetry's layer.
    pub fn build(self) -> ResourceLayer {
        ResourceLayer {
            sampler: self.sampler,
            selection: self.selection,
            figures: self.figures,
            span_cpu_time: self.span_cpu_time,
            dispatch: OnceLock::new(),
            status: LayerStatus::default(),
            with_extensions: None,
        }
    }
}
