//! Concurrency: 2 000 concurrent HTTP requests on a 4-worker runtime, each with nested spans
//! that cross threads (a spawned task, a blocking-pool thread), while the sampler publishes
//! every 5 ms. Every span is exported exactly once, under the right parent, with consistent
//! start/end figures. Then the same load with the OTel SDK logging through the same `tracing`
//! subscriber from inside the layers' callbacks (a tiny export queue that drops): no deadlock,
//! and every span is either exported once or counted dropped by the SDK.
#![cfg(all(feature = "nvml", feature = "axum", target_os = "linux"))]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::mpsc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use common::fake_nvml::{gpus, FakeNvml, Gpu};
use common::otel::{attr, int};
use common::sdk_log::SdkLog;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider, SpanData,
    SpanExporter,
};
use otel_resmon::tower::ResourceTraceLayer;
use otel_resmon::{FigureSet, ResourceLayer, Sampler};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

const REQUESTS: usize = 2000;
const NAMES: [&str; 4] = ["GET /nested", "work", "inner", "blocking"];
/// A deadlock shows as this wait running out, not as a hung test.
const WATCHDOG: Duration = Duration::from_secs(120);

/// The handler: a span around the work, a child span on a spawned task (which may run on
/// another worker) and one on the blocking pool.
async fn nested() -> &'static str {
    async {
        tokio::task::yield_now().await;
        tokio::spawn(
            async { tokio::time::sleep(Duration::from_millis(2)).await }
                .instrument(tracing::info_span!("inner")),
        )
        .await
        .unwrap();
        let parent = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = tracing::info_span!(parent: &parent, "blocking").entered();
            std::hint::black_box((0..10_000u64).sum::<u64>());
        })
        .await
        .unwrap();
    }
    .instrument(tracing::info_span!("work"))
    .await;
    "ok"
}

/// Raises the open-file limit to what 2 000 client and 2 000 server sockets need.
fn enough_file_descriptors() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one rlimit through a valid pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_cur >= 4 * REQUESTS as u64 + 200,
        "the open-file limit {} is too low for {REQUESTS} concurrent connections",
        limit.rlim_cur
    );
}

/// Serves `REQUESTS` concurrent requests under `dispatch`; returns when all are answered, or
/// fails when the watchdog runs out.
fn serve_concurrently(dispatch: &tracing::Dispatch, sampler: &Sampler) {
    enough_file_descriptors();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .on_thread_start({
            let dispatch = dispatch.clone();
            move || std::mem::forget(tracing::dispatcher::set_default(&dispatch))
        })
        .build()
        .unwrap();
    let app = Router::new()
        .route("/nested", get(nested))
        .layer(ResourceTraceLayer::new(sampler));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });

    let (done, finished) = mpsc::channel();
    let handle = runtime.handle().clone();
    std::thread::spawn(move || {
        let statuses = handle.block_on(async move {
            let client = reqwest::Client::new();
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(REQUESTS));
            let requests: Vec<_> = (0..REQUESTS)
                .map(|_| {
                    let (client, barrier) = (client.clone(), barrier.clone());
                    let url = format!("http://{addr}/nested");
                    tokio::spawn(async move {
                        barrier.wait().await; // all in flight together
                        client.get(url).send().await.map(|r| r.status().as_u16())
                    })
                })
                .collect();
            let mut statuses = Vec::with_capacity(REQUESTS);
            for r in requests {
                statuses.push(r.await.unwrap());
            }
            statuses
        });
        let _ = done.send(statuses);
    });
    let statuses = finished
        .recv_timeout(WATCHDOG)
        .unwrap_or_else(|_| panic!("{REQUESTS} requests not answered in {WATCHDOG:?}: deadlock?"));
    let failed: Vec<_> = statuses.iter().filter(|s| !matches!(s, Ok(200))).collect();
    assert!(
        failed.is_empty(),
        "failed requests: {:?}",
        &failed[..failed.len().min(5)]
    );
    runtime.shutdown_timeout(Duration::from_secs(10));
}

fn sampler(fake: &FakeNvml) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(5))
        .build()
        .unwrap()
}

fn one_gpu() -> FakeNvml {
    FakeNvml::new(&gpus(&[Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    )]))
}

/// Start, end and delta agree on every figure pair a span carries (the full figure set).
fn assert_consistent(span: &SpanData) {
    // The span's own passes: 0 for a span within one interval.
    let count = int(span, "resmon.sample.count");
    assert!(count >= 0, "{}: sample count {count}", span.name);
    for base in [
        "resmon.process.memory.usage",
        "resmon.gpu.0.memory.usage",
        "resmon.gpu.0.process.memory.usage",
    ] {
        let (start, end) = (format!("{base}.start"), format!("{base}.end"));
        assert!(attr(span, &start).is_some(), "{}: {start}", span.name);
        match attr(span, &format!("{base}.delta")) {
            Some(_) => assert_eq!(
                int(span, &end) - int(span, &start),
                int(span, &format!("{base}.delta")),
                "{}: {base}",
                span.name
            ),
            None => {
                assert_eq!(count, 0, "{}: {base}.delta is missing", span.name);
                assert_eq!(int(span, &end), int(span, &start), "{}: {base}", span.name);
            }
        }
    }
}

