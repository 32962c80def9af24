//! [`ResourceLayer`]: a `tracing_subscriber::Layer` that puts resource figures on the
//! OpenTelemetry span of every selected `tracing` span.
//!
//! At span start it keeps the sampler's latest snapshot (an atomic load) in the span's
//! extensions. At close, while tracing-opentelemetry's span is still open, it computes the
//! figures from the start and end snapshots and the sampler's history in between and writes
//! them in one batch through tracing-opentelemetry's public context API.

mod adopt;
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

#[cfg_attr(not(feature = "tower"), allow(unused_imports))]
pub(crate) use adopt::{adopt_current, hand_over, Handover};
pub use builder::ResourceLayerBuilder;
#[cfg_attr(not(feature = "tower"), allow(unused_imports))]
pub(crate) use select::REQUEST_TARGET;
pub use select::{MARKER_FIELD, SAMPLE_NOW_FIELD};
pub use status::{LayerStatus, OtelLink};

use crate::figures::{EndedSpan, FigureConfig};
use crate::snapshot::Snapshot;
use crate::{clock, sampler::Sampler};
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
    /// Reaches a span's extensions from outside the layer (set in `on_layer`, where the
    /// subscriber's type is known).
    with_extensions: Option<adopt::WithExtensions>,
}

/// What the layer keeps in a selected span's extensions.
struct SpanResources {
    start: Arc<Snapshot>,
    sample_now: bool,
    /// Thread CPU time summed over finished enters (ns).
    cpu_ns: u64,
    /// Values of the fields named by `metric_fields`, for the per-span histograms.
    metric_fields: Vec<opentelemetry::KeyValue>,
    /// Name and attributes from whoever adopted the span (the tower layer).
    handover: Option<Handover>,
    /// XIDs the sampler had seen when the span began: those after are the span's.
    xids_before: u64,
    /// Exits on a thread that had not entered the span (its enter stays in another thread's
    /// list): an enter recorded before the latest of them may be that one, and is not counted.
    strays: u32,
}

impl SpanResources {
    fn new(
        start: Arc<Snapshot>,
        sample_now: bool,
        metric_fields: Vec<opentelemetry::KeyValue>,
        xids_before: u64,
    ) -> Self {
        Self {
            start,
            sample_now,
            cpu_ns: 0,
            metric_fields,
            handover: None,
            xids_before,
            strays: 0,
        }
    }
}

/// One enter of a selected span on this thread.
struct Enter {
    id: Id,
    /// The thread CPU clock at the enter; `None` for an enter nested in another of the span
    /// on this thread (only the outermost measures).
    started: Option<u64>,
    /// The span's [`SpanResources::strays`] at the enter.
    strays: u32,
}

/// The most enters a thread's list holds. Spans nest far less deep than this; the list only
/// reaches it when enters are left behind by exits on other threads (a guard held across an
/// `.await`, `Dispatch::exit` by hand). It is then cleared of the enters of closed spans and of
/// spans exited elsewhere since, and, were it still full, of its oldest enter.
const MAX_ENTERED: usize = 64;

