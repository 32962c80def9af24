//! End to end: `examples/quickstart.rs` (the one-call pipeline) exports to a real rotel
//! collector on loopback, over gRPC and over HTTP/protobuf; and runs with no collector at all.
#![cfg(all(feature = "nvml", feature = "otlp", target_os = "linux"))]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::fake_nvml::{two_gpus, FakeNvml};
use common::rotel::{metric_descriptors, span_section, Rotel};

fn pod_cgroup() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cgroup/v2-kubepods-systemd")
}

fn quickstart() -> PathBuf {
    common::example("quickstart")
}

fn run_quickstart(protocol: &str, endpoint: &str, fake: &FakeNvml) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(quickstart())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .env("OTEL_SERVICE_NAME", format!("e2e-{protocol}"))
        .env("RESMON_NVML_LIB", fake.library())
        // A pod's cgroup (a fixture): every container metric, the Kubernetes limits and the
        // container and pod ids on the Resource.
        .env("RESMON_CGROUP_ROOT", pod_cgroup())
        .env("RESMON_INTERVAL_MS", "50")
        .env("QUICKSTART_SECONDS", "0.9")
        .output()
        .expect("run the quickstart example");
    (out, started.elapsed())
}

const METRICS: &[(&str, &str, &str, Option<bool>)] = &[
    ("hw.gpu.memory.usage", "By", "Sum", Some(false)),
    ("hw.gpu.memory.limit", "By", "Sum", Some(false)),
    ("hw.gpu.memory.utilization", "1", "Gauge", None),
    ("hw.gpu.utilization", "1", "Gauge", None),
    ("hw.power", "W", "Gauge", None),
    ("hw.energy", "J", "Sum", Some(true)),
    ("hw.temperature", "Cel", "Gauge", None),
    ("hw.temperature.limit", "Cel", "Gauge", None),
    ("hw.gpu.io", "By", "Sum", Some(true)),
    ("hw.errors", "{error}", "Sum", Some(true)),
    ("hw.status", "1", "Sum", Some(false)),
    ("resmon.gpu.clock", "MHz", "Gauge", None),
    ("resmon.gpu.clock_event", "1", "Sum", Some(false)),
    ("resmon.gpu.throttled_time", "s", "Sum", Some(true)),
    ("process.gpu.memory.usage", "By", "Sum", Some(false)),
    ("system.cpu.utilization", "1", "Gauge", None),
    ("system.memory.usage", "By", "Sum", Some(false)),
    ("system.memory.limit", "By", "Sum", Some(false)),
    ("process.cpu.time", "s", "Sum", Some(true)),
    ("process.memory.usage", "By", "Sum", Some(false)),
    ("container.memory.usage", "By", "Sum", Some(false)),
    ("container.memory.working_set", "By", "Sum", Some(false)),
    ("container.memory.available", "By", "Sum", Some(false)),
    ("container.cpu.time", "s", "Sum", Some(true)),
    ("container.cpu.usage", "{cpu}", "Gauge", None),
    (
        "k8s.container.memory.limit.current",
        "By",
        "Sum",
        Some(false),
    ),
    (
        "k8s.container.cpu.limit.current",
        "{cpu}",
        "Sum",
        Some(false),
    ),
    (
        "resmon.container.cpu.throttled_time",
        "s",
        "Sum",
        Some(true),
    ),
    (
        "resmon.container.cpu.throttled_periods",
        "{period}",
        "Sum",
        Some(true),
    ),
    (
        "resmon.container.memory.oom_kills",
        "{kill}",
        "Sum",
        Some(true),
    ),
    ("resmon.span.process.cpu.time", "s", "Histogram", None),
    ("resmon.span.process.memory.growth", "By", "Histogram", None),
    ("resmon.span.gpu.memory.peak", "By", "Histogram", None),
];

