//! Whether the layer reaches the OpenTelemetry spans, readable after the layer is installed.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

/// How the layer is linked to tracing-opentelemetry's layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtelLink {
    /// No selected span has closed yet.
    Unknown,
    /// Figures are written to the OpenTelemetry spans.
    Ok,
    /// The OpenTelemetry layer is registered inside (before) this layer, so its spans are
    /// already ended when this layer's `on_close` runs: nothing is written. Register
    /// `ResourceLayer` first: `registry().with(resource_layer).with(otel_layer)`, or compose
    /// `resource_layer.and_then(otel_layer)`.
    WrongOrder,
    /// A selected span had no OpenTelemetry span: no tracing-opentelemetry layer in this
    /// subscriber, or it filtered the span out.
    NoOtelSpan,
    /// Another `ResourceLayer` in the same subscriber already tracks the spans this one
    /// selects, so this one leaves them alone: each figure is still written once. Keep one
    /// `ResourceLayer` per subscriber.
    RegisteredTwice,
}

/// A handle to the layer's link state; clone it from [`ResourceLayer::status`] before
/// installing the layer.
///
/// [`ResourceLayer::status`]: crate::ResourceLayer::status
#[derive(Debug, Clone, Default)]
pub struct LayerStatus {
    inner: Arc<StatusInner>,
}

#[derive(Debug, Default)]
struct StatusInner {
    link: AtomicU8,
    order_checked: AtomicBool,
    reported: AtomicBool,
}

impl LayerStatus {
    /// The current link state.
    pub fn otel_link(&self) -> OtelLink {
        match self.inner.link.load(Ordering::Relaxed) {
            1 => OtelLink::Ok,
            2 => OtelLink::WrongOrder,
            3 => OtelLink::NoOtelSpan,
            4 => OtelLink::RegisteredTwice,
            _ => OtelLink::Unknown,
        }
    }

    /// True once, for the first selected span: the registration order is checked then.
    pub(crate) fn take_order_check(&self) -> bool {
        !self.inner.order_checked.load(Ordering::Relaxed)
            && !self.inner.order_checked.swap(true, Ordering::Relaxed)
    }

    pub(crate) fn set(&self, link: OtelLink) {
        let code = match link {
            OtelLink::Unknown => 0,
            OtelLink::Ok => 1,
            OtelLink::WrongOrder => 2,
            OtelLink::NoOtelSpan => 3,
            OtelLink::RegisteredTwice => 4,
        };
        // A wrong order or a second registration stays reported; avoid writing the shared
        // line on every span.
        let current = self.inner.link.load(Ordering::Relaxed);
        if current != code && current != 2 && current != 4 {
            self.inner.link.store(code, Ordering::Relaxed);
        }
        if matches!(
            link,
            OtelLink::WrongOrder | OtelLink::NoOtelSpan | OtelLink::RegisteredTwice
        ) {
            self.report_once(link);
        }
    }

    /// One stderr line, never a tracing event (this runs inside a layer callback).
    fn report_once(&self, link: OtelLink) {
        if self.inner.reported.swap(true, Ordering::Relaxed) {
            return;
        }
        let why = match link {
            OtelLink::WrongOrder => {
                "ResourceLayer is registered after (outside) tracing-opentelemetry's layer, so \
                 OpenTelemetry spans are already ended when it runs and no resource figures are \
                 written. Register it first: registry().with(resource_layer).with(otel_layer), \
                 or resource_layer.and_then(otel_layer)."
            }
            OtelLink::RegisteredTwice => {
                "ResourceLayer is registered twice in one subscriber; the second one leaves the \
                 spans to the first, so figures are written once. Keep one ResourceLayer per \
                 subscriber."
            }
            _ => {
                "a span selected by ResourceLayer has no OpenTelemetry span (no \
                 tracing-opentelemetry layer after ResourceLayer, or it filtered the span out); \
                 its resource figures are dropped."
            }
        };
        eprintln!("otel-resmon: {why}");
    }
}
