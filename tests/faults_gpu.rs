//! GPU driver faults through the fake NVML driver: a library missing symbols, a slow driver, a
//! failing process list, a driver that comes back after a failed start. The service side
//! (spans) keeps its speed, the sampler says what is missing, recovers, and warns once.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::{Duration, Instant};

use common::fake_nvml::{two_gpus, FakeNvml, Variant};
use common::otel::{attr, traced};
use common::{passes, Collected};
use otel_resmon::{GpuField, GpuStatus, MissingReason, ResourceLayer, Sampler, WarningKind};

fn sampler(fake: &FakeNvml, warnings: &Collected, interval_ms: u64) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(interval_ms))
        .on_warning(warnings.sink())
        .build()
        .expect("a driver fault is a status, not an error")
}

#[test]
fn a_library_without_nvml_shutdown_is_a_status_and_never_a_panic() {
    let fake = FakeNvml::variant(&two_gpus(), Variant::NoShutdown);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 3);
    match &snap.gpu_status {
        GpuStatus::InitFailed(why) => assert!(why.contains("nvmlShutdown"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(snap.gpus.is_empty());
    assert!(snap.host.memory_total.is_some(), "host figures still flow");
    let all = warnings.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, WarningKind::GpuUnavailable);
    // nvml-wrapper's Drop would call the missing symbol and panic: NVML was never handed the
    // library, so stopping the sampler is clean.
    s.shutdown();
    drop(s);
}

#[test]
fn a_library_without_memory_info_v2_loses_only_memory() {
    let fake = FakeNvml::variant(&two_gpus(), Variant::NoMemoryInfoV2);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 4);
    assert_eq!(snap.gpu_status, GpuStatus::Ok);
    for g in &snap.gpus {
        assert_eq!(g.memory_used, None, "absent, never 0");
        // An old driver without the function: not supported by it.
        assert_eq!(
            g.missing_reason(GpuField::Memory),
            Some(&MissingReason::NotSupported)
        );
        assert!(g.utilization_gpu.is_some() && g.power.is_some());
    }
    assert!(warnings.all().is_empty(), "{:?}", warnings.all());
}

#[test]
fn a_failing_process_list_leaves_the_rest_flowing() {
    let mut config = two_gpus();
    config.push_str("fail.nvmlDeviceGetComputeRunningProcesses_v3=999\n");
    let fake = FakeNvml::new(&config);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 5);
    for g in &snap.gpus {
        assert_eq!(g.process_memory, None);
        assert!(g.missing_reason(GpuField::ProcessMemory).is_some());
        assert!(g.memory_used.is_some() && g.utilization_gpu.is_some());
    }
    let n = warnings.all().len();
    passes(&s, 5);
    assert_eq!(warnings.all().len(), n, "warned once, not per pass");
}

/// Two entries of this process whose bytes add up past `u64::MAX` (a driver's garbage): the
/// figure is absent with a reason, never `u64::MAX` or a wrapped sum, and is warned once; the
/// sampler and the other GPU go on.
#[test]
fn process_memory_that_overflows_is_absent_with_a_reason() {
    let mut config = two_gpus();
    config.push_str(
        "gpu.0.compute_processes=self:18446744073709551000,self:1000,4242:5
",
    );
    let fake = FakeNvml::new(&config);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 3);
    let g = &snap.gpus[0];
    assert_eq!(g.process_memory, None, "a sum past u64::MAX is no figure");
    assert_eq!(
        g.missing_reason(GpuField::ProcessMemory)
            .map(|r| r.as_str()),
        Some("implausible")
    );
    assert!(g.memory_used.is_some(), "the other figures stay");
    assert_eq!(snap.gpus[1].process_memory, Some(2 << 30));
    let n = warnings.all().len();
    assert_eq!(n, 1, "{:?}", warnings.all());
    passes(&s, 3);
    assert_eq!(warnings.all().len(), n, "warned once, not per pass");
}

