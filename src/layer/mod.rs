//! [`ResourceLayer`]: a `tracing_subscriber::Layer` that puts resource figures on the
//! OpenTelemetry span of every selected `tracing` span.
//!
//! At span start it keeps the sampler's latest snapshot (an atomic load) in the span's
//! extensions. At close, while tracing-opentelemetry's span is still open, it computes the
//! figures from the start and end snapshots and the sampler's history in between and writes
//! them in one batch through tracing-opentelemetry's public context API.

mod builder;
mod select;
mod status;

use std::sync::{Arc, OnceLock};

use opentelemetry::trace::TraceContextExt as _;
use tracing_core::dispatcher::WeakDispatch;
use tracing_core::span::{Attributes, Id};
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

pub use builder::ResourceLayerBuilder;
pub use select::{MARKER_FIELD, SAMPLE_NOW_FIELD};
pub use status::{LayerStatus, OtelLink};

use crate::figures::FigureConfig;
use crate::snapshot::Snapshot;
use crate::{thread_cpu, Sampler};
use select::Selection;

/// Resource figures on OpenTelemetry spans.
///
/// Register it before (inside) tracing-opentelemetry's layer, so that it runs at `on_close`
/// while the OpenTelemetry span is still open. A wrong order is reported once on stderr and in
/// [`ResourceLayer::status`].
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use otel_resmon::{ResourceLayer, Sampler};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let sampler = Sampler::builder().gpu(false).build()?;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
/// let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("app"));
/// let subscriber = tracing_subscriber::registry()
///     .with(ResourceLayer::new(&sampler)) // first: inside the OTel layer
///     .with(otel);
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("generate", resmon.sample_now = true).entered();
/// });
/// # Ok::<(), otel_resmon::Error>(())
/// ```
#[derive(Debug)]
pub struct ResourceLayer {
    sampler: Sampler,
    selection: Selection,
    figures: FigureConfig,
    span_cpu_time: bool,
    dispatch: OnceLock<WeakDispatch>,
    status: LayerStatus,
}

/// What the layer keeps in a selected span's extensions.
struct SpanResources {
    start: Arc<Snapshot>,
    sample_now: bool,
    /// Thread CPU time at the current enter, and the sum over finished enters (ns).
    entered_cpu: Option<u64>,
    cpu_ns: u64,
}

impl ResourceLayer {
    /// A layer with the default settings (see [`ResourceLayerBuilder`]).
    pub fn new(sampler: &Sampler) -> Self {
        Self::builder(sampler).build()
    }

    /// A builder for the span selection, figure set and thresholds.
    pub fn builder(sampler: &Sampler) -> ResourceLayerBuilder {
        ResourceLayerBuilder::new(sampler)
    }

    /// A handle to whether figures reach the OpenTelemetry spans; keep a clone before
    /// installing the layer.
    pub fn status(&self) -> LayerStatus {
        self.status.clone()
    }

    fn dispatch(&self) -> Option<Dispatch> {
        self.dispatch.get().and_then(WeakDispatch::upgrade)
    }

    /// For the first selected span only: if tracing-opentelemetry already knows the span when
    /// this layer sees it start, its layer sits inside this one, and will end its span before
    /// this layer's `on_close`.
    fn check_order(&self, id: &Id) {
        if !self.status.take_order_check() {
            return;
        }
        if let Some(dispatch) = self.dispatch() {
            if tracing_opentelemetry::get_otel_context(id, &dispatch).is_some() {
                self.status.set(OtelLink::WrongOrder);
            }
        }
    }
}

impl<S> Layer<S> for ResourceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(options) = self.selection.select(attrs) else {
            return;
        };
        let start = if options.sample_now {
            self.sampler.sample_now()
        } else {
            self.sampler.latest()
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanResources {
                start,
                sample_now: options.sample_now,
                entered_cpu: None,
                cpu_ns: 0,
            });
        }
        self.check_order(id);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.span_cpu_time {
            return;
        }
        if let Some(span) = ctx.span(id) {
            if let Some(r) = span.extensions_mut().get_mut::<SpanResources>() {
                r.entered_cpu = thread_cpu::now();
            }
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.span_cpu_time {
            return;
        }
        if let Some(span) = ctx.span(id) {
            if let Some(r) = span.extensions_mut().get_mut::<SpanResources>() {
                if let (Some(entered), Some(now)) = (r.entered_cpu.take(), thread_cpu::now()) {
                    r.cpu_ns += now.saturating_sub(entered);
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Take our state and let go of the extensions lock before calling into
        // tracing-opentelemetry, which locks them again.
        let Some(resources) = ctx
            .span(&id)
            .and_then(|span| span.extensions_mut().remove::<SpanResources>())
        else {
            return;
        };
        let Some(dispatch) = self.dispatch() else {
            return;
        };
        let Some(cx) = tracing_opentelemetry::get_otel_context(&id, &dispatch) else {
            self.status.set(OtelLink::NoOtelSpan);
            return;
        };
        let span = cx.span();
        if !span.is_recording() {
            // Sampled out: nothing would be kept, so nothing is computed.
            return;
        }
        let end = if resources.sample_now {
            self.sampler.sample_now()
        } else {
            self.sampler.latest()
        };
        let cpu = self.span_cpu_time.then(|| resources.cpu_ns as f64 / 1e9);
        let figures = self
            .figures
            .compute(&self.sampler, &resources.start, &end, cpu);
        span.set_attributes(figures.attributes);
        for event in figures.events {
            span.add_event_with_timestamp(crate::keys::PRESSURE_EVENT, event.at, event.attributes);
        }
        self.status.set(OtelLink::Ok);
    }
}
