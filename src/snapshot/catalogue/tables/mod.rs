//! The two tables: the host's and this process's figures (`host.rs`), and each GPU's
//! (`gpu.rs`). A row per figure; adding a figure is a row there and its keys in `keys.rs`.
//! The helpers the rows share are here.

use super::{Encoding, SpanOutput, Statistic};

mod gpu;
mod host;

pub(crate) use gpu::GpuFigure;
pub(crate) use host::HostFigure;

/// One span output of a row.
pub(super) const fn out<K>(
    statistic: Statistic,
    full_only: bool,
    observed: bool,
    key: K,
    encoding: Encoding,
) -> SpanOutput<K> {
    SpanOutput {
        statistic,
        full_only,
        observed,
        key,
        encoding,
    }
}

/// Full set only.
pub(super) const FULL: bool = true;
/// Compact set too.
pub(super) const COMPACT: bool = false;
/// Only when the span observed the figure change.
pub(super) const OBSERVED: bool = true;
/// Whenever the span has passes of its own.
pub(super) const ANY: bool = false;

/// A byte count as a figure.
pub(super) fn bytes(v: Option<u64>) -> Option<f64> {
    v.map(|b| b as f64)
}

/// A state as a figure: 1 when it holds, else 0.
pub(super) fn flag(on: bool) -> f64 {
    if on {
        1.0
    } else {
        0.0
    }
}
