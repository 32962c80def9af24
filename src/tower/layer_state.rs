//! What every request of one layer shares: the sampler, the optional metrics and report, and
//! the settings, read once when the layer is made.

use std::sync::atomic::{AtomicBool, Ordering};

use super::report::Recent;
use super::request_metrics::RequestMetrics;
use crate::sampler::Sampler;

#[derive(Debug)]
pub(crate) struct LayerState {
    pub(crate) sampler: Sampler,
    pub(crate) metrics: Option<RequestMetrics>,
    pub(crate) report: bool,
    /// The report's rolling averages.
    pub(crate) recent: Recent,
    pub(crate) in_current_span: bool,
    /// Characters kept of each request-derived span value.
    pub(crate) value_limit: usize,
}

impl LayerState {
    /// The defaults, with the report and the value limit from the environment.
    pub(crate) fn new(sampler: &Sampler) -> Self {
        Self {
            sampler: sampler.clone(),
            metrics: None,
            report: report_from_env(),
            recent: Recent::default(),
            in_current_span: false,
            value_limit: value_limit_from_env(),
        }
    }

    /// The same settings, with rolling averages of its own.
    pub(crate) fn settings(&self) -> Self {
        Self {
            sampler: self.sampler.clone(),
            metrics: self.metrics.clone(),
            report: self.report,
            recent: Recent::default(),
            in_current_span: self.in_current_span,
            value_limit: self.value_limit,
        }
    }
}

/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, read once per layer; an unusable value (which
/// `otlp::init` refuses) is reported once per process here and the default applies.
fn value_limit_from_env() -> usize {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let raw = std::env::var_os(crate::env::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT);
    let value = raw.as_ref().map(|v| v.to_string_lossy());
    crate::env::value_length_limit(value.as_deref()).unwrap_or_else(|e| {
        if !REPORTED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "otel-resmon: {e}; request values on spans are cut to {} characters",
                crate::env::DEFAULT_VALUE_LENGTH_LIMIT
            );
        }
        crate::env::DEFAULT_VALUE_LENGTH_LIMIT
    })
}

/// `RESMON_REPORT`, read once per layer; an unusable value is reported once per process.
fn report_from_env() -> bool {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let Some(raw) = std::env::var_os(super::ENV_REPORT) else {
        return false;
    };
    let value = raw.to_string_lossy();
    if value.trim().is_empty() {
        return false;
    }
    match raw.to_str().and_then(crate::env::switch) {
        Some(on) => on,
        None => {
            if !REPORTED.swap(true, Ordering::Relaxed) {
                eprintln!(
                    "otel-resmon: invalid {}={value:?}: must be one of 1, 0, true, false, on, \
                     off, yes, no; the per-request summary stays off",
                    super::ENV_REPORT
                );
            }
            false
        }
    }
}
