//! An LLM chat backend on axum (the Python tutor backend this crate grew from, redone): every
//! request is a server span with its GPU, CPU and RAM figures, exported over OTLP with the
//! resource metrics. README.md's axum quick start is the part between the `README` markers.
//!
//! ```sh
//! cargo run --example axum_server -- 127.0.0.1:5001
//! curl -s localhost:5001/api/chat -H 'content-type: application/json' \
//!      -d '{"prompt": "Explain CUDA streams", "session_id": "s1"}'
//! curl -s localhost:5001/api/status
//! OTEL_METRICS_EXPORTER=otlp,prometheus cargo run --example axum_server  # and then:
//! curl -s localhost:5001/metrics
//! ```
//! `RESMON_REPORT=1` prints a summary of every request on stderr. Ctrl-C or SIGTERM stops it
//! gracefully and flushes the telemetry.

use std::time::Instant;

use axum::extract::Extension;
use axum::routing::post;
use axum::{Json, Router};
use otel_resmon::tower::{RequestResources, ResourceTraceLayer, StatusService};
use serde_json::{json, Value};

/// A stand-in for model inference: real CPU work and real memory, both proportional to the
/// prompt (about 1 ms of CPU and 1 MiB per 8 characters).
fn infer(prompt: &str) -> String {
    let units = prompt.len().div_ceil(8).max(1);
    // Memory the "model" touches for this prompt.
    let mut activations = vec![0u8; units << 20];
    for (i, b) in activations.iter_mut().enumerate().step_by(4096) {
        *b = i as u8;
    }
    // CPU: count primes, as the Python backend's stress test did.
    let limit = 20_000 * units as u64;
    let primes = (2..limit)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .count();
    let checksum: u64 = activations
        .iter()
        .step_by(4096)
        .map(|&b| u64::from(b))
        .sum();
    format!(
        "({} primes below {limit}, {} MiB of activations, checksum {checksum}) You asked: {prompt}",
        primes, units
    )
}

async fn chat(
    Extension(resources): Extension<RequestResources>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let started = Instant::now();
    let prompt = body["prompt"].as_str().unwrap_or_default().to_owned();
    let session_id = body["session_id"]
        .as_str()
        .unwrap_or("anonymous")
        .to_owned();
    let answer = {
        let _span = tracing::info_span!("llm.generate", prompt.chars = prompt.len()).entered();
        infer(&prompt)
    };
    // Exact at this end (one sampler pass): the reply is read by people.
    let so_far = resources.so_far_exact();
    let start = resources.start();
    Json(json!({
        "response": answer,
        "session_id": session_id,
        "performance_metrics": {
            "response_time_seconds": started.elapsed().as_secs_f64(),
            "prompt_length": prompt.len(),
            "process_cpu_seconds": so_far.process_cpu_time,
            "rss_delta_bytes": so_far.rss_delta,
            "gpu_memory_delta": so_far.gpu_memory_delta.iter().map(|d| json!({
                "index": d.index,
                "uuid": &*d.uuid,
                "bytes": d.bytes,
            })).collect::<Vec<_>>(),
            "sample_age_seconds": so_far.sample_age.as_secs_f64(),
            "gpu_status": start.gpu_status.as_str(),
            "gpus": start.gpus.iter().map(|g| json!({
                "index": g.index,
                "name": &*g.name,
                "memory_used_bytes": g.memory_used,
                "memory_total_bytes": g.memory_total,
                "utilization": g.utilization_gpu,
                "temperature_celsius": g.temperature,
            })).collect::<Vec<_>>(),
        },
    }))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5001".to_owned());
    // README: begin axum
    let telemetry = otel_resmon::otlp::init()?; // OTEL_* and RESMON_* settings, global subscriber
    let sampler = telemetry.sampler().clone();
    let status = StatusService::new(&sampler); // JSON: latest snapshot, GPUs, sampler health
    let app = Router::new()
        .route("/api/chat", post(chat))
        .layer(ResourceTraceLayer::new(&sampler).metrics(&opentelemetry::global::meter("chat")))
        .route_service("/api/status", status.clone())
        .route_service("/api/gpu-debug", status);
    // README: end axum
    // OTEL_METRICS_EXPORTER=otlp,prometheus (or prometheus): a scrape endpoint too.
    let app = match telemetry.prometheus() {
        Some(metrics) => app.route_service("/metrics", metrics),
        None => app,
    };
    let latest = sampler.latest();
    if latest.gpus.is_empty() {
        eprintln!(
            "axum_server: no GPU figures ({}); serving CPU and RAM figures",
            latest.gpu_status
        );
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!(
        "axum_server: listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    eprintln!("axum_server: stopping, flushing telemetry");
    // Off the async worker: the flush waits for the exporters.
    // A collector that is down is not the server's failure: say so, in one line.
    if let Err(e) = tokio::task::spawn_blocking(move || telemetry.shutdown()).await? {
        eprintln!("axum_server: telemetry was not fully delivered: {e}");
    }
    Ok(())
}
