//! TLS to a real TLS endpoint (Debian's nginx in front of rotel, certificates from
//! `openssl`), over gRPC and HTTP/protobuf: spans and metrics arrive with the spec's
//! certificate variables, a client certificate is presented where the collector requires
//! one, and a collector certificate from another CA is refused with a message that says so.
//! And every failure path of `init()`, from inside `#[tokio::main]` (the axum example), is an
//! error naming the setting, never a panic.
#![cfg(all(
    feature = "nvml",
    feature = "otlp",
    feature = "axum",
    target_os = "linux"
))]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fake_nvml::{two_gpus, FakeNvml};
use common::rotel::Rotel;
use common::tls_front::{Certs, TlsFront};

const PROTOCOLS: [&str; 2] = ["grpc", "http/protobuf"];

/// Runs the quickstart example (one run, three steps, metrics every 300 ms) with `env`.
fn quickstart(fake: &FakeNvml, protocol: &str, endpoint: &str, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(common::example("quickstart"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "3000")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .env("OTEL_SERVICE_NAME", format!("tls-{protocol}"))
        .env("RESMON_NVML_LIB", fake.library())
        .env("QUICKSTART_SECONDS", "0.6");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the quickstart example")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The quickstart's spans and GPU metrics reached rotel through the TLS front.
fn arrived(rotel: &Rotel, protocol: &str, front: &TlsFront, out: &Output) {
    let service = format!("tls-{protocol}");
    assert!(out.status.success(), "quickstart failed: {}", stderr(out));
    assert!(
        !stderr(out).contains("not fully delivered"),
        "over {protocol}: {}\nnginx: {}",
        stderr(out),
        front.error_log()
    );
    rotel.wait_for(&format!("the spans and metrics of {service}"), |o| {
        o.contains(&format!("Str({service})"))
            && o.contains("Name           : quickstart.step")
            && o.contains("-> Name: hw.gpu.memory.usage")
    });
}

#[test]
fn spans_and_metrics_arrive_over_tls_by_grpc_and_by_http() {
    let certs = Certs::generate();
    let fake = FakeNvml::new(&two_gpus());
    for protocol in PROTOCOLS {
        let rotel = Rotel::start();
        let front = TlsFront::start(&rotel, &certs);
        let endpoint = format!("https://127.0.0.1:{}", front.port);
        let out = quickstart(
            &fake,
            protocol,
            &endpoint,
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &certs.path("ca.pem"))],
        );
        arrived(&rotel, protocol, &front, &out);
    }
}

#[test]
fn a_client_certificate_is_presented_where_the_collector_requires_one() {
    let certs = Certs::generate();
    let fake = FakeNvml::new(&two_gpus());
    for protocol in PROTOCOLS {
        let rotel = Rotel::start();
        let front = TlsFront::start(&rotel, &certs);
        let endpoint = format!("https://127.0.0.1:{}", front.mtls_port);
        // The per-signal forms for traces, the generic ones for metrics.
        let out = quickstart(
            &fake,
            protocol,
            &endpoint,
            &[
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", &certs.path("ca.pem")),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                    &certs.path("client.pem"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                    &certs.path("client.key"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    &certs.path("client.pem"),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &certs.path("client.key")),
            ],
        );
        arrived(&rotel, protocol, &front, &out);

        // Without it, the collector refuses, and the guard says nothing arrived.
        let out = quickstart(
            &fake,
            protocol,
            &endpoint,
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &certs.path("ca.pem"))],
        );
        let said = stderr(&out);
        eprintln!("over {protocol}, without a client certificate: {said}");
        assert!(said.contains("not fully delivered"), "{said}");
        assert!(!said.contains("panicked"), "{said}");
    }
}

#[test]
fn a_collector_certificate_from_another_ca_is_refused_with_a_clear_error() {
    let certs = Certs::generate();
    let fake = FakeNvml::new(&two_gpus());
    for protocol in PROTOCOLS {
        let rotel = Rotel::start();
        let front = TlsFront::start(&rotel, &certs);
        let endpoint = format!("https://127.0.0.1:{}", front.port);
        let out = quickstart(
            &fake,
            protocol,
            &endpoint,
            &[(
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                &certs.path("wrong-ca.pem"),
            )],
        );
        let said = stderr(&out);
        eprintln!("over {protocol}, with the wrong CA: {said}");
        assert!(
            out.status.success(),
            "the program itself carries on: {said}"
        );
        assert!(!said.contains("panicked"), "{said}");
        assert!(
            said.contains("not fully delivered")
                && said.to_ascii_lowercase().contains("certificate"),
            "the message says the certificate was refused: {said}"
        );
        assert!(
            !rotel.output().contains("quickstart.step"),
            "nothing passes a collector whose certificate is not trusted"
        );
    }
}

/// The axum example (its `main` is `#[tokio::main]` and calls `otlp::init()` first) with
/// `env`: it must exit with init's error, naming `names`, and not panic.
fn init_fails_inside_tokio_main(
    fake: &FakeNvml,
    protocol: &str,
    env: &[(&str, &str)],
    names: &[&str],
) {
    let mut cmd = Command::new(common::example("axum_server"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        .env("RESMON_NVML_LIB", fake.library())
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the axum example");
    // Were init to succeed, the server would serve until stopped: that is a failure too.
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{protocol} {env:?}: init() did not fail; the server kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let said = stderr(&out);
    eprintln!("{protocol} {env:?}: {}", said.trim());
    assert_eq!(
        out.status.code(),
        Some(1),
        "init's error, not a panic (101): {said}"
    );
    assert!(!said.contains("panicked"), "{said}");
    for name in names {
        assert!(said.contains(name), "the error names {name}: {said}");
    }
}

/// The variables of one failure, and what its error must name.
type Case<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[test]
fn no_failure_path_of_init_panics_inside_tokio_main() {
    let certs = Certs::generate();
    let fake = FakeNvml::new(&two_gpus());
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let ca = certs.path("ca.pem").display().to_string();
    let client = certs.path("client.pem").display().to_string();
    let other_key = certs.path("server.key").display().to_string();
    let missing = dir.path().join("missing.pem").display().to_string();
    let garbage = garbage.display().to_string();
    let https = "https://127.0.0.1:1";
    for protocol in PROTOCOLS {
        let cases: Vec<Case> = vec![
            // Before anything starts: a variable, a directive, the sampler's settings.
            (
                vec![("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
                vec!["OTEL_EXPORTER_OTLP_TIMEOUT"],
            ),
            (
                vec![("RUST_LOG", "info,h2=loud")],
                vec!["RUST_LOG", "h2=loud"],
            ),
            (
                vec![("RESMON_INTERVAL_MS", "0")],
                vec!["RESMON_INTERVAL_MS"],
            ),
            // The certificate files.
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", https),
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", &missing),
                ],
                vec!["OTEL_EXPORTER_OTLP_CERTIFICATE", "cannot be read"],
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", &garbage)],
                vec!["OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"],
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client)],
                vec![
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                ],
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
                    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", &client),
                    ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", &garbage),
                ],
                vec!["OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"],
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client),
                    ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &other_key),
                ],
                vec![
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                ],
            ),
            // After the export runtime has started (the path that used to panic when the
            // runtime was dropped): an https endpoint and no trusted roots on the system.
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", https),
                    ("SSL_CERT_FILE", &missing),
                    ("SSL_CERT_DIR", &missing),
                ],
                vec!["https://127.0.0.1:1", "OTEL_EXPORTER_OTLP_CERTIFICATE"],
            ),
        ];
        for (env, names) in cases {
            init_fails_inside_tokio_main(&fake, protocol, &env, &names);
        }
    }
}
