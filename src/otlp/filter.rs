//! What the pipeline's layers see: the level filter (`RUST_LOG` directives, as Rust services
//! already use them) and the export path's exclusion, both per-layer filters on
//! [`OtelGuard::layer`](super::OtelGuard::layer), so a `fmt` layer beside it keeps its own.

use opentelemetry::Context;
use tracing_subscriber::filter::{dynamic_filter_fn, DynFilterFn, EnvFilter};
use tracing_subscriber::layer::Context as LayerContext;

use crate::error::Error;

/// The variable the level directives come from, unless [`Pipeline::filter`] gives them.
///
/// [`Pipeline::filter`]: super::Pipeline::filter
pub(crate) const RUST_LOG: &str = "RUST_LOG";
/// The directives when neither gives any: spans at INFO and above, every target, as
/// `tracing`'s own macros and tower-http's `DefaultMakeSpan::level(Level::INFO)` make them.
pub(crate) const DEFAULT: &str = "info";

/// Where the directives came from, and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directives {
    pub(crate) setting: &'static str,
    pub(crate) value: String,
}

impl Directives {
    /// `value` from `setting`, checked: a directive `tracing-subscriber` cannot parse is an
    /// error naming the setting and the value.
    pub(crate) fn checked(setting: &'static str, value: &str) -> Result<Self, Error> {
        let d = Self {
            setting,
            value: value.to_owned(),
        };
        d.filter()?;
        Ok(d)
    }

    /// The default, [`DEFAULT`].
    pub(crate) fn default_level() -> Self {
        Self {
            setting: "default",
            value: DEFAULT.to_owned(),
        }
    }

    /// A fresh filter (`EnvFilter` is not `Clone`; each layer gets its own).
    pub(crate) fn filter(&self) -> Result<EnvFilter, Error> {
        EnvFilter::builder()
            .parse(self.value.trim())
            .map_err(|_| Error::InvalidSetting {
                setting: self.setting,
                value: self.value.clone(),
                reason: "is not a list of tracing directives such as \
                         `info,my_crate=debug,h2=off` (see tracing-subscriber's EnvFilter)",
            })
    }
}

/// The predicate of [`without_export_path`].
fn outside_export_path<S>(_: &tracing::Metadata<'_>, _: &LayerContext<'_, S>) -> bool {
    !Context::is_current_telemetry_suppressed()
}

/// The predicate's type.
pub type OutsideExportPath<S> = fn(&tracing::Metadata<'_>, &LayerContext<'_, S>) -> bool;

/// A per-layer filter that keeps out every span and event made inside OpenTelemetry's
/// telemetry suppression scope: the SDK's batch and periodic-export threads, and the
/// pipeline's export runtime (tonic, h2, hyper, reqwest, rustls). Put it on the
/// OpenTelemetry layer of a subscriber you build yourself, so the exporter never exports its
/// own traffic, whatever level filter you choose; [`OtelGuard::layer`] has it already.
///
/// It follows the ecosystem's mechanism rather than a list of crates, so the next dependency
/// of the export path is covered too. It is asked at every span and event (the same callsite
/// runs on the export path and off it, so no answer can be cached per callsite); the cost is
/// one thread-local read.
///
/// [`OtelGuard::layer`]: super::OtelGuard::layer
#[must_use]
pub fn without_export_path<S>() -> DynFilterFn<S, OutsideExportPath<S>> {
    dynamic_filter_fn(outside_export_path::<S> as OutsideExportPath<S>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_directive_names_its_setting_and_value() {
        let e = Directives::checked(RUST_LOG, "info,h2=loud")
            .unwrap_err()
            .to_string();
        assert!(e.contains("RUST_LOG") && e.contains("h2=loud"), "{e}");
        assert!(Directives::checked("Pipeline::filter", "info,h2=off").is_ok());
    }
}
