//! The warnings and errors the OTel SDK logs through `tracing`, as a layer of the subscriber
//! under test.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The warnings and errors the OTel SDK and exporter logged through `tracing` (their
/// `internal-logs`), counted by event name (`BatchSpanProcessor.SpansDropped` counts the
/// spans it reports dropped). They log from inside the layers' callbacks (a span dropped at
/// its end) and from their own threads, through this same subscriber. Every event is
/// formatted, as a log layer would (`FAULTS_PRINT_SDK_LOG=1` prints it).
#[derive(Clone, Default)]
pub struct SdkLog(Arc<Mutex<HashMap<String, usize>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SdkLog {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let target = event.metadata().target();
        if target.starts_with("opentelemetry") {
            let name = event.metadata().name().to_owned();
            let mut fields = String::new();
            event.record(&mut |f: &tracing::field::Field, v: &dyn std::fmt::Debug| {
                fields.push_str(&format!(" {}={v:?}", f.name()))
            });
            if std::env::var_os("FAULTS_PRINT_SDK_LOG").is_some() {
                eprintln!("{:?} {target} {name}{fields}", std::time::SystemTime::now());
            }
            if *event.metadata().level() <= tracing::Level::WARN {
                // The count of spans the queue dropped comes with the shutdown's warning.
                let mut dropped = None;
                event.record(&mut |f: &tracing::field::Field, v: &dyn std::fmt::Debug| {
                    if f.name() == "dropped_span_count" {
                        dropped = format!("{v:?}").parse::<usize>().ok();
                    }
                });
                *self.0.lock().unwrap().entry(name).or_default() += dropped.unwrap_or(1);
            }
        }
    }
}

impl SdkLog {
    /// What was logged since the last call, sorted by name.
    pub fn take(&self) -> Vec<(String, usize)> {
        let mut logged: Vec<_> = std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .collect();
        logged.sort();
        logged
    }

    /// How often (or, for `BatchSpanProcessor.SpansDropped`, how many spans) `name` was logged
    /// since the last `take`.
    pub fn count(&self, name: &str) -> usize {
        self.0.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}
