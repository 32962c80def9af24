//! Collector faults, with the real rotel collector on loopback: not running at start; killed
//! in the middle of a load and restarted; accepting connections but never answering. An axum
//! service built on the crate's own OTLP pipeline (`otlp::Pipeline`) keeps serving: the p99
//! with the fault is compared with the p99 of the same run's healthy phase, the export queue
//! drops instead of growing, spans sent once the collector is back arrive, and shutdown returns
//! within its timeout.
//!
//! Each test prints its figures (`cargo test --test faults_collector -- --nocapture`); the
//! table in the reliability guide (`src/guide/reliability.md`) comes from them.
#![cfg(all(
    feature = "nvml",
    feature = "otlp",
    feature = "axum",
    target_os = "linux"
))]

mod common;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use common::fake_nvml::{gpus, FakeNvml, Gpu};
use common::rotel::Rotel;
use common::sdk_log::SdkLog;
use otel_resmon::otlp::{OtelGuard, Pipeline};
use otel_resmon::tower::ResourceTraceLayer;
use otel_resmon::Sampler;
use tracing_subscriber::layer::SubscriberExt;

/// The phases a load goes through; each is its own route, so its own span name.
const PHASES: [&str; 4] = ["healthy", "fault", "recovering", "after"];
const HEALTHY: usize = 0;
const FAULT: usize = 1;
/// The first seconds after the collector is back: the exporter finishes its retries and sends
/// the backlog the queue kept; spans of this phase may be dropped behind it.
const RECOVERING: usize = 2;
const AFTER: usize = 3;
/// Requests a second.
const RATE: u32 = 1000;
/// The export timeout the service is configured with (`OTEL_EXPORTER_OTLP_TIMEOUT`).
const EXPORT_TIMEOUT_MS: u64 = 1000;
/// `OtelGuard::shutdown` gives each signal 5 s.
const SHUTDOWN_BOUND: Duration = Duration::from_secs(10);

/// One test at a time: they compare latencies and this process's memory.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// One `SdkLog`, also the global default subscriber so the SDK's own threads report to it.
fn sdk_log() -> SdkLog {
    static LOG: std::sync::OnceLock<SdkLog> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = SdkLog::default();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.clone()))
            .expect("no other global subscriber in this test binary");
        log
    })
    .clone()
}

/// The service under test: axum with `ResourceTraceLayer`, traced by the crate's pipeline.
struct Service {
    addr: SocketAddr,
    guard: OtelGuard,
    runtime: tokio::runtime::Runtime,
    _fake: FakeNvml,
}