#[test]
fn two_thousand_concurrent_requests_with_nested_spans_across_threads_export_each_span_once() {
    let fake = one_gpu();
    let sampler = sampler(&fake);
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = ResourceLayer::builder(&sampler)
        .figures(FigureSet::Full)
        .build();
    let status = layer.status();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(layer)
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test"))),
    );
    let seq_before = sampler.latest().seq;
    serve_concurrently(&dispatch, &sampler);
    let passes = sampler.latest().seq - seq_before;
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    println!(
        "{} spans from {REQUESTS} concurrent requests; the sampler published {passes} snapshots \
         meanwhile",
        spans.len()
    );
    assert!(passes > 1, "the sampler kept publishing");
    assert_eq!(status.otel_link(), otel_resmon::OtelLink::Ok);

    let mut ids = HashSet::new();
    let by_id: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    for name in NAMES {
        let n = spans.iter().filter(|s| s.name == name).count();
        assert_eq!(n, REQUESTS, "{name}: one per request");
    }
    assert_eq!(spans.len(), NAMES.len() * REQUESTS, "no other span");
    let mut traces: HashMap<_, usize> = HashMap::new();
    for span in &spans {
        assert!(
            ids.insert(span.span_context.span_id()),
            "a span exported twice"
        );
        *traces.entry(span.span_context.trace_id()).or_default() += 1;
        let expected_parent = match &*span.name {
            "GET /nested" => None,
            "work" => Some("GET /nested"),
            _ => Some("work"),
        };
        match expected_parent {
            None => {}
            Some(parent) => {
                let p = by_id
                    .get(&span.parent_span_id)
                    .unwrap_or_else(|| panic!("{}: parent not exported", span.name));
                assert_eq!(p.name, parent, "{}'s parent", span.name);
                assert_eq!(p.span_context.trace_id(), span.span_context.trace_id());
                if span.name == "blocking" {
                    // Started on a blocking-pool thread, not on its parent's worker.
                    assert_ne!(
                        attr(span, "thread.id"),
                        attr(p, "thread.id"),
                        "blocking crossed threads"
                    );
                }
            }
        }
        assert_consistent(span);
    }
    assert_eq!(traces.len(), REQUESTS, "one trace per request");
    assert!(traces.values().all(|&n| n == NAMES.len()));
}

/// An exporter that takes 20 ms per batch before handing it to the in-memory one.
#[derive(Debug)]
struct Slow(InMemorySpanExporter);

impl SpanExporter for Slow {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::thread::sleep(Duration::from_millis(20));
        self.0.export(batch).await
    }
}

#[test]
fn the_sdk_logging_through_tracing_from_inside_the_layers_does_not_deadlock() {
    let fake = one_gpu();
    let sampler = sampler(&fake);
    let exporter = InMemorySpanExporter::default();
    // A queue far too small and an exporter that takes 20 ms a batch (a real one takes
    // longer): the SDK drops spans and says so through `tracing`, from inside
    // tracing-opentelemetry's on_close, on whichever worker ends the span. Without the delay
    // the in-memory exporter may keep up on a fast machine, and nothing is dropped.
    let processor = BatchSpanProcessor::builder(Slow(exporter.clone()))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(64)
                .with_max_export_batch_size(16)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let log = SdkLog::default();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(
                ResourceLayer::builder(&sampler)
                    .figures(FigureSet::Full)
                    .build(),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(log.clone()),
    );
    serve_concurrently(&dispatch, &sampler);
    assert!(
        log.count("BatchSpanProcessor.SpanDroppingStarted") > 0,
        "the SDK logged through this subscriber: {:?}",
        log.take()
    );
    // The in-memory exporter forgets at shutdown: read it after a flush. The shutdown's
    // warning, with the exact count of dropped spans, goes to the thread's subscriber.
    tracing::dispatcher::with_default(&dispatch, || provider.force_flush().unwrap());
    let exported = exporter.get_finished_spans().unwrap();
    tracing::dispatcher::with_default(&dispatch, || provider.shutdown().unwrap());
    let dropped = log.count("BatchSpanProcessor.SpansDropped");
    println!(
        "{} spans exported, {dropped} dropped by the SDK's queue, of {}; SDK log: {:?}",
        exported.len(),
        NAMES.len() * REQUESTS,
        log.take()
    );
    let unique: HashSet<_> = exported.iter().map(|s| s.span_context.span_id()).collect();
    assert_eq!(unique.len(), exported.len(), "a span exported twice");
    assert_eq!(
        exported.len() + dropped,
        NAMES.len() * REQUESTS,
        "every span exported or counted dropped"
    );
    exported.iter().for_each(assert_consistent);
}
