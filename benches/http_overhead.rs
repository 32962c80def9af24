//! HTTP overhead in one run, on loopback: the same axum app three ways, alternated
//! (a b c a b c ...) for several rounds, with an in-process client at fixed concurrency:
//! - a: bare;
//! - b: the usual stack: tower-http `TraceLayer` + tracing-opentelemetry + SDK with OTLP batch
//!   export (HTTP/protobuf) to a local sink;
//! - c: b plus this crate's `ResourceTraceLayer` (`in_current_span`: figures on tower-http's
//!   request span, no second span) and `ResourceLayer`, sampler running (fake NVML, one GPU,
//!   default 200 ms interval).
//!
//! For a hello-world handler and a handler doing 1 ms of real work it prints requests/s, p50
//! and p99 for each, then the ratios c/b and c/a. It also measures the sampler thread's CPU use
//! (2 fake GPUs, default interval) and the RSS of a process after 100 000 requests with and
//! without the crate (each in a fresh child process). The last lines are `name value`.
//!
//! `cargo bench --bench http_overhead` (about two minutes); `-- --quick` for a short run.

#[path = "../tests/common/fake_nvml.rs"]
mod fake_nvml;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use otel_resmon::tower::ResourceTraceLayer;
use otel_resmon::{ResourceLayer, Sampler};
use tracing::instrument::WithSubscriber;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

const CONCURRENCY: usize = 32;

/// Runs every request of a service under one dispatcher (each variant has its own), body
/// included: tracing-subscriber closes a parent span through the *current thread's* default
/// dispatcher when its last child closes, and hyper drops response bodies outside the request
/// future, so the body is polled and dropped under the variant's dispatcher too.
#[derive(Clone)]
struct UnderDispatch<S> {
    inner: S,
    dispatch: Dispatch,
}

impl<S, R, B> tower::Service<R> for UnderDispatch<S>
where
    S: tower::Service<R, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
{
    type Response = http::Response<DispatchBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let dispatch = self.dispatch.clone();
        let fut = tracing::dispatcher::with_default(&dispatch, || self.inner.call(req));
        Box::pin(
            async move {
                let response = fut.await?;
                Ok(response.map(|body| DispatchBody {
                    inner: Some(Box::pin(body)),
                    dispatch,
                }))
            }
            .with_subscriber(self.dispatch.clone()),
        )
    }
}

/// A response body polled and dropped under a dispatcher.
struct DispatchBody<B> {
    inner: Option<Pin<Box<B>>>,
    dispatch: Dispatch,
}

impl<B: http_body::Body> http_body::Body for DispatchBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        match this.inner.as_mut() {
            Some(inner) => {
                tracing::dispatcher::with_default(&this.dispatch, || inner.as_mut().poll_frame(cx))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }
}

impl<B> Drop for DispatchBody<B> {
    fn drop(&mut self) {
        let inner = self.inner.take();
        tracing::dispatcher::with_default(&self.dispatch, move || drop(inner));
    }
}

fn under<S>(dispatch: Dispatch) -> impl tower::Layer<S, Service = UnderDispatch<S>> + Clone {
    tower::layer::layer_fn(move |inner| UnderDispatch {
        inner,
        dispatch: dispatch.clone(),
    })
}

/// An OTLP/HTTP sink: answers 200 to every trace export and keeps nothing (axum reads the
/// body to its end, as a collector would).
async fn sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/v1/traces",
        axum::routing::post(|_body: axum::body::Bytes| async {}),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1/traces")
}

/// The crate's own export path (`otlp::Pipeline`: the HTTP exporter on its export runtime),
/// to `endpoint`; the guard is kept for the whole run.
fn provider(endpoint: &str) -> SdkTracerProvider {
    let endpoint = endpoint.to_owned();
    let guard = otel_resmon::otlp::Pipeline::new()
        .sampler(Sampler::builder().gpu(false).ignore_env(true))
        .env(move |k| match k {
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".into()),
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => Some(endpoint.clone()),
            // No metric export during the run.
            "OTEL_METRIC_EXPORT_INTERVAL" => Some("3600000".into()),
            _ => None,
        })
        .install_subscriber(false)
        .install()
        .unwrap();
    let provider = guard.tracer_provider().clone();
    std::mem::forget(guard);
    provider
}

fn one_ms_of_work() -> &'static str {
    let until = Instant::now() + Duration::from_millis(1);
    let mut x = 0u64;
    while Instant::now() < until {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
    }
    "done"
}

fn routes() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/work", get(|| async { one_ms_of_work() }))
}