fn service(protocol: &str, endpoint: String) -> Service {
    let fake = FakeNvml::new(&gpus(&[Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    )]));
    let env: HashMap<&str, String> = HashMap::from([
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", EXPORT_TIMEOUT_MS.to_string()),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500".to_owned()),
        ("OTEL_SERVICE_NAME", "faults".to_owned()),
    ]);
    let guard = Pipeline::new()
        .sampler(
            Sampler::builder()
                .ignore_env(true)
                .nvml_library(fake.library())
                .interval(Duration::from_millis(50)),
        )
        .env(move |name| env.get(name).cloned())
        .install_subscriber(false)
        .install()
        .expect("the pipeline starts whatever the collector does");
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(guard.layer())
            .with(sdk_log()),
    );
    let runtime = common::runtime_under(&dispatch);
    let mut app = Router::new();
    for phase in PHASES {
        app = app.route(&format!("/{phase}"), get(|| async { "ok" }));
    }
    let app = app.layer(ResourceTraceLayer::new(guard.sampler()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    Service {
        addr,
        guard,
        runtime,
        _fake: fake,
    }
}

impl Service {
    /// Shuts the pipeline down, returning how long it took.
    fn shutdown(self) -> (Duration, Result<(), otel_resmon::Error>) {
        let Service { guard, runtime, .. } = self;
        let started = Instant::now();
        let result = guard.shutdown();
        let took = started.elapsed();
        runtime.shutdown_background();
        (took, result)
    }

    /// Pushes out what the batch processor holds (the collector may refuse it).
    fn flush(&self) {
        let _ = self.guard.tracer_provider().force_flush();
    }
}

/// A paced load from its own thread: `CLIENTS` clients, each sending one request per tick so
/// that together they send `rate` requests a second (a production-like rate, not flat out: a
/// flat-out debug client on 2 cores fills any export queue in a fraction of a second), each to
/// the route of the phase current when it is sent.
struct Load {
    shared: Arc<LoadShared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct LoadShared {
    phase: AtomicUsize,
    done: AtomicUsize,
    failed: AtomicUsize,
    stop: AtomicBool,
    latencies: Mutex<Vec<(usize, Duration)>>,
}

const CLIENTS: u32 = 8;

impl Load {
    fn start(addr: SocketAddr, rate: u32) -> Self {
        let shared = Arc::new(LoadShared {
            phase: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            latencies: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let period = Duration::from_secs(1) * CLIENTS / rate;
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = reqwest::Client::new();
                let clients: Vec<_> = (0..CLIENTS)
                    .map(|i| {
                        let (client, s) = (client.clone(), s.clone());
                        tokio::spawn(async move {
                            // Spread the clients over the period.
                            tokio::time::sleep(period * i / CLIENTS).await;
                            let mut tick = tokio::time::interval(period);
                            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                            while !s.stop.load(Ordering::Relaxed) {
                                tick.tick().await;
                                let phase = s.phase.load(Ordering::Relaxed);
                                let url = format!("http://{addr}/{}", PHASES[phase]);
                                let started = Instant::now();
                                let ok = client
                                    .get(url)
                                    .timeout(Duration::from_secs(5))
                                    .send()
                                    .await
                                    .is_ok_and(|r| r.status() == 200);
                                let took = started.elapsed();
                                if ok {
                                    s.latencies.lock().unwrap().push((phase, took));
                                } else {
                                    s.failed.fetch_add(1, Ordering::Relaxed);
                                }
                                s.done.fetch_add(1, Ordering::Relaxed);
                            }
                        })
                    })
                    .collect();
                for c in clients {
                    c.await.unwrap();
                }
            });
        });
        Load {
            shared,
            thread: Some(thread),
        }
    }

    /// Sends the next requests to this phase's route.
    fn phase(&self, phase: usize) {
        self.shared.phase.store(phase, Ordering::Relaxed);
    }

    /// Keeps the load going for `d`; fails if the service stopped answering.
    fn run_for(&self, d: Duration) {
        let before = self.shared.done.load(Ordering::Relaxed);
        std::thread::sleep(d);
        assert!(
            self.shared.done.load(Ordering::Relaxed) > before,
            "no request answered in {d:?}"
        );
    }

    /// Stops the clients; returns what each phase saw.
    fn stop(mut self) -> LoadResult {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        let mut per_phase: [Vec<Duration>; PHASES.len()] = Default::default();
        for (phase, took) in self.shared.latencies.lock().unwrap().iter() {
            per_phase[*phase].push(*took);
        }
        for l in &mut per_phase {
            l.sort();
        }
        LoadResult {
            per_phase,
            failed: self.shared.failed.load(Ordering::Relaxed),
        }
    }
}

struct LoadResult {
    per_phase: [Vec<Duration>; PHASES.len()],
    failed: usize,
}

impl LoadResult {
    fn served(&self, phase: usize) -> usize {
        self.per_phase[phase].len()
    }

    fn p99(&self, phase: usize) -> Duration {
        let l = &self.per_phase[phase];
        assert!(
            !l.is_empty(),
            "no request answered in phase {}",
            PHASES[phase]
        );
        l[(l.len() * 99 / 100).min(l.len() - 1)]
    }

    fn print(&self, test: &str) {
        for (i, phase) in PHASES.iter().enumerate() {
            if !self.per_phase[i].is_empty() {
                println!(
                    "{test}.{phase}: served {} p50 {:?} p99 {:?}",
                    self.served(i),
                    self.per_phase[i][self.served(i) / 2],
                    self.p99(i)
                );
            }
        }
        println!("{test}.failed_requests: {}", self.failed);
    }

    /// The faulty phase's p99 against the healthy one's: the fault must not show in latency.
    /// Bounded generously (2x plus 10 ms): this 2-core machine is noisy and the client, the
    /// server and the SDK's export thread share it.
    fn assert_latency_kept(&self, faulty: usize, healthy: Duration) {
        let f = self.p99(faulty);
        assert!(
            f <= healthy * 2 + Duration::from_millis(10),
            "p99 with the fault {f:?} against {healthy:?} without it"
        );
    }
}