thread_local! {
    /// The enters of selected spans this thread is inside, innermost last.
    static ENTERED: std::cell::RefCell<Vec<Enter>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// How many enters of selected spans this thread's list holds (for the tests of its bound).
#[doc(hidden)]
pub fn entered_on_this_thread() -> usize {
    ENTERED.try_with(|e| e.borrow().len()).unwrap_or(0)
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

    /// Runs `f` with the dispatcher this layer is part of, kept at registration (spans can
    /// close on threads without a default dispatcher).
    fn with_dispatch<R>(&self, f: impl FnOnce(&Dispatch) -> R) -> Option<R> {
        let dispatch = self.dispatch.get().and_then(WeakDispatch::upgrade)?;
        Some(f(&dispatch))
    }

    /// The values of the fields the per-span histograms carry (nothing to do, and nothing
    /// allocated, unless histograms and fields are configured).
    fn metric_field_values(&self, attrs: &Attributes<'_>) -> Vec<opentelemetry::KeyValue> {
        if self.figures.histograms.is_none() || self.figures.metric_fields.is_empty() {
            return Vec::new();
        }
        let mut values = select::FieldValues {
            wanted: &self.figures.metric_fields,
            values: Vec::new(),
        };
        attrs.record(&mut values);
        values.values
    }

    /// Runs `f` with the span's end snapshot: a fresh one when the span asked for it, else the
    /// latest. A thread whose cached snapshot lags the one the span started with (the sampler
    /// was publishing at that moment) uses the start as the end.
    fn with_end<R>(&self, r: &SpanResources, f: impl FnOnce(&Arc<Snapshot>) -> R) -> R {
        let run = |end: &Arc<Snapshot>| f(Snapshot::end_of(&r.start, end));
        if r.sample_now {
            run(&self.sampler.sample_now())
        } else {
            self.sampler.with_latest(run)
        }
    }

    /// For the first selected span only: if tracing-opentelemetry already knows the span when
    /// this layer sees it start, its layer sits inside this one, and will end its span before
    /// this layer's `on_close`.
    fn check_order(&self, id: &Id) {
        if !self.status.take_order_check() {
            return;
        }
        let known = self.with_dispatch(|d| tracing_opentelemetry::get_otel_context(id, d));
        if known.flatten().is_some() {
            self.status.set(OtelLink::WrongOrder);
        }
    }
}

/// Clears a full list of the enters that can no longer end here: those of closed spans and of
/// spans exited on another thread since; then, if it is still full, of its oldest enter (its
/// exit then counts as one on another thread).
fn prune<S>(entered: &mut Vec<Enter>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    entered.retain(|x| {
        ctx.span(&x.id).is_some_and(|s| {
            s.extensions()
                .get::<SpanResources>()
                .is_some_and(|r| r.strays == x.strays)
        })
    });
    if entered.len() >= MAX_ENTERED {
        entered.remove(0);
    }
}

impl<S> Layer<S> for ResourceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _: &mut S) {
        self.with_extensions = Some(adopt::with_extensions::<S>);
    }

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
            let mut extensions = span.extensions_mut();
            if extensions.get_mut::<SpanResources>().is_some() {
                // Another ResourceLayer in this subscriber got here first (`insert` would
                // panic on the second value): leave the span to it.
                drop(extensions);
                self.status.set(OtelLink::RegisteredTwice);
                return;
            }
            extensions.insert(SpanResources::new(
                start,
                options.sample_now,
                self.metric_field_values(attrs),
                self.sampler.xid_count(),
            ));
        }
        self.check_order(id);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.span_cpu_time {
            return;
        }
        let Some(strays) = ctx
            .span(id)
            .and_then(|s| s.extensions().get::<SpanResources>().map(|r| r.strays))
        else {
            return;
        };
        // Per thread, so a span entered on two threads at once counts both; only the
        // outermost enter of a span on one thread measures, so re-entry is not doubled.
        let _ = ENTERED.try_with(|e| {
            let mut e = e.borrow_mut();
            let (mut nested, mut stale) = (false, false);
            for enter in e.iter().filter(|x| x.id == *id) {
                if enter.strays == strays {
                    nested = true;
                } else {
                    stale = true;
                }
            }
            if stale {
                // Enters of this span that an exit on another thread ended: not an outer one.
                e.retain(|x| x.id != *id || x.strays == strays);
            }
            if e.len() >= MAX_ENTERED {
                prune(&mut e, &ctx);
            }
            let started = if nested { None } else { clock::thread_cpu_ns() };
            e.push(Enter {
                id: id.clone(),
                started,
                strays,
            });
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if !self.span_cpu_time {
            return;
        }
        let Ok(enter) = ENTERED.try_with(|e| {
            let mut e = e.borrow_mut();
            let at = e.iter().rposition(|x| x.id == *id)?;
            Some(e.remove(at))
        }) else {
            // The thread is ending: its list is gone.
            return;
        };
        match enter {
            Some(Enter {
                started: Some(started),
                strays,
                ..
            }) => {
                let Some(now) = clock::thread_cpu_ns() else {
                    return;
                };
                if let Some(span) = ctx.span(id) {
                    if let Some(r) = span.extensions_mut().get_mut::<SpanResources>() {
                        // An exit elsewhere since this enter may have been this enter's own
                        // end: the time since is not surely the span's.
                        if r.strays == strays {
                            r.cpu_ns += now.saturating_sub(started);
                        }
                    }
                }
            }
            Some(_) => {}
            // Not entered on this thread (or not selected): the enter it ends, if any, is on
            // another thread, whose CPU clock cannot be read here. The count makes that
            // thread drop it when it next sees the span.
            None => {
                if let Some(span) = ctx.span(id) {
                    if let Some(r) = span.extensions_mut().get_mut::<SpanResources>() {
                        r.strays = r.strays.wrapping_add(1);
                    }
                }
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // Take our state and let go of the extensions lock before calling into
        // tracing-opentelemetry, which locks them again.
        let Some((mut resources, name)) = ctx.span(&id).and_then(|span| {
            let resources = span.extensions_mut().remove::<SpanResources>()?;
            Some((resources, span.name()))
        }) else {
            return;
        };
        let cx = self
            .with_dispatch(|dispatch| tracing_opentelemetry::get_otel_context(&id, dispatch))
            .flatten();
        let Some(cx) = cx else {
            self.status.set(OtelLink::NoOtelSpan);
            return;
        };
        let span = cx.span();
        if !span.span_context().is_sampled() {
            // Sampled out: no attributes (nothing would be exported; this reads the span
            // context without taking the span's lock), but the histograms count every span,
            // whatever the trace sampler keeps.
            if self.figures.histograms.is_some() {
                self.with_end(&resources, |end| {
                    self.figures.record_histograms(
                        &self.sampler,
                        &resources.start,
                        end,
                        name,
                        &resources.metric_fields,
                    );
                });
            }
            return;
        }
        let cpu = self.span_cpu_time.then(|| resources.cpu_ns as f64 / 1e9);
        let handed = resources.handover.take().unwrap_or_default();
        if let Some(name) = handed.name {
            span.update_name(name);
        }
        // One atomic load on every span; the log is read only when an XID arrived.
        let xids = if self.sampler.xid_count() == resources.xids_before {
            Vec::new()
        } else {
            self.sampler.xids_since(resources.xids_before)
        };
        self.with_end(&resources, |end| {
            let ended = EndedSpan {
                start: &resources.start,
                end,
                cpu_time: cpu,
                name,
                metric_fields: &resources.metric_fields,
                xids: &xids,
            };
            self.figures
                .write(&self.sampler, &ended, &span, handed.attributes)
        });
        self.status.set(OtelLink::Ok);
    }
}