/// Starts the three servers; returns their addresses (a, b, c) and the dispatchers of b and c.
async fn servers(sampler: &Sampler, endpoint: &str) -> ([String; 3], [Dispatch; 2]) {
    let bare = routes();
    let b_provider = provider(endpoint);
    let b_dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(b_provider.tracer("b"))),
    );
    let usual = routes()
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(under(b_dispatch.clone()));
    let c_provider = provider(endpoint);
    let c_dispatch = Dispatch::new(
        tracing_subscriber::registry()
            .with(ResourceLayer::new(sampler))
            .with(tracing_opentelemetry::layer().with_tracer(c_provider.tracer("c"))),
    );
    let ours = routes()
        .layer(ResourceTraceLayer::new(sampler).in_current_span(true))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(under(c_dispatch.clone()));
    std::mem::forget((b_provider, c_provider));
    let mut addrs = Vec::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    addrs.push(listener.local_addr().unwrap().to_string());
    tokio::spawn(async move { axum::serve(listener, bare).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    addrs.push(listener.local_addr().unwrap().to_string());
    tokio::spawn(async move { axum::serve(listener, usual).await });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    addrs.push(listener.local_addr().unwrap().to_string());
    tokio::spawn(async move { axum::serve(listener, ours).await });
    (
        [addrs[0].clone(), addrs[1].clone(), addrs[2].clone()],
        [b_dispatch, c_dispatch],
    )
}

struct Run {
    rps: f64,
    latencies_us: Vec<u32>,
    /// Process CPU time per request (client, server and exporter together), µs.
    cpu_us: f64,
    /// CPU time of the OTel SDK's batch export thread per request, µs.
    export_cpu_us: f64,
}

/// User + system CPU clock ticks (1/100 s) of a `/proc` process or task directory.
fn ticks_of(dir: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0)
}

/// CPU ticks of the whole process and of the OTel SDK's export threads.
fn cpu_ticks() -> (u64, u64) {
    let export = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.starts_with("OpenTelemetry"))
        })
        .map(|e| ticks_of(&e.path()))
        .sum();
    (ticks_of(std::path::Path::new("/proc/self")), export)
}

