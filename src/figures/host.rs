//! The process's and the host's figures over a span: each catalogue row's outputs (values
//! at the ends, changes, statistics over the span's own passes).

use super::entry::{value, Out};
use super::span_window::HostSpan;
use super::SpanEnds;
use crate::snapshot::catalogue::HostFigure;

/// This process's and the host's figures, as the catalogue's rows say.
pub(super) fn host(span: &SpanEnds<'_>, host: &HostSpan, out: &mut Out<'_>) {
    let ends = (Some(span.start), span.end);
    let flags = (span.full, span.observed);
    HostFigure::put_span_outputs(
        ends,
        |f| *host.stat(f),
        flags,
        |key, e, v| {
            out.put(key(), value(e, v));
        },
    );
}