const SPAN_ATTRIBUTES: &[(&str, &str)] = &[
    ("resmon.gpu.1.memory.usage.end", "Int("),
    ("resmon.sample.age", "Double("),
    ("resmon.process.cpu.time.delta", "Double("),
    ("resmon.process.memory.usage.end", "Int("),
    ("resmon.process.memory.usage.delta", "Int("),
    ("resmon.system.memory.usage.end", "Int("),
    ("resmon.container.memory.working_set.end", "Int("),
    ("resmon.gpu.0.memory.usage.end", "Int("),
    ("resmon.gpu.0.memory.usage.peak", "Int("),
    ("resmon.gpu.1.process.memory.usage.end", "Int("),
    ("resmon.gpu.1.utilization.mean", "Double("),
];

fn end_to_end(protocol: &str) {
    let rotel = Rotel::start();
    let fake = FakeNvml::new(&two_gpus());
    let endpoint = match protocol {
        "grpc" => format!("http://127.0.0.1:{}", rotel.grpc_port),
        _ => format!("http://127.0.0.1:{}", rotel.http_port),
    };
    let (out, took) = run_quickstart(protocol, &endpoint, &fake);
    assert!(
        out.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("quickstart over {protocol} ran {took:?}");

    let received = rotel.wait_for("the spans and every metric", |o| {
        o.contains("Name           : quickstart.step")
            && METRICS
                .iter()
                .all(|(name, ..)| o.contains(&format!("-> Name: {name}\n")))
    });
    assert!(received.contains(&format!("service.name: Str(e2e-{protocol})")));
    assert!(
        received.contains("resmon.gpu.driver.version: Str(550.54.15)"),
        "inventory on the Resource"
    );
    assert!(
        received.contains(
            "container.id: Str(3f4a9e1c2b7d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f)"
        ) && received.contains("k8s.pod.uid: Str(0c7ae2d5-9b1e-4c2a-8f3e-6d5c4b3a2e1f)"),
        "container and pod on the Resource"
    );

    let descriptors = metric_descriptors(&received);
    for (name, unit, data_type, monotonic) in METRICS {
        let d = descriptors
            .iter()
            .find(|d| d.name == *name)
            .unwrap_or_else(|| panic!("metric {name} not received"));
        assert_eq!(
            (&d.unit[..], &d.data_type[..], d.monotonic),
            (*unit, *data_type, *monotonic),
            "{name}"
        );
    }
    let step_attributes = span_section(&received, "quickstart.step");
    for (key, typed) in SPAN_ATTRIBUTES {
        let line = format!("-> {key}: {typed}");
        assert!(
            step_attributes.contains(&line),
            "span attribute `{line}` missing in:\n{step_attributes}"
        );
    }
    // Bounded metric attributes: no pid or command line anywhere.
    for forbidden in ["process.pid", "process.command", "process.executable"] {
        assert!(!received.contains(forbidden), "{forbidden} exported");
    }
}

#[test]
fn spans_and_metrics_reach_rotel_over_grpc() {
    end_to_end("grpc");
}

#[test]
fn spans_and_metrics_reach_rotel_over_http_protobuf() {
    end_to_end("http/protobuf");
}

#[test]
fn with_the_collector_down_the_program_runs_and_shuts_down_quickly() {
    let fake = FakeNvml::new(&two_gpus());
    // A port nobody listens on.
    let port = common::free_port();
    for protocol in ["grpc", "http/protobuf"] {
        let (out, took) = run_quickstart(protocol, &format!("http://127.0.0.1:{port}"), &fake);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{protocol}: {took:?}, stderr {} bytes", stderr.len());
        assert!(
            out.status.success(),
            "{protocol}: the program failed: {stderr}"
        );
        // 0.9 s of work, then a shutdown bounded by the export timeout (2 s) per signal.
        assert!(took < Duration::from_secs(12), "{protocol}: took {took:?}");
        assert!(stderr.len() < 20_000, "{protocol}: unbounded error output");
    }
}