/// A driver that claims more processes than any GPU runs (`u32::MAX`): nothing is allocated
/// from that count; the figure is absent with a reason. A count within bounds (a list that
/// grew between the calls) is read.
#[test]
fn a_driver_claiming_too_many_processes_allocates_nothing() {
    let mut config = two_gpus();
    config.push_str(
        "gpu.0.claim.nvmlDeviceGetComputeRunningProcesses_v3=4294967295
",
    );
    config.push_str(
        "gpu.1.claim.nvmlDeviceGetComputeRunningProcesses_v3=100
",
    );
    let fake = FakeNvml::new(&config);
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    let snap = passes(&s, 3);
    let g = &snap.gpus[0];
    assert_eq!(g.process_memory, None);
    assert_eq!(
        g.missing_reason(GpuField::ProcessMemory)
            .map(|r| r.as_str()),
        Some("implausible")
    );
    assert!(g.memory_used.is_some(), "the other figures stay");
    assert_eq!(snap.gpus[1].process_memory, Some(2 << 30));
}

#[test]
fn a_slow_driver_does_not_slow_spans() {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 50);
    let t = traced(ResourceLayer::builder(&s));
    // (p99, slowest) of n spans.
    let time_spans = |n: usize| {
        let mut took = Vec::with_capacity(n);
        t.run(|| {
            for _ in 0..n {
                let started = Instant::now();
                drop(tracing::info_span!("request").entered());
                took.push(started.elapsed());
            }
        });
        took.sort_unstable();
        (took[n * 99 / 100], took[n - 1])
    };
    let (normal_p99, _) = time_spans(2000);
    // Every NVML call now sleeps 200 ms: a pass over two GPUs takes seconds.
    let mut slow = two_gpus();
    slow.push_str("slow_ms=200\n");
    fake.set(&slow);
    std::thread::sleep(Duration::from_millis(300)); // a pass is under way
    let started = Instant::now();
    let (slow_p99, slowest) = time_spans(2000);
    let all = started.elapsed();
    // The sampler's health (what the status service shows) does not wait for the pass.
    let asked = Instant::now();
    let health = s.health();
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "health() waited {:?} on a slow pass",
        asked.elapsed()
    );
    assert!(health.running);
    // Every call sleeps 200 ms, longer than three intervals: the driver counts as hung while
    // one is in flight, and the passes go on without it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let hung = loop {
        if let Some(call) = s.health().driver_hung {
            break call;
        }
        assert!(Instant::now() < deadline, "never hung: {:?}", s.health());
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(hung.function.starts_with("nvml"), "{hung:?}");
    assert!(
        s.health().last_pass < Duration::from_millis(50),
        "a pass waited for the driver: {:?}",
        s.health().last_pass
    );
    assert!(
        s.latest().age() < Duration::from_millis(200),
        "passes go on"
    );
    eprintln!(
        "span p99: {normal_p99:?} normal, {slow_p99:?} with a 200 ms driver; 2000 spans in {all:?}"
    );
    // A span that waited for the driver would take 200 ms or more. The margin is for a 2-core
    // machine running the other tests of this file at the same time: a preempted thread
    // loses a few milliseconds (seen: p99 4 ms against 0.18 ms), never 200.
    assert!(
        slow_p99 < normal_p99 * 5 + Duration::from_millis(20),
        "span p99 {slow_p99:?} with a slow driver against {normal_p99:?}"
    );
    assert!(
        slowest < Duration::from_millis(150),
        "a span waited for the driver: {slowest:?}"
    );
    assert!(all < Duration::from_secs(2), "2000 spans took {all:?}");
    // The spans say how old their figures are.
    let spans = t.spans();
    assert_eq!(spans.len(), 4000, "every span exported");
    let span = spans.last().unwrap();
    assert!(attr(span, "resmon.sample.age").is_some());
    // Its GPU figures are the last ones carried, or absent with the reason once a call has
    // been in flight for three intervals.
    if attr(span, "resmon.gpu.1.memory.usage.end").is_none() {
        let status = attr(span, "resmon.gpu.status").map(|v| v.to_string());
        assert_eq!(status.as_deref(), Some("driver_hung"), "{span:?}");
    }
    fake.set(&two_gpus());
}

