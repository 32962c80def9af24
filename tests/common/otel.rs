//! An OTel SDK tracer with the in-memory exporter behind `ResourceLayer`.
#![allow(dead_code)]

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use otel_resmon::{LayerStatus, ResourceLayerBuilder};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

pub struct Traced {
    pub exporter: InMemorySpanExporter,
    pub provider: SdkTracerProvider,
    pub dispatch: Dispatch,
    pub status: LayerStatus,
}

/// A subscriber: registry, then the resource layer, then tracing-opentelemetry (right order).
pub fn traced(layer: ResourceLayerBuilder) -> Traced {
    traced_activating(layer, true)
}

/// As [`traced`], with tracing-opentelemetry's context activation on or off. Off, for spans
/// exited on another thread than the one that entered them: the activation's guard stays on
/// the entering thread's stack, and panics in a thread-local destructor when it ends.
pub fn traced_activating(layer: ResourceLayerBuilder, context_activation: bool) -> Traced {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = layer.build();
    let status = layer.status();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("test"))
        .with_context_activation(context_activation);
    let subscriber = tracing_subscriber::registry().with(layer).with(otel);
    Traced {
        exporter,
        provider,
        dispatch: Dispatch::new(subscriber),
        status,
    }
}

impl Traced {
    /// Runs `f` with this subscriber as the thread's default.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    pub fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().unwrap();
        self.exporter.get_finished_spans().unwrap()
    }

    pub fn span(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let found: Vec<_> = spans.into_iter().filter(|s| s.name == name).collect();
        assert_eq!(found.len(), 1, "exactly one exported span named {name:?}");
        found.into_iter().next().unwrap()
    }
}

pub fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    attr_in(&span.attributes, key)
}

pub fn attr_in<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

pub fn int(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(v)) => *v,
        other => panic!(
            "{key}: expected an Int, got {other:?} in {:#?}",
            span.attributes
        ),
    }
}

pub fn float(span: &SpanData, key: &str) -> f64 {
    match attr(span, key) {
        Some(Value::F64(v)) => *v,
        other => panic!(
            "{key}: expected a Double, got {other:?} in {:#?}",
            span.attributes
        ),
    }
}

pub fn resmon_keys(span: &SpanData) -> Vec<String> {
    span.attributes
        .iter()
        .map(|kv| kv.key.as_str().to_owned())
        .filter(|k| k.starts_with("resmon."))
        .collect()
}
