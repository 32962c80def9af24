//! The Prometheus endpoint against a real Prometheus server (Debian's package) scraping the
//! axum example every second with the fake GPU driver, and its graph page rendered by a real
//! headless Chromium. A missing Prometheus or Chromium fails under `CI=true`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::axum_server::AxumServer;
use common::fake_nvml::{h200s, FakeNvml, GIB};
use common::prometheus::{collector_name, families, get, required, Prometheus};
use common::rotel::Rotel;

const UUIDS: [&str; 2] = [
    "GPU-a0000000-0000-4000-8000-000000000000",
    "GPU-a1111111-1111-4000-8000-000000000001",
];

/// The table of names in the `metrics` module's docs (`src/metrics/reference.md`):
/// OpenTelemetry name, unit, instrument, Prometheus name, type.
fn documented_names() -> Vec<[String; 5]> {
    let reference = include_str!("../src/metrics/reference.md");
    let table = reference
        .split("<!-- prometheus-names -->")
        .nth(1)
        .expect("the table of Prometheus names in src/metrics/reference.md");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .collect();
            [0, 1, 2, 3, 4].map(|i| cells.get(i).cloned().unwrap_or_default())
        })
        .collect()
}

/// This process's children's CPU time: a process's `utime + stime`, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf with a valid name.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Headless Chromium on `url`, letting the page's scripts run for 15 s of virtual time,
/// doing `what` (`--dump-dom`, `--screenshot=<file>`).
fn browse(
    chromium: &std::path::Path,
    url: &str,
    what: &str,
) -> std::io::Result<std::process::Output> {
    Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=15000",
            "--window-size=1280,800",
            what,
            url,
        ])
        .output()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn status_latencies(server: &AxumServer, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            get(&server.url("/api/status")).expect("status");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// What a scrape costs the server: its CPU over back-to-back renders, less its CPU at rest
/// over the same time (the sampler), in the same run. Seconds of CPU a scrape.
fn scrape_cost(server: &AxumServer, bytes: usize) -> f64 {
    let pid = server.child.id();
    let (c0, t0) = (cpu_seconds(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let rest = (cpu_seconds(pid) - c0) / t0.elapsed().as_secs_f64();
    let n = 200;
    let (c1, t1) = (cpu_seconds(pid), Instant::now());
    for _ in 0..n {
        get(&server.url("/metrics")).expect("scrape");
    }
    let wall = t1.elapsed().as_secs_f64();
    let per_scrape = ((cpu_seconds(pid) - c1) - rest * wall) / f64::from(n);
    eprintln!(
        "scrape cost: {:.3} ms CPU a scrape ({bytes} bytes), {:.3} % of a CPU at one scrape a \
         second; the server at rest: {:.3} % of a CPU",
        per_scrape * 1e3,
        per_scrape * 100.0,
        rest * 100.0
    );
    per_scrape
}

/// The scrape cost of the release build (`cargo build --release --example axum_server`
/// first): `cargo test --test prometheus -- --ignored --nocapture`.
#[test]
#[ignore = "needs the release build of the axum example"]
fn scrape_cost_of_the_release_build() {
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/release/examples/axum_server");
    assert!(
        binary.exists(),
        "cargo build --release --example axum_server"
    );
    for gpus in [1, 8] {
        let fake = FakeNvml::new(&h200s(gpus));
        let rotel = Rotel::start();
        let server = AxumServer::start_binary(
            &binary,
            &rotel,
            &fake,
            "prometheus-cost",
            &[
                ("OTEL_METRICS_EXPORTER", "prometheus"),
                ("RESMON_INTERVAL_MS", "200"),
            ],
        );
        let text = get(&server.url("/metrics")).expect("GET /metrics");
        eprintln!("{gpus} GPU(s), release build:");
        scrape_cost(&server, text.len());
        server.stop();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_gpu_figures_and_a_browser_draws_them() {
    let Some(prometheus) = required("prometheus", "prometheus") else {
        return;
    };
    let Some(chromium) = required("chromium", "chromium") else {
        return;
    };
    let fake = FakeNvml::new(&h200s(2));
    let rotel = Rotel::start();
    let server = AxumServer::start(
        &rotel,
        &fake,
        "prometheus-test",
        &[("OTEL_METRICS_EXPORTER", "otlp,prometheus")],
    );
    let chat = |prompt: &str| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            reqwest::Client::new()
                .post(server.url("/api/chat"))
                .header("content-type", "application/json")
                .body(format!("{{\"prompt\": \"{prompt}\"}}"))
                .send()
                .await
                .unwrap()
                .error_for_status()
                .unwrap();
        });
    };
    chat("warm up");

    // The endpoint's names: each family is in the documented table, and the table's names are
    // the Collector's for the same metric.
    let text = get(&server.url("/metrics")).expect("GET /metrics");
    let table = documented_names();
    let mut missing = Vec::new();
    for (name, kind) in families(&text) {
        if name == "target_info" {
            continue;
        }
        match table.iter().find(|row| row[3] == name) {
            Some(row) => assert_eq!(row[4], kind, "{name}'s type"),
            None => missing.push(format!("{name} ({kind})")),
        }
    }
    assert!(
        missing.is_empty(),
        "not in src/metrics/reference.md's table: {missing:?}"
    );
    for [otel, unit, instrument, prom, kind] in &table {
        assert_eq!(
            &collector_name(otel, unit, instrument),
            prom,
            "{otel} ({unit}, {instrument}) under the Collector's rule"
        );
        let want = match instrument.as_str() {
            "counter" => "counter",
            "histogram" => "histogram",
            _ => "gauge",
        };
        assert_eq!(kind, want, "{otel}: {instrument} is a Prometheus {want}");
    }
    // Help and labels as a dashboard uses them.
    assert!(text.contains(&format!("hw_id=\"{}\"", UUIDS[1])), "{text}");
    assert!(text.contains("network_io_direction=\"receive\""), "{text}");
    assert!(text.contains("hw_state=\"ok\""));

    let prom = Prometheus::start(&prometheus, &format!("127.0.0.1:{}", server.port));
    eprintln!("prometheus on {}", prom.url("/"));

    // GPU memory per hw_id: the fake's 10 GiB and 20 GiB.
    let memory = prom.wait_for("hw_gpu_memory_usage_bytes", |a| a.len() == 2);
    let by_id: BTreeMap<String, f64> = memory
        .iter()
        .map(|(labels, v)| (labels["hw_id"].as_str().unwrap().to_owned(), *v))
        .collect();
    eprintln!("query hw_gpu_memory_usage_bytes -> {by_id:?}");
    assert_eq!(by_id[UUIDS[0]], (10 * GIB) as f64);
    assert_eq!(by_id[UUIDS[1]], (20 * GIB) as f64);

    // CPU while the server burns it.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let burn = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                chat(&"x".repeat(400));
            }
        });
        let answer = prom.wait_for("rate(process_cpu_time_seconds_total[5s]) > 0", |a| {
            !a.is_empty()
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        answer
    });
    eprintln!("query rate(process_cpu_time_seconds_total[5s]) > 0 -> {burn:?}");

    // Request-duration quantiles from the histogram buckets.
    let q = "histogram_quantile(0.9, sum by (le) (rate(http_server_request_duration_seconds_bucket[30s])))";
    let quantile = prom.wait_for(q, |a| a.iter().any(|(_, v)| v.is_finite() && *v > 0.0));
    eprintln!("query {q} -> {quantile:?}");

    // The graph page, rendered by a real browser: a series per GPU, drawn.
    let graph = prom.url("/graph?g0.expr=hw_gpu_memory_usage_bytes&g0.tab=0&g0.range_input=1m");
    let dom = browse(&chromium, &graph, "--dump-dom").expect("run chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    // Debian's Prometheus serves its classic page: a rickshaw graph, an SVG path per series,
    // and a legend line per series with its labels.
    let legend: Vec<&str> = dom
        .split("<li class=\"line\">")
        .skip(1)
        .filter_map(|item| item.split("<span class=\"label\">").nth(1))
        .filter_map(|label| label.split("</span>").next())
        .collect();
    let lines: Vec<&str> = dom
        .split("<path class=\"path\" d=\"")
        .skip(1)
        .filter_map(|path| path.split('"').next())
        .collect();
    eprintln!(
        "chromium: {} legend lines {legend:?}; {} series drawn, with {:?} points",
        legend.len(),
        lines.len(),
        lines
            .iter()
            .map(|d| d.matches('L').count() + 1)
            .collect::<Vec<_>>()
    );
    for uuid in UUIDS {
        assert!(
            legend
                .iter()
                .any(|l| l.starts_with("hw_gpu_memory_usage_bytes{") && l.contains(uuid)),
            "{uuid}'s series in the legend: {dom}"
        );
    }
    assert!(lines.len() >= 2, "a line per GPU drawn: {dom}");
    assert!(
        lines
            .iter()
            .all(|d| d.starts_with('M') && d.matches('L').count() >= 2),
        "each line through several scrapes: {lines:?}"
    );
    let shot = std::env::temp_dir().join(format!("prometheus-graph-{}.png", std::process::id()));
    let status = browse(
        &chromium,
        &graph,
        &format!("--screenshot={}", shot.display()),
    )
    .expect("run chromium");
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(
        status.status.success() && png.starts_with(b"\x89PNG"),
        "a screenshot"
    );
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());

    let per_scrape = scrape_cost(&server, text.len());
    assert!(per_scrape < 0.05, "a scrape costs {per_scrape} s of CPU");

    // Other routes while scraped continuously: their latency, beside none.
    let quiet = median(status_latencies(&server, 200));
    stop.store(false, std::sync::atomic::Ordering::Relaxed);
    let busy = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                get(&server.url("/metrics"));
            }
        });
        let busy = median(status_latencies(&server, 200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy
    });
    eprintln!("/api/status median: {quiet:.3} ms alone, {busy:.3} ms while /metrics is scraped back to back");
    drop(prom);
    server.stop();
}
