//! What the crate must not leak: other processes on the GPU (NVML lists every user's pids), a
//! pid, path, query, header or body in a metric attribute, request data the user did not opt
//! into on a span.
#![cfg(all(
    feature = "nvml",
    feature = "tower",
    feature = "axum",
    target_os = "linux"
))]

mod common;

use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use common::fake_nvml::{two_gpus, FakeNvml, GIB};
use common::metrics::{collect, meters};
use common::otel::traced;
use common::passes;
use opentelemetry::metrics::MeterProvider as _;
use otel_resmon::tower::{ResourceTraceLayer, StatusService};
use otel_resmon::{ResourceLayer, Sampler};

/// The other process `two_gpus` lists on each GPU, and its memory.
const OTHER_PID: &str = "4242";
const OTHER_BYTES: u64 = 5 * GIB;
/// What the request below carries and nothing may repeat.
const SECRETS: [&str; 4] = ["98765", "s3cr3t-token", "Bearer-abc", "body-secret"];

/// Every metric attribute key the crate may emit: bounded values only.
const ALLOWED_METRIC_KEYS: &[&str] = &[
    "hw.id",
    "hw.name",
    "hw.vendor",
    "hw.model",
    "hw.type",
    "hw.parent",
    "hw.gpu.task",
    "hw.state",
    "hw.limit_type",
    "network.io.direction",
    "resmon.gpu.clock.domain",
    "resmon.gpu.clock_event.reason",
    "system.memory.state",
    "cpu.mode",
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "url.scheme",
    "error.type",
    "rpc.grpc.status_code",
    "span.name",
];

fn sampler(fake: &FakeNvml) -> Sampler {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .on_warning(|_| {})
        .build()
        .unwrap()
}

#[test]
fn the_status_service_reports_this_process_only() {
    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake);
    let snap = passes(&s, 3);
    assert_eq!(snap.gpus[0].process_memory, Some(GIB), "our own figure");
    let document = StatusService::new(&s).document();
    assert_eq!(
        document["snapshot"]["process"]["pid"],
        std::process::id(),
        "the one pid in it is this process's"
    );
    let json = document.to_string();
    // As values, not as digits inside another figure (a cgroup's CPU time of 4242.27 s is
    // no pid).
    assert!(
        !holds(&document, &|v| v.as_u64() == OTHER_PID.parse().ok()
            || v.as_str().is_some_and(|s| s.contains(OTHER_PID))),
        "another process's pid: {json}"
    );
    assert!(
        !holds(&document, &|v| v.as_u64() == Some(OTHER_BYTES)),
        "another process's memory: {json}"
    );
    assert_eq!(json.matches("\"pid\"").count(), 1, "{json}");
}

#[test]
fn metrics_and_spans_carry_no_request_data() {
    let fake = FakeNvml::new(&two_gpus());
    let s = sampler(&fake);
    let m = meters();
    let meter = m.provider.meter("security");
    // The per-span histograms go to the same provider, so they are checked too.
    let t = traced(ResourceLayer::builder(&s).metrics(&meter));
    let _resource_metrics = otel_resmon::metrics::register(&meter, &s);
    let runtime = common::runtime_under(&t.dispatch);
    let app = Router::new()
        .route(
            "/users/{id}",
            post(|body: String| async move { body.len().to_string() }),
        )
        .layer(ResourceTraceLayer::new(&s).metrics(&meter));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    runtime.block_on(async {
        let status = reqwest::Client::new()
            .post(format!("http://{addr}/users/98765?token=s3cr3t-token"))
            .header("authorization", "Bearer-abc")
            .header("cookie", "session=s3cr3t-token")
            .body("body-secret")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    });
    // The span: the route template and the path (semconv), never the query, a header other
    // than the user agent, or the body.
    let deadline = Instant::now() + Duration::from_secs(10);
    let span = loop {
        if let Some(span) = t.spans().into_iter().find(|s| s.name == "POST /users/{id}") {
            break span;
        }
        assert!(Instant::now() < deadline, "no request span");
        std::thread::sleep(Duration::from_millis(20));
    };
    for kv in &span.attributes {
        let value = kv.value.as_str();
        for secret in &SECRETS[1..] {
            assert!(!value.contains(secret), "{} = {value}", kv.key);
        }
        // As a value, not as digits inside a figure (bytes, seconds).
        let pid = match &kv.value {
            opentelemetry::Value::I64(i) => i.to_string() == OTHER_PID,
            opentelemetry::Value::String(s) => s.as_str().contains(OTHER_PID),
            _ => false,
        };
        assert!(
            !pid || kv.key.as_str() == "thread.id",
            "{} = {value}",
            kv.key
        );
    }
    // Metrics: bounded keys only, and no value from the request or another process.
    let mut points = 0;
    for (name, (_, _, data)) in collect(&m) {
        for p in data {
            points += 1;
            let value = p.sum.unwrap_or(p.value);
            assert!(
                value != OTHER_BYTES as f64,
                "{name}: another process's memory"
            );
            for kv in &p.attributes {
                assert!(
                    ALLOWED_METRIC_KEYS.contains(&kv.key.as_str()),
                    "{name}: attribute {} is not a bounded one",
                    kv.key
                );
                let v = kv.value.as_str();
                for secret in SECRETS.iter().chain([&OTHER_PID]) {
                    assert!(!v.contains(secret), "{name}: {} = {v}", kv.key);
                }
                assert_ne!(v, std::process::id().to_string(), "{name}: a pid");
            }
        }
    }
    assert!(points > 10, "metrics were read ({points} points)");
}

/// Whether any value in `v`, at any depth, satisfies `found`.
fn holds(v: &serde_json::Value, found: &dyn Fn(&serde_json::Value) -> bool) -> bool {
    found(v)
        || match v {
            serde_json::Value::Array(items) => items.iter().any(|i| holds(i, found)),
            serde_json::Value::Object(map) => map.values().any(|i| holds(i, found)),
            _ => false,
        }
}
