//! A real Prometheus server (Debian's `prometheus` package) scraping a target every second,
//! its HTTP API, and the OpenTelemetry Collector's rule for Prometheus names.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A binary the test needs: its path, or a failure with the reason under `CI=true`; `None`
/// (a skip, said on stderr) elsewhere.
pub fn required(binary: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(binary))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        let reason = format!("{binary} is not installed: apt-get install {package}");
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("skipped: {reason}");
    }
    found
}

/// A GET's body when it succeeds (a runtime of its own: callable from any test thread).
pub fn get(url: &str) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.text().await.ok()
    })
}

/// Prometheus on a loopback port, scraping `target` (`host:port`, path `/metrics`) every
/// second.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(binary: &PathBuf, target: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: otel-resmon\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let port = super::free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let this = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while this.get("/-/ready").is_none() {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        this
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get(&self, path: &str) -> Option<String> {
        get(&self.url(path))
    }

    /// An instant query through `/api/v1/query`: each series' labels and value.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Map<String, serde_json::Value>, f64)> {
        let url = reqwest::Url::parse_with_params(&self.url("/api/v1/query"), &[("query", promql)])
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&get(url.as_str()).unwrap()).unwrap();
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|series| {
                let labels = series["metric"].as_object().unwrap().clone();
                let value = series["value"][1].as_str().unwrap().parse().unwrap();
                (labels, value)
            })
            .collect()
    }

    /// Queries until the answer satisfies `done` (scrapes come every second).
    pub fn wait_for(
        &self,
        promql: &str,
        done: impl Fn(&[(serde_json::Map<String, serde_json::Value>, f64)]) -> bool,
    ) -> Vec<(serde_json::Map<String, serde_json::Value>, f64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.query(promql);
            if done(&answer) {
                return answer;
            }
            assert!(
                Instant::now() < deadline,
                "{promql}: last answer {answer:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Collector's Prometheus name (its `prometheus` exporter and Prometheus's OTLP
/// translator, `otlptranslator.normalizeName`): the name's tokens, the unit's suffix unless a
/// token already is it (annotations such as `{cpu}` give none, `1` gives none), `_total` for
/// monotonic counters, `_ratio` for gauges of unit `1` only.
pub fn collector_name(name: &str, unit: &str, instrument: &str) -> String {
    let mut tokens: Vec<String> = name
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == ':'))
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    // A rate: the main unit's name, `per`, and the per-unit's singular ("By/s" →
    // "bytes_per_second"), as the Collector's translator and the exporter both write it.
    let (unit, per) = match unit.split_once('/') {
        Some((main, per)) => (
            main,
            match per {
                "s" => "second",
                "m" => "minute",
                "h" => "hour",
                other => {
                    panic!("collector_name: no name here for the per-unit {other:?} of {unit:?}")
                }
            },
        ),
        None => (unit, ""),
    };
    let suffix = match unit {
        "s" => "seconds",
        "ms" => "milliseconds",
        "By" => "bytes",
        "J" => "joules",
        "W" => "watts",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        _ => "",
    };
    if !suffix.is_empty() && !tokens.iter().any(|t| t == suffix) {
        tokens.push(suffix.to_owned());
    }
    // The translator writes the per-unit even where the main unit has no name ("1/s" →
    // "per_second").
    if !per.is_empty() {
        tokens.extend(["per".to_owned(), per.to_owned()]);
    }
    if instrument == "counter" {
        tokens.retain(|t| t != "total");
        tokens.push("total".to_owned());
    }
    if unit == "1" && instrument == "gauge" {
        tokens.retain(|t| t != "ratio");
        tokens.push("ratio".to_owned());
    }
    tokens.join("_")
}

/// Each family's name and type in an exposition text.
pub fn families(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| {
            let (name, kind) = rest.split_once(' ')?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect()
}
