//! A service whose subscriber lacks `ResourceLayer` (issue 24, item 5): `ResourceTraceLayer`
//! warns once, through that subscriber, however many requests it serves. Its own test binary:
//! the check is once per process.
#![cfg(all(feature = "axum", target_os = "linux"))]

mod common;

use std::sync::{Arc, Mutex};

use axum::{routing::get, Router};
use opentelemetry::trace::TracerProvider as _;
use otel_resmon::tower::ResourceTraceLayer;
use otel_resmon::Sampler;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Keeps the message of every event from the crate.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if event.metadata().target() == "otel_resmon" {
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push(m.0);
        }
    }
}

#[test]
fn a_subscriber_without_resource_layer_is_warned_about_once() {
    let warnings = Warnings::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    // The user's own subscriber: tracing-opentelemetry, and no ResourceLayer.
    let subscriber = tracing_subscriber::registry()
        .with(warnings.clone())
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("app")));
    let dispatch = tracing::Dispatch::new(subscriber);
    let runtime = common::runtime_under(&dispatch);
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(ResourceTraceLayer::new(&sampler));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        for _ in 0..3 {
            let body = reqwest::get(format!("http://{addr}/hello"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, "hello");
        }
    });
    let seen = warnings.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one warning for three requests: {seen:?}");
    assert!(seen[0].contains("without ResourceLayer"), "{}", seen[0]);
}
