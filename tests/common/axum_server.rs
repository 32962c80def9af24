//! The axum example as a server under test: on a port the kernel chose, exporting to a rotel
//! collector.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
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

/// The axum example, listening on a port the kernel chose, exporting to `rotel`.
pub struct AxumServer {
    pub child: std::process::Child,
    pub port: u16,
    /// Drains the server's stderr from the start (the pipe never fills); `stop` joins it.
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl AxumServer {
    pub fn start(rotel: &Rotel, fake: &FakeNvml, service: &str, env: &[(&str, &str)]) -> Self {
        Self::start_binary(&example("axum_server"), rotel, fake, service, env)
    }

    /// As [`AxumServer::start`], with this build of the example (a release one, say).
    ///
    /// The server binds `127.0.0.1:0` and the port is read from its own "listening on" line:
    /// a port picked here and bound there could be taken in between by a parallel test, and
    /// polling it with connects could connect a socket to itself (Linux simultaneous open).
    pub fn start_binary(
        binary: &std::path::Path,
        rotel: &Rotel,
        fake: &FakeNvml,
        service: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let mut cmd = Command::new(binary);
        otlp_env(&mut cmd, rotel, fake, service);
        let mut child = cmd
            .envs(env.iter().copied())
            .arg("127.0.0.1:0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<u16>();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .strip_prefix("axum_server: listening on http://")
                    .and_then(|addr| addr.rsplit(':').next())
                    .and_then(|port| port.trim().parse().ok())
                {
                    let _ = tx.send(port);
                }
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not say it listened; its stderr:\n{}",
                    stderr.join().unwrap_or_default()
                );
            }
        };
        Self {
            child,
            port,
            stderr: Some(stderr),
        }
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
        let stderr = self
            .stderr
            .take()
            .map(|reader| reader.join().unwrap())
            .unwrap_or_default();
        assert!(status.success(), "exit {status:?}: {stderr}");
        stderr
    }
}

/// How a server ended after SIGTERM ([`AxumServer::terminate`]).
pub struct Stopped {
    /// From the signal to the exit; `None` when it had not exited within the wait (then it was
    /// killed).
    pub after: Option<Duration>,
    /// Its exit status, when it exited by itself.
    pub status: Option<std::process::ExitStatus>,
    pub stderr: String,
}

impl AxumServer {
    /// SIGTERM, then waits up to `wait` for the exit and measures it; a server still running
    /// then is killed (SIGKILL). Never hangs, never fails: the caller judges the result.
    pub fn terminate(mut self, wait: Duration) -> Stopped {
        let signalled = Instant::now();
        // SAFETY: kill with a valid pid of our own child and a standard signal.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let (after, status) = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break (Some(signalled.elapsed()), Some(status));
            }
            if signalled.elapsed() >= wait {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break (None, None);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stderr = self
            .stderr
            .take()
            .map(|reader| reader.join().unwrap_or_default())
            .unwrap_or_default();
        Stopped {
            after,
            status,
            stderr,
        }
    }
}

impl Drop for AxumServer {
    /// A test that failed midway leaves no server behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