#[test]
fn the_sampler_recovers_when_the_driver_comes_back() {
    let fake = FakeNvml::new("init_error=9\n"); // NVML_ERROR_DRIVER_NOT_LOADED
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings, 20);
    assert_eq!(passes(&s, 3).gpu_status, GpuStatus::DriverNotLoaded);
    assert!(s.inventory().devices.is_empty());
    // Still down over a few retries (1 s, 2 s): one warning, not one per try.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(s.latest().gpu_status, GpuStatus::DriverNotLoaded);
    fake.set(&two_gpus());
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.latest().gpu_status != GpuStatus::Ok {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            s.latest().gpu_status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let snap = passes(&s, 2);
    assert_eq!(snap.gpus.len(), 2);
    assert!(snap.gpus.iter().all(|g| g.memory_used.is_some()));
    assert_eq!(s.inventory().devices.len(), 2, "the inventory follows");
    let all = warnings.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, WarningKind::GpuUnavailable);
}

#[test]
fn seeing_no_gpu_is_a_steady_state_never_reopened() {
    // Each case is steady until someone changes the machine or the settings: no visible GPU
    // (`CUDA_VISIBLE_DEVICES` empty or -1), a MIG UUID that is not there, no permission.
    // NVML is opened once, not again every 1, 2, 4 … 60 s. A driver not loaded yet does
    // heal (the test above), and is tried again.
    let cases: [(&str, Option<&str>, GpuStatus); 4] = [
        ("empty", Some(""), GpuStatus::NoDevices),
        ("-1", Some("-1"), GpuStatus::NoDevices),
        ("bad MIG UUID", Some("MIG-0000"), GpuStatus::NoDevices),
        ("no permission", None, GpuStatus::NoPermission),
    ];
    let fakes: Vec<_> = cases
        .iter()
        .map(|(_, visible, status)| {
            let config = match status {
                GpuStatus::NoPermission => "init_error=4\n".to_owned(),
                _ => two_gpus(),
            };
            let fake = FakeNvml::new(&config);
            let mut builder = Sampler::builder()
                .ignore_env(true)
                .nvml_library(fake.library())
                .interval(Duration::from_millis(20))
                .on_warning(|_| {});
            if let Some(v) = visible {
                builder = builder.visible_devices(*v);
            }
            (fake, builder.build().unwrap())
        })
        .collect();
    // Past the first two retries of the backoff (1 s, then 2 s later).
    std::thread::sleep(Duration::from_millis(3300));
    for ((what, _, status), (fake, s)) in cases.iter().zip(&fakes) {
        assert_eq!(&s.latest().gpu_status, status, "{what}");
        assert_eq!(fake.init_calls(), 1, "{what}: NVML opened again");
    }
}

/// One GPU fault as the HTTP service lives it.
#[cfg(feature = "axum")]
struct ServiceFault {
    name: &'static str,
    fake: FakeNvml,
    /// Load a library that does not exist instead of the fake.
    no_library: bool,
    /// Written to the fake's control file half-way through the load.
    midway: Option<String>,
}

#[cfg(feature = "axum")]
fn service_fault(name: &'static str, fake: FakeNvml) -> ServiceFault {
    ServiceFault {
        name,
        fake,
        no_library: false,
        midway: None,
    }
}

