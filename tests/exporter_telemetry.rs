//! No telemetry about telemetry: the axum example under load for over 30 s, exporting to a
//! real collector (rotel) over gRPC and over HTTP/protobuf. The collector receives the
//! application's spans, every one of them, and not one span or event of the export path's
//! machinery (the exporter's runtime, tonic, h2, hyper, reqwest, rustls, the SDK), although
//! the service asks for every level of every target (`RUST_LOG=trace`).
#![cfg(all(
    feature = "nvml",
    feature = "otlp",
    feature = "axum",
    target_os = "linux"
))]

mod common;

use std::time::{Duration, Instant};

use common::axum_server::AxumServer;
use common::fake_nvml::{two_gpus, FakeNvml};
use common::rotel::Rotel;

/// How long the service is under load.
const LOAD: Duration = Duration::from_secs(31);
/// Requests in flight at once.
const CONCURRENCY: usize = 4;

/// The crates the export path runs through; a span or event from any of them, or from a
/// thread of the exporter's own, is telemetry about telemetry.
const MACHINERY: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "rustls",
    "tokio_rustls",
    "hyper_rustls",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];

/// The spans and events in rotel's output whose `target` is a crate of the export path's,
/// or that were made on the exporter's threads, as `(target or thread, count)`.
fn machinery(out: &str) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for line in out.lines() {
        let line = line.trim();
        let found = if let Some(target) = line.strip_prefix("-> target: Str(") {
            let target = target.trim_end_matches(')');
            let krate = target.split("::").next().unwrap_or_default();
            MACHINERY.contains(&krate).then(|| target.to_owned())
        } else if let Some(thread) = line.strip_prefix("-> thread.name: Str(") {
            let thread = thread.trim_end_matches(')');
            (thread.starts_with("otel-resmon-otlp") || thread.starts_with("reqwest-internal"))
                .then(|| format!("thread {thread}"))
        } else {
            None
        };
        if let Some(what) = found {
            *counts.entry(what).or_default() += 1;
        }
    }
    counts.into_iter().collect()
}

/// Runs the axum example exporting over `protocol` under load; returns how many requests
/// it answered and what rotel printed.
fn under_load(protocol: &str) -> (usize, String) {
    let rotel = Rotel::start();
    let fake = FakeNvml::new(&two_gpus());
    let endpoint = match protocol {
        "grpc" => format!("http://127.0.0.1:{}", rotel.grpc_port),
        _ => format!("http://127.0.0.1:{}", rotel.http_port),
    };
    let server = AxumServer::start(
        &rotel,
        &fake,
        &format!("exporter-telemetry-{protocol}"),
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            // Every level of every target: the export path stays out regardless.
            ("RUST_LOG", "trace"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answered = runtime.block_on(async {
        let client = reqwest::Client::new();
        let until = Instant::now() + LOAD;
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|w| {
                let client = client.clone();
                let url = server.url("/api/chat");
                tokio::spawn(async move {
                    let mut n = 0;
                    while Instant::now() < until {
                        let body = format!(r#"{{"prompt": "load {w} {n}", "session_id": "w{w}"}}"#);
                        let reply = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                            .unwrap();
                        assert!(reply.status().is_success());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut answered = 0;
        for w in workers {
            answered += w.await.unwrap();
        }
        answered
    });
    server.stop();
    let out = rotel.wait_for("every request's span", |o| {
        o.matches("Name           : POST /api/chat").count() >= answered
    });
    (answered, out)
}

fn check(protocol: &str) {
    let (answered, out) = under_load(protocol);
    let found = machinery(&out);
    let spans = out.matches("Span #").count();
    eprintln!(
        "{protocol}: {answered} requests, {spans} spans received, \
         {} of the export path's: {found:?}",
        found.iter().map(|(_, n)| n).sum::<usize>()
    );
    assert!(answered > 100, "only {answered} requests in {LOAD:?}");
    assert_eq!(
        out.matches("Name           : POST /api/chat").count(),
        answered,
        "one request span per request"
    );
    assert!(
        found.is_empty(),
        "over {protocol}, the collector received the export path's own telemetry: {found:?}"
    );
}

#[test]
fn over_grpc_the_collector_receives_only_the_applications_spans() {
    check("grpc");
}

#[test]
fn over_http_the_collector_receives_only_the_applications_spans() {
    check("http/protobuf");
}
