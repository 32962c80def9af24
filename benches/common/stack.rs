//! The usual tracing stack the span benchmarks measure against: registry +
//! tracing-opentelemetry + an SDK tracer whose exporter discards, with or without
//! `ResourceLayer`.
#![allow(dead_code)]

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use otel_resmon::{ResourceLayer, Sampler};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
pub struct Discard;

impl SpanExporter for Discard {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        drop(batch);
        std::future::ready(Ok(()))
    }
}

pub fn provider() -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_simple_exporter(Discard)
        .build()
}

/// The stack without the crate.
pub fn baseline() -> (Dispatch, SdkTracerProvider) {
    let provider = provider();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    (
        Dispatch::new(tracing_subscriber::registry().with(otel)),
        provider,
    )
}

/// The same stack with `ResourceLayer` (default figure set) on `sampler`.
pub fn with_layer(sampler: &Sampler) -> (Dispatch, SdkTracerProvider) {
    let provider = provider();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    let subscriber = tracing_subscriber::registry()
        .with(ResourceLayer::new(sampler))
        .with(otel);
    (Dispatch::new(subscriber), provider)
}