/// Serves 2 000 requests (8 clients, flat out) from an axum service with `ResourceTraceLayer`
/// under the fault; returns (requests/s, p99, spans exported, RSS growth in MiB).
#[cfg(feature = "axum")]
fn serve_under(fault: &ServiceFault) -> (f64, Duration, usize, f64) {
    use otel_resmon::tower::ResourceTraceLayer;
    const REQUESTS: usize = 2000;
    const CLIENTS: usize = 8;
    let mut builder = Sampler::builder()
        .ignore_env(true)
        .interval(Duration::from_millis(20))
        .on_warning(|_| {});
    builder = if fault.no_library {
        builder.nvml_library("/nonexistent/otel-resmon/libnvidia-ml.so.1")
    } else {
        builder.nvml_library(fault.fake.library())
    };
    let s = builder.build().expect("a driver fault is a status");
    let t = traced(ResourceLayer::builder(&s));
    let runtime = common::runtime_under(&t.dispatch);
    let app = axum::Router::new()
        .route("/work", axum::routing::get(|| async { "ok" }))
        .layer(ResourceTraceLayer::new(&s));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    let rss = || common::rss_bytes() as f64 / (1 << 20) as f64;
    let rss_before = rss();
    let started = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let latencies = runtime.block_on(async {
        let client = reqwest::Client::new();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (client, done) = (client.clone(), done.clone());
                let url = format!("http://{addr}/work");
                tokio::spawn(async move {
                    let mut took = Vec::new();
                    while done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
                        let t0 = Instant::now();
                        let status = client.get(&url).send().await.unwrap().status();
                        assert_eq!(status, 200);
                        took.push(t0.elapsed());
                    }
                    took
                })
            })
            .collect();
        let midway = async {
            if let Some(config) = &fault.midway {
                while done.load(std::sync::atomic::Ordering::Relaxed) < REQUESTS / 2 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                fault.fake.set(config);
            }
        };
        let (_, latencies) = tokio::join!(midway, async {
            let mut all = Vec::new();
            for c in clients {
                all.extend(c.await.unwrap());
            }
            all
        });
        latencies
    });
    let elapsed = started.elapsed();
    let rss_growth = rss() - rss_before;
    let mut sorted = latencies;
    sorted.sort();
    assert_eq!(sorted.len(), REQUESTS, "every request answered");
    let p99 = sorted[REQUESTS * 99 / 100];
    let spans = t
        .spans()
        .iter()
        .filter(|s| s.name == "GET /work" && attr(s, "resmon.sample.age").is_some())
        .count();
    runtime.shutdown_background();
    s.shutdown();
    (
        REQUESTS as f64 / elapsed.as_secs_f64(),
        p99,
        spans,
        rss_growth,
    )
}

/// The table's "what the service did" for every GPU driver fault: requests served, p99 against
/// the healthy fake, spans exported with figures, memory.
#[cfg(feature = "axum")]
#[test]
fn the_http_service_under_each_gpu_driver_fault() {
    let with = |extra: &str| {
        let mut c = two_gpus();
        c.push_str(extra);
        FakeNvml::new(&c)
    };
    let mut lost = two_gpus();
    lost.push_str("gpu.1.lost=1\n");
    let faults = [
        service_fault("healthy fake driver", FakeNvml::new(&two_gpus())),
        ServiceFault {
            no_library: true,
            ..service_fault("no NVML library", FakeNvml::new(""))
        },
        service_fault("driver not loaded", FakeNvml::new("init_error=9\n")),
        service_fault("no permission", FakeNvml::new("init_error=4\n")),
        service_fault(
            "library without nvmlShutdown",
            FakeNvml::variant(&two_gpus(), Variant::NoShutdown),
        ),
        service_fault(
            "library without nvmlDeviceGetMemoryInfo_v2",
            FakeNvml::variant(&two_gpus(), Variant::NoMemoryInfoV2),
        ),
        service_fault(
            "a field NotSupported",
            with("gpu.0.fail.nvmlDeviceGetPowerUsage=3\n"),
        ),
        service_fault(
            "a field failing",
            with("gpu.0.fail.nvmlDeviceGetTemperature=999\n"),
        ),
        service_fault(
            "process list failing",
            with("fail.nvmlDeviceGetComputeRunningProcesses_v3=999\n"),
        ),
        ServiceFault {
            midway: Some(lost),
            ..service_fault("GPU lost mid-load", FakeNvml::new(&two_gpus()))
        },
        service_fault("every NVML call sleeps 200 ms", with("slow_ms=200\n")),
    ];
    let mut healthy_p99 = None;
    for fault in &faults {
        let (rps, p99, spans, rss) = serve_under(fault);
        println!(
            "gpu_fault {:<45} served 2000 at {rps:>6.0}/s  p99 {p99:>10.3?}  spans with figures \
             {spans}/2000  RSS {rss:+.1} MiB",
            fault.name
        );
        assert_eq!(
            spans, 2000,
            "{}: every request's span, with figures",
            fault.name
        );
        let reference = *healthy_p99.get_or_insert(p99);
        assert!(
            p99 <= reference * 3 + Duration::from_millis(10),
            "{}: p99 {p99:?} against {reference:?} with a healthy driver",
            fault.name
        );
    }
}
