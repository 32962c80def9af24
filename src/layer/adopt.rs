//! Figures for a span opened elsewhere (tower-http's request span, say): the tower layer adopts
//! the current span instead of opening a child, and hands over its HTTP attributes, which the
//! layer writes at close in the same batch as the figures.
//!
//! The layer is found through the dispatcher (`downcast_ref`), and the span's extensions through
//! a function the layer keeps for its own subscriber type (set in `on_layer`), so this works
//! for any subscriber the layer is part of.
//!
//! Protocol-neutral and compiled in every build: a handover is a name and attributes, whoever
//! the caller. Only the tower layer calls it today, so without that feature it is unused.
#![cfg_attr(not(feature = "tower"), allow(dead_code))]

use std::borrow::Cow;

use opentelemetry::KeyValue;
use tracing_core::span::Id;
use tracing_core::{Dispatch, Subscriber};
use tracing_subscriber::registry::{ExtensionsMut, LookupSpan};

use std::sync::Arc;

use super::{ResourceLayer, SpanResources};
use crate::snapshot::Snapshot;

/// What an adopting caller hands over at the end: the OTel span name and attributes.
#[derive(Debug, Default)]
pub(crate) struct Handover {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) attributes: Vec<KeyValue>,
}

/// Runs `f` on the extensions of span `id`; false when the span is not found.
pub(super) type WithExtensions = fn(&Dispatch, &Id, &mut dyn FnMut(&mut ExtensionsMut<'_>)) -> bool;

/// The [`WithExtensions`] for subscriber type `S`.
pub(super) fn with_extensions<S>(
    dispatch: &Dispatch,
    id: &Id,
    f: &mut dyn FnMut(&mut ExtensionsMut<'_>),
) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(subscriber) = dispatch.downcast_ref::<S>() else {
        return false;
    };
    let Some(span) = subscriber.span(id) else {
        return false;
    };
    f(&mut span.extensions_mut());
    true
}

/// Makes the current span one with figures, starting from `start`. Returns the span, or `None`
/// when there is no current span or no [`ResourceLayer`] in its subscriber.
pub(crate) fn adopt_current(start: &Arc<Snapshot>) -> Option<tracing::Span> {
    let span = tracing::Span::current();
    let adopted = span.with_subscriber(|(id, dispatch)| {
        let Some(layer) = dispatch.downcast_ref::<ResourceLayer>() else {
            return false;
        };
        let Some(with) = layer.with_extensions else {
            return false;
        };
        let xids_before = layer.sampler.xid_count();
        with(dispatch, id, &mut |extensions| {
            if extensions.get_mut::<SpanResources>().is_none() {
                extensions.insert(SpanResources::new(
                    start.clone(),
                    false,
                    Vec::new(),
                    xids_before,
                ));
            }
        })
    });
    adopted.unwrap_or(false).then_some(span)
}

/// Hands `handover` to an adopted span, for the layer to write at its close.
pub(crate) fn hand_over(span: &tracing::Span, handover: Handover) {
    let mut handover = Some(handover);
    span.with_subscriber(|(id, dispatch)| {
        let Some(with) = dispatch
            .downcast_ref::<ResourceLayer>()
            .and_then(|l| l.with_extensions)
        else {
            return;
        };
        with(dispatch, id, &mut |extensions| {
            if let Some(r) = extensions.get_mut::<SpanResources>() {
                r.handover = handover.take();
            }
        });
    });
}