/// `CONCURRENCY` workers send requests for `duration`; every latency is kept.
async fn load(client: &reqwest::Client, url: &str, duration: Duration) -> Run {
    let before = cpu_ticks();
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = client.get(&url).send().await.unwrap();
                    let _ = r.bytes().await.unwrap();
                    lat.push(t.elapsed().as_micros() as u32);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let after = cpu_ticks();
    let per_request = |ticks: u64| ticks as f64 * 1e4 / all.len().max(1) as f64;
    Run {
        rps: all.len() as f64 / started.elapsed().as_secs_f64(),
        cpu_us: per_request(after.0 - before.0),
        export_cpu_us: per_request(after.1 - before.1),
        latencies_us: all,
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize] as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Sampler thread CPU seconds per wall second, from /proc (clock ticks).
fn sampler_cpu_share(seconds: u64) -> f64 {
    let fake = fake_nvml::FakeNvml::new(&fake_nvml::two_gpus());
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .build()
        .unwrap();
    let tid = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            std::fs::read_to_string(e.path().join("comm"))
                .is_ok_and(|c| c.trim() == "otel-resmon-sam")
        })
        .map(|e| e.path())
        .expect("the sampler thread");
    let ticks = || {
        let stat = std::fs::read_to_string(tid.join("stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let (t0, w0) = (ticks(), Instant::now());
    std::thread::sleep(Duration::from_secs(seconds));
    let used = (ticks() - t0) as f64 / 100.0;
    drop(sampler);
    used / w0.elapsed().as_secs_f64()
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A sampler at the default interval reading one fake GPU (kept alive with it).
fn one_fake_gpu() -> (fake_nvml::FakeNvml, Sampler) {
    let fake = fake_nvml::FakeNvml::new(&fake_nvml::gpus(&[fake_nvml::Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    )]));
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .build()
        .unwrap();
    (fake, sampler)
}

/// In a child process: 100 000 requests through variant b or c, then the RSS.
fn rss_child(variant: &str) {
    let (_fake, sampler) = one_fake_gpu();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let endpoint = sink().await;
        let (addrs, _dispatches) = servers(&sampler, &endpoint).await;
        let url = format!(
            "http://{}/hello",
            if variant == "c" { &addrs[2] } else { &addrs[1] }
        );
        let client = reqwest::Client::new();
        let per_worker = 100_000 / CONCURRENCY;
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (client, url) = (client.clone(), url.clone());
                tokio::spawn(async move {
                    for _ in 0..per_worker {
                        client
                            .get(&url)
                            .send()
                            .await
                            .unwrap()
                            .bytes()
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
    });
    println!("{}", rss_bytes());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--rss-child") {
        rss_child(&args[i + 1]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list` and `cargo test --benches`
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs this once, briefly.
    let quick = args.iter().any(|a| a == "--quick" || a == "--test")
        || !args.iter().any(|a| a == "--bench");
    let (rounds, per_run) = if quick {
        (2, Duration::from_millis(300))
    } else {
        (6, Duration::from_secs(3))
    };

    let (_fake, sampler) = one_fake_gpu();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut lines = Vec::new();
    rt.block_on(async {
        let endpoint = sink().await;
        let (addrs, _dispatches) = servers(&sampler, &endpoint).await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONCURRENCY)
            .build()
            .unwrap();
        for (handler, path) in [("hello", "/hello"), ("work_1ms", "/work")] {
            // Warm every server and connection pool.
            for a in &addrs {
                load(
                    &client,
                    &format!("http://{a}{path}"),
                    Duration::from_millis(300),
                )
                .await;
            }
            let mut rps = [Vec::new(), Vec::new(), Vec::new()];
            let mut p50 = [Vec::new(), Vec::new(), Vec::new()];
            let mut p99 = [Vec::new(), Vec::new(), Vec::new()];
            let mut cpu = [Vec::new(), Vec::new(), Vec::new()];
            let mut export = [Vec::new(), Vec::new(), Vec::new()];
            let (mut cb, mut ca, mut p99cb) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                let mut round = Vec::new();
                for (i, a) in addrs.iter().enumerate() {
                    let mut run = load(&client, &format!("http://{a}{path}"), per_run).await;
                    run.latencies_us.sort_unstable();
                    let (x50, x99) = (
                        percentile(&run.latencies_us, 0.5),
                        percentile(&run.latencies_us, 0.99),
                    );
                    rps[i].push(run.rps);
                    p50[i].push(x50);
                    p99[i].push(x99);
                    cpu[i].push(run.cpu_us);
                    export[i].push(run.export_cpu_us);
                    round.push((run.rps, x99));
                }
                cb.push(round[2].0 / round[1].0);
                ca.push(round[2].0 / round[0].0);
                p99cb.push(round[2].1 / round[1].1);
            }
            for (i, name) in ["a_bare", "b_usual", "c_resmon"].iter().enumerate() {
                let (r, l50, l99) = (
                    median(&mut rps[i]),
                    median(&mut p50[i]),
                    median(&mut p99[i]),
                );
                let (c, e) = (median(&mut cpu[i]), median(&mut export[i]));
                println!(
                    "{handler} {name}: {r:.0} req/s, p50 {l50:.0} µs, p99 {l99:.0} µs, \
                     CPU {c:.1} µs/request ({e:.1} in the export thread)"
                );
                lines.push(format!("http.{handler}.{name}.rps {r:.0}"));
                lines.push(format!("http.{handler}.{name}.cpu_us_per_request {c:.1}"));
                lines.push(format!(
                    "http.{handler}.{name}.export_cpu_us_per_request {e:.1}"
                ));
                lines.push(format!("http.{handler}.{name}.p50_us {l50:.0}"));
                lines.push(format!("http.{handler}.{name}.p99_us {l99:.0}"));
            }
            lines.push(format!(
                "http.{handler}.throughput_ratio_c_b {:.3}",
                median(&mut cb)
            ));
            lines.push(format!(
                "http.{handler}.throughput_ratio_c_a {:.3}",
                median(&mut ca)
            ));
            lines.push(format!(
                "http.{handler}.p99_ratio_c_b {:.3}",
                median(&mut p99cb)
            ));
        }
    });
    drop(rt);
    let share = sampler_cpu_share(if quick { 2 } else { 10 });
    lines.push(format!(
        "sampler.cpu_seconds_per_second_2_fake_gpus {share:.4}"
    ));
    if !quick {
        let exe = std::env::current_exe().unwrap();
        for variant in ["b", "c"] {
            let out = std::process::Command::new(&exe)
                .args(["--rss-child", variant])
                .output()
                .unwrap();
            let rss: u64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .unwrap_or(0);
            let name = if variant == "b" {
                "without_crate"
            } else {
                "with_crate"
            };
            lines.push(format!(
                "rss_after_100k_requests.{name}_mib {:.1}",
                rss as f64 / 1048576.0
            ));
        }
    }
    for l in lines {
        println!("{l}");
    }
}
