//! The README's bring-your-own-subscriber recipe (`examples/own_subscriber.rs`; `tests/readme.rs`
//! checks the README shows it word for word) works: run against rotel over gRPC, its request
//! span is tower-http's, renamed and carrying the HTTP attributes and the crate's figures, its
//! plain span arrives with the figures, its Resource carries the GPU inventory, the crate's
//! metrics arrive, and its `fmt` layer prints the events.
#![cfg(all(
    feature = "nvml",
    feature = "otlp",
    feature = "axum",
    target_os = "linux"
))]

mod common;

use std::process::Command;

use common::fake_nvml::{two_gpus, FakeNvml};
use common::rotel::{span_section, Rotel};

#[test]
fn the_recipe_exports_spans_figures_resource_and_metrics() {
    let rotel = Rotel::start();
    let fake = FakeNvml::new(&two_gpus());
    let out = Command::new(common::example("own_subscriber"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", rotel.grpc_port),
        )
        .env("OTEL_SERVICE_NAME", "own-subscriber")
        // RUST_LOG unset: the recipe's filters default to `info`.
        .env("RESMON_NVML_LIB", fake.library())
        .output()
        .expect("run the own_subscriber example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("worked") && stdout.contains("answered"),
        "the fmt layer prints the events: {stdout}"
    );
    let got = rotel.wait_for("the recipe's span and metrics", |o| {
        o.contains("Name           : own_subscriber.work")
            && o.contains("Name           : GET /hello")
            && o.contains("-> Name: hw.gpu.memory.usage")
    });
    for expected in [
        "Str(own-subscriber)",
        // The Resource from otlp::resource: the fake's two GPUs.
        "resmon.gpu.count: Int(2)",
        "resmon.gpu.0.uuid",
        // The figures ResourceLayer wrote on the span.
        "resmon.process.memory.usage.end",
        "resmon.gpu.0.memory.usage.end",
    ] {
        assert!(got.contains(expected), "rotel has no {expected}:\n{got}");
    }
    // tower-http's span, renamed by ResourceTraceLayer, with the HTTP attributes and figures.
    let request = span_section(&got, "GET /hello");
    for expected in [
        "-> http.route: Str(/hello)",
        "-> http.response.status_code: Int(200)",
        "-> resmon.process.memory.usage.end: Int(",
        "-> resmon.gpu.0.memory.usage.end: Int(",
    ] {
        assert!(request.contains(expected), "no {expected} in:\n{request}");
    }
}
