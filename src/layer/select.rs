//! Which spans get resource figures, and the per-span options read from their fields.

use tracing_core::field::{Field, Visit};
use tracing_core::span::Attributes;
use tracing_core::{Level, Metadata};

pub use crate::keys::{MARKER_FIELD, SAMPLE_NOW_FIELD};

/// Target of the tower layer's request spans: always selected, whatever the rules (the user
/// added the layer for them), without a marker field that would be exported on every span.
pub(crate) const REQUEST_TARGET: &str = "otel_resmon::http";

/// The span selection rules; all set rules must match.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    /// Most verbose level selected.
    pub(crate) level: Level,
    /// Target prefixes; empty selects every target.
    pub(crate) targets: Vec<String>,
    /// Span name prefixes; empty selects every name.
    pub(crate) names: Vec<String>,
    /// Only spans whose `resmon` field is `true`.
    pub(crate) marker_only: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Self {
            level: Level::INFO,
            targets: Vec::new(),
            names: Vec::new(),
            marker_only: false,
        }
    }
}

/// What a span asked for through its fields.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SpanOptions {
    marker: Option<bool>,
    pub(crate) sample_now: bool,
}

/// Collects the values of the fields named in `wanted` as OTel attributes.
pub(crate) struct FieldValues<'a> {
    pub(crate) wanted: &'a [String],
    pub(crate) values: Vec<opentelemetry::KeyValue>,
}

impl FieldValues<'_> {
    fn put(&mut self, field: &Field, value: opentelemetry::Value) {
        if self.wanted.iter().any(|w| w == field.name()) {
            self.values
                .push(opentelemetry::KeyValue::new(field.name(), value));
        }
    }
}

impl Visit for FieldValues<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned().into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, i64::try_from(value).unwrap_or(i64::MAX).into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

impl Visit for SpanOptions {
    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            MARKER_FIELD => self.marker = Some(value),
            SAMPLE_NOW_FIELD => self.sample_now = value,
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

impl Selection {
    fn matches_metadata(&self, m: &Metadata<'_>) -> bool {
        *m.level() <= self.level
            && (self.targets.is_empty()
                || self
                    .targets
                    .iter()
                    .any(|t| m.target().starts_with(t.as_str())))
            && (self.names.is_empty()
                || self.names.iter().any(|n| m.name().starts_with(n.as_str())))
    }

    /// The span's options if it is selected, `None` if not. An explicit marker wins over the
    /// level, target and name rules: `resmon = true` selects, `resmon = false` opts out.
    pub(crate) fn select(&self, attrs: &Attributes<'_>) -> Option<SpanOptions> {
        let m = attrs.metadata();
        if m.target() == REQUEST_TARGET {
            return Some(SpanOptions::default());
        }
        let mut options = SpanOptions::default();
        let fields = m.fields();
        // The field values are read only when the callsite has one of ours.
        if fields.field(MARKER_FIELD).is_some() || fields.field(SAMPLE_NOW_FIELD).is_some() {
            attrs.record(&mut options);
        }
        match options.marker {
            Some(true) => Some(options),
            Some(false) => None,
            None if self.marker_only || !self.matches_metadata(m) => None,
            None => Some(options),
        }
    }
}
