//! The axum example as a server under test: on a free port, exporting to a rotel collector.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::example;
use super::fake_nvml::FakeNvml;
use super::rotel::Rotel;

pub fn otlp_env(cmd: &mut Command, rotel: &Rotel, fake: &FakeNvml, service: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", rotel.http_port),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "300")
        .env("OTEL_SERVICE_NAME", service)
        .env("RESMON_NVML_LIB", fake.library())
        .env("RESMON_INTERVAL_MS", "50");
}

/// The axum example, listening on a free port, exporting to `rotel`.
pub struct AxumServer {
    pub child: std::process::Child,
    pub port: u16,
}

impl AxumServer {
    pub fn start(rotel: &Rotel, fake: &FakeNvml, service: &str, env: &[(&str, &str)]) -> Self {
        Self::start_binary(&example("axum_server"), rotel, fake, service, env)
    }

    /// As [`AxumServer::start`], with this build of the example (a release one, say).
    pub fn start_binary(
        binary: &std::path::Path,
        rotel: &Rotel,
        fake: &FakeNvml,
        service: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let port = super::free_port();
        let mut cmd = Command::new(binary);
        otlp_env(&mut cmd, rotel, fake, service);
        let child = cmd
            .envs(env.iter().copied())
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGTERM: a graceful stop with the telemetry flushed, and exit 0. Returns its stderr.
    pub fn stop(mut self) -> String {
        // SAFETY: kill with a valid pid of our own child and a standard signal.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut pipe, &mut stderr).unwrap();
        }
        assert!(status.success(), "exit {status:?}: {stderr}");
        stderr
    }
}