fn wait_for_spans(rotel: &Rotel, phase: usize, n: usize) -> usize {
    let name = format!("GET /{}", PHASES[phase]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = rotel.spans_named(&name);
        if got >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn endpoint(protocol: &str, rotel_ports: (u16, u16)) -> String {
    match protocol {
        "grpc" => format!("http://127.0.0.1:{}", rotel_ports.0),
        _ => format!("http://127.0.0.1:{}", rotel_ports.1),
    }
}

/// Spans of each phase the collector printed, for the report.
fn received(rotel: &Rotel, result: &LoadResult, phases: &[usize]) -> String {
    phases
        .iter()
        .map(|&p| {
            format!(
                "{} {} of {}",
                PHASES[p],
                rotel.spans_named(&format!("GET /{}", PHASES[p])),
                result.served(p)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// p99 of a short healthy run of the same service against a real collector.
fn healthy_p99(protocol: &str, test: &str) -> Duration {
    let rotel = Rotel::start();
    let svc = service(
        protocol,
        endpoint(protocol, (rotel.grpc_port, rotel.http_port)),
    );
    let load = Load::start(svc.addr, RATE);
    load.run_for(Duration::from_secs(3));
    let result = load.stop();
    let _ = svc.shutdown();
    result.print(&format!("{test}.reference"));
    let _ = sdk_log().take();
    result.p99(HEALTHY)
}

/// The part every outage shares: the load runs 4 s with no collector, one starts on `ports`,
/// the load runs 2 s more (recovering) and 3 s (after). Reports, then checks: every request
/// answered, p99 during the fault and the recovery against `reference` (the healthy phase of
/// this same load when `None`), every span of the "after" phase delivered, shutdown bounded.
fn outage_and_recovery(
    test: &str,
    svc: Service,
    load: Load,
    ports: (u16, u16),
    reference: Option<Duration>,
    before: &str,
) {
    load.phase(FAULT);
    load.run_for(Duration::from_secs(4)); // the queue fills, exports fail
    let rotel = Rotel::start_on(ports.0, ports.1);
    load.phase(RECOVERING);
    load.run_for(Duration::from_secs(2));
    load.phase(AFTER);
    load.run_for(Duration::from_secs(3));
    let result = load.stop();
    result.print(test);
    svc.flush();
    let after = wait_for_spans(&rotel, AFTER, result.served(AFTER));
    println!(
        "{test}.spans_received: {before}once the collector runs: {}",
        received(&rotel, &result, &[FAULT, RECOVERING, AFTER])
    );
    let (took, outcome) = svc.shutdown();
    println!("{test}.shutdown: {took:?} {outcome:?}");
    println!("{test}.sdk_log: {:?}", sdk_log().take());
    assert_eq!(result.failed, 0, "every request answered");
    let reference = reference.unwrap_or_else(|| result.p99(HEALTHY));
    result.assert_latency_kept(FAULT, reference);
    result.assert_latency_kept(RECOVERING, reference);
    assert_eq!(
        after,
        result.served(AFTER),
        "every span sent once the collector runs (and its backlog is out) arrives"
    );
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
}

/// Collector down when the service starts, up later.
fn collector_down_at_start(protocol: &str) {
    let _serial = serial();
    let test = format!("down_at_start.{protocol}");
    let reference = healthy_p99(protocol, &test);
    let ports = (common::free_port(), common::free_port());
    let svc = service(protocol, endpoint(protocol, ports));
    let load = Load::start(svc.addr, RATE);
    outage_and_recovery(&test, svc, load, ports, Some(reference), "");
}

#[test]
fn collector_down_at_start_over_http() {
    collector_down_at_start("http/protobuf");
}

#[test]
fn collector_down_at_start_over_grpc() {
    collector_down_at_start("grpc");
}

/// The collector is killed (SIGKILL) in the middle of a load and restarted on the same ports.
fn collector_killed_and_restarted(protocol: &str) {
    let _serial = serial();
    let test = format!("killed_and_restarted.{protocol}");
    let rotel = Rotel::start();
    let ports = (rotel.grpc_port, rotel.http_port);
    let svc = service(protocol, endpoint(protocol, ports));
    let load = Load::start(svc.addr, RATE);
    load.run_for(Duration::from_secs(3));
    svc.flush();
    let before = format!(
        "healthy {} by the kill, ",
        rotel.spans_named("GET /healthy")
    );
    rotel.kill();
    outage_and_recovery(&test, svc, load, ports, None, &before);
}

#[test]
fn collector_killed_mid_load_and_restarted_over_http() {
    collector_killed_and_restarted("http/protobuf");
}

#[test]
fn collector_killed_mid_load_and_restarted_over_grpc() {
    collector_killed_and_restarted("grpc");
}

/// Accepts connections and never reads or answers; closes them when dropped.
struct BlackHole {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl BlackHole {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            held.len()
        });
        BlackHole {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops; returns how many connections it held.
    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// A collector that accepts but never answers: the exporter waits out its timeout on the SDK's
/// thread, the queue fills and drops, requests do not notice, memory stays flat, and shutdown
/// is bounded.
fn collector_never_answers(protocol: &str) {
    let _serial = serial();
    let test = format!("never_answers.{protocol}");
    let reference = healthy_p99(protocol, &test);
    let hole = BlackHole::start();
    let hole_addr = hole.addr;
    let svc = service(protocol, format!("http://{}", hole.addr));
    let load = Load::start(svc.addr, 2 * RATE);
    load.phase(FAULT);
    load.run_for(Duration::from_secs(2)); // the queue (2048 spans) fills and starts dropping
    let rss_full_queue = common::rss_bytes();
    load.run_for(Duration::from_secs(6));
    let rss_after = common::rss_bytes();
    let result = load.stop();
    result.print(&test);
    let growth = rss_after.saturating_sub(rss_full_queue) as f64 / (1 << 20) as f64;
    println!(
        "{test}.rss: {:.1} MiB with the queue full, {:.1} MiB after 6 s more at {} requests/s \
         (+{growth:.1} MiB)",
        rss_full_queue as f64 / (1 << 20) as f64,
        rss_after as f64 / (1 << 20) as f64,
        2 * RATE
    );
    let (took, outcome) = svc.shutdown();
    let held = hole.stop();
    println!("{test}.shutdown: {took:?} {outcome:?} (the black hole held {held} connections)");
    let logged = sdk_log().take();
    println!("{test}.sdk_log: {logged:?}");

    assert_eq!(result.failed, 0, "every request answered");
    assert!(held > 0, "the exporter did connect to the black hole");
    result.assert_latency_kept(FAULT, reference);
    // 12000 spans of ~20 attributes kept would be tens of MiB.
    assert!(
        logged
            .iter()
            .any(|(name, _)| name == "BatchSpanProcessor.SpanDroppingStarted"),
        "the SDK's queue dropped spans (and said so through tracing): {logged:?}"
    );
    assert!(
        growth < 12.0,
        "memory grew {growth:.1} MiB: the export queue is not bounded"
    );
    assert!(took < SHUTDOWN_BOUND, "shutdown took {took:?}");
    // In one readable line: what was not delivered, and where it was going.
    let message = outcome
        .expect_err("a failed final export is reported")
        .to_string();
    assert!(
        message.contains(&format!("were not delivered to http://{hole_addr}"))
            && !message.contains("InternalFailure(\\\"")
            && !message.contains('\n'),
        "{message}"
    );
}

/// Request data on spans is bounded: 3000 requests with a 200 KB `User-Agent` into a collector
/// that never answers keep the SDK's queue (2048 spans) full of cut values, not of 200 KB
/// headers (measured before the cut: RSS 8 MB -> 330 MB).
#[test]
fn huge_user_agents_into_a_black_hole_keep_memory_bounded() {
    let _serial = serial();
    let hole = BlackHole::start();
    let svc = service("http/protobuf", format!("http://{}", hole.addr));
    let agent = "a".repeat(200_000);
    let send = |n: usize| {
        svc.runtime.block_on(async {
            let client = reqwest::Client::new();
            let url = format!("http://{}/{}", svc.addr, PHASES[0]);
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (client, url, agent) = (client.clone(), url.clone(), agent.clone());
                    tokio::spawn(async move {
                        for _ in 0..n / 8 {
                            let r = client.get(&url).header("user-agent", &agent).send().await;
                            assert_eq!(r.unwrap().status(), 200);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
    };
    send(400);
    let before = common::rss_bytes();
    send(3000);
    let after = common::rss_bytes();
    let growth = after.saturating_sub(before) as f64 / (1 << 20) as f64;
    println!(
        "huge_user_agents.rss: {:.1} MiB before, {:.1} MiB after 3000 requests with a 200 KB \
         User-Agent (+{growth:.1} MiB)",
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
    );
    let _ = svc.shutdown();
    hole.stop();
    // 2048 queued spans x 200 KB would be 400 MiB; cut to 1024 characters, about 2 MiB.
    assert!(
        growth < 48.0,
        "memory grew {growth:.1} MiB: request values on spans are not bounded"
    );
}

#[test]
fn collector_that_never_answers_over_http() {
    collector_never_answers("http/protobuf");
}

#[test]
fn collector_that_never_answers_over_grpc() {
    collector_never_answers("grpc");
}
