//! The README's bring-your-own-subscriber recipe is `examples/own_subscriber.rs`, word for
//! word, and it works: run against rotel over gRPC, its span arrives with the crate's figures,
//! its Resource carries the GPU inventory, the crate's metrics arrive, and its `fmt` layer
//! prints the event.
#![cfg(all(feature = "nvml", feature = "otlp", target_os = "linux"))]

mod common;

use std::process::Command;

use common::fake_nvml::{two_gpus, FakeNvml};
use common::rotel::Rotel;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_readme_recipe_is_the_example() {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{ROOT}/examples/own_subscriber.rs")).unwrap();
    let begin = "<!-- examples/own_subscriber.rs: begin -->\n```rust,no_run\n";
    let end = "```\n<!-- examples/own_subscriber.rs: end -->";
    let start = readme
        .find(begin)
        .expect("the recipe's begin marker in README.md")
        + begin.len();
    let stop = start + readme[start..].find(end).expect("its end marker");
    assert_eq!(
        &readme[start..stop],
        example,
        "README.md's recipe differs from examples/own_subscriber.rs: copy the file into it"
    );
}

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
        .env("RUST_LOG", "info")
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
        stdout.contains("worked"),
        "the fmt layer prints the event: {stdout}"
    );
    let got = rotel.wait_for("the recipe's span and metrics", |o| {
        o.contains("Name           : own_subscriber.work")
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
}
