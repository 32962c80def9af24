//! A real OTLP collector (rotel, from PyPI) on free loopback ports, printing what it receives.
#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

pub struct Rotel {
    child: Child,
    pub grpc_port: u16,
    pub http_port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

/// Installs rotel (pinned, into target/rotel-venv) and returns its binary. Fails the test
/// with the reason when it cannot: a missing collector never passes silently.
pub fn rotel_binary() -> PathBuf {
    static BINARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(install).clone()
}

fn install() -> PathBuf {
    let out = Command::new(Path::new(ROOT).join("otel-collector/install-rotel.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run otel-collector/install-rotel.sh");
    assert!(
        out.status.success(),
        "the rotel collector could not be installed (pip install rotel==0.0.1a15); the \
         end-to-end tests need it"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

impl Rotel {
    pub fn start() -> Self {
        Self::start_on(super::free_port(), super::free_port())
    }

    /// A collector on these ports (to bring one back where an earlier one was).
    pub fn start_on(grpc_port: u16, http_port: u16) -> Self {
        let bin = rotel_binary();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("rotel.out");
        let child = Command::new(bin)
            .args(["start", "--otlp-grpc-endpoint"])
            .arg(format!("127.0.0.1:{grpc_port}"))
            .arg("--otlp-http-endpoint")
            .arg(format!("127.0.0.1:{http_port}"))
            .args([
                "--exporter",
                "blackhole",
                "--debug-log",
                "traces",
                "--debug-log",
                "metrics",
                "--debug-log-verbosity",
                "detailed",
            ])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rotel-agent");
        let rotel = Rotel {
            child,
            grpc_port,
            http_port,
            out,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in [grpc_port, http_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "rotel did not listen on {port} in 20 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        rotel
    }

    /// Kills the collector (SIGKILL: no flush, no goodbye) and waits until its ports are free.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How many spans with this name rotel printed so far.
    pub fn spans_named(&self, name: &str) -> usize {
        self.output()
            .matches(&format!("Name           : {name}\n"))
            .count()
    }

    /// What rotel printed so far, without terminal colours.
    pub fn output(&self) -> String {
        let raw = std::fs::read_to_string(&self.out).unwrap_or_default();
        let mut clean = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                clean.push(c);
            }
        }
        clean
    }

    /// Waits until `done` holds for the output.
    pub fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.output();
            if done(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "rotel did not receive {what} in 20 s; it printed:\n{}",
                &out[out.len().saturating_sub(4000)..]
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A metric as rotel's debug output describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDescriptor {
    pub name: String,
    pub unit: String,
    pub data_type: String,
    pub monotonic: Option<bool>,
}

/// The lines rotel printed for the first span named `name`, up to the next span's name: its
/// attributes, events and status. Panics when no such span was printed.
pub fn span_section(out: &str, name: &str) -> String {
    out.split(&format!("Name           : {name}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no span {name} in rotel's output:\n{out}"))
        .lines()
        .take_while(|l| !l.contains("Name           :"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn metric_descriptors(out: &str) -> Vec<MetricDescriptor> {
    let mut found = Vec::new();
    let mut current: Option<MetricDescriptor> = None;
    for line in out.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("-> Name: ") {
            if let Some(m) = current.take() {
                found.push(m);
            }
            current = Some(MetricDescriptor {
                name: name.to_owned(),
                unit: String::new(),
                data_type: String::new(),
                monotonic: None,
            });
        } else if let Some(m) = current.as_mut() {
            if let Some(u) = line.strip_prefix("-> Unit: ") {
                m.unit = u.to_owned();
            } else if line == "-> Unit:" {
                m.unit = String::new();
            } else if let Some(t) = line.strip_prefix("-> DataType: ") {
                m.data_type = t.to_owned();
            } else if let Some(v) = line.strip_prefix("-> IsMonotonic: ") {
                m.monotonic = Some(v == "true");
            }
        }
    }
    found.extend(current);
    found
}
