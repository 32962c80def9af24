//! `ResourceTraceLayer` on a real axum server (127.0.0.1:0) driven by a real HTTP client, and
//! on a tonic service: span fields per route, trace continuation, real memory in a handler,
//! a client that disconnects, 500 concurrent requests, the status JSON, bounded metrics, and
//! tower-http's `TraceLayer` beside it.
#![cfg(all(feature = "nvml", feature = "axum", target_os = "linux"))]

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use common::fake_nvml::{gpus, FakeNvml, Gpu, MIB};
use common::metrics::{collect, meters, Meters};
use common::otel::{attr, int, traced, Traced};
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::Value;
use otel_resmon::tower::{RequestResources, ResourceTraceLayer, StatusService};
use otel_resmon::{FigureSet, ResourceLayer, Sampler};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";

/// Memory a handler keeps alive until the test has read its span.
static KEPT: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

struct Server {
    addr: std::net::SocketAddr,
    traced: Traced,
    metrics: Meters,
    sampler: Sampler,
    runtime: tokio::runtime::Runtime,
    _fake: FakeNvml,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Waits until `n` spans named `name` are exported.
    fn spans_named(&self, name: &str, n: usize) -> Vec<opentelemetry_sdk::trace::SpanData> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans: Vec<_> = self
                .traced
                .spans()
                .into_iter()
                .filter(|s| s.name == name)
                .collect();
            if spans.len() >= n {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} spans {name:?} after 20 s",
                spans.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn server(extra: impl FnOnce(Router) -> Router) -> Server {
    server_with(|layer| layer, extra)
}

/// A server whose `ResourceTraceLayer` is configured by `trace`.
fn server_with(
    trace: impl FnOnce(ResourceTraceLayer) -> ResourceTraceLayer,
    extra: impl FnOnce(Router) -> Router,
) -> Server {
    server_full(|l| l, trace, extra)
}

/// A server whose `ResourceLayer` is configured by `layer` too.
fn server_full(
    layer: impl FnOnce(otel_resmon::ResourceLayerBuilder) -> otel_resmon::ResourceLayerBuilder,
    trace: impl FnOnce(ResourceTraceLayer) -> ResourceTraceLayer,
    extra: impl FnOnce(Router) -> Router,
) -> Server {
    let fake = FakeNvml::new(&gpus(&[Gpu::new(0, UUID0, "0000:01:00.0")]));
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let traced = traced(layer(
        ResourceLayer::builder(&sampler).figures(FigureSet::Full),
    ));
    let metrics = meters();
    let runtime = common::runtime_under(&traced.dispatch);
    let sampler_for_handler = sampler.clone();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/baggage",
            get(|| async {
                // What the caller's `baggage` header put in the handler's context.
                let cx = tracing::Span::current().context();
                cx.baggage()
                    .get("tenant")
                    .map_or_else(|| "none".to_owned(), |v| v.as_str().to_owned())
            }),
        )
        .route(
            "/users/{id}",
            get(|Path(id): Path<u64>| async move { format!("user {id}") }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/stream",
            get(|| async {
                // Three chunks, 150 ms apart: the request ends with the last one.
                let chunks = futures_util::stream::unfold(0u8, |i| async move {
                    if i == 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    Some((Ok::<_, std::io::Error>(vec![b'x'; 1000]), i + 1))
                });
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "slow"
            }),
        )
        .route(
            "/alloc",
            post(move |Extension(resources): Extension<RequestResources>| {
                let sampler = sampler_for_handler.clone();
                async move {
                    let block = vec![1u8; 256 * MIB as usize];
                    KEPT.lock().unwrap().push(block);
                    // Hand back the figures so far once the sampler has seen the memory.
                    let touched = Instant::now();
                    while sampler
                        .latest()
                        .process
                        .taken_at
                        .is_none_or(|t| t <= touched)
                    {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let so_far = resources.so_far();
                    format!("{}", so_far.rss_delta.unwrap_or(0))
                }
            }),
        )
        .layer(trace(
            ResourceTraceLayer::new(&sampler).metrics(&metrics.provider.meter("test")),
        ))
        .route_service("/api/status", StatusService::new(&sampler));
    let app = extra(app);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    Server {
        addr,
        traced,
        metrics,
        sampler,
        runtime,
        _fake: fake,
    }
}

#[test]
fn spans_carry_http_fields_and_figures_per_route() {
    let s = server(|r| r);
    let client = reqwest::Client::new();
    s.block_on(async {
        for path in ["/hello", "/users/42", "/boom", "/nowhere"] {
            let _ = client
                .get(s.url(path))
                .header("user-agent", "resmon-test/1")
                .send()
                .await
                .unwrap();
        }
    });
    let hello = &s.spans_named("GET /hello", 1)[0];
    assert_eq!(hello.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(
        attr(hello, "http.request.method"),
        Some(&Value::from("GET"))
    );
    assert_eq!(attr(hello, "http.route"), Some(&Value::from("/hello")));
    assert_eq!(attr(hello, "url.path"), Some(&Value::from("/hello")));
    assert_eq!(attr(hello, "url.scheme"), Some(&Value::from("http")));
    assert_eq!(
        attr(hello, "network.protocol.version"),
        Some(&Value::from("1.1"))
    );
    assert_eq!(
        attr(hello, "server.address"),
        Some(&Value::from("127.0.0.1"))
    );
    assert_eq!(
        attr(hello, "user_agent.original"),
        Some(&Value::from("resmon-test/1"))
    );
    assert_eq!(int(hello, "http.response.status_code"), 200);
    int(hello, "resmon.gpu.0.memory.usage.end");
    int(hello, "resmon.process.memory.usage.end");
    assert_eq!(
        attr(hello, "resmon.process.memory.usage.delta").is_some(),
        int(hello, "resmon.sample.count") > 1,
        "a delta exactly when the span saw more than one snapshot"
    );
    assert_eq!(hello.status, opentelemetry::trace::Status::Unset);
    assert!(
        attr(hello, "resmon.cancelled").is_none(),
        "a completed request is not cancelled"
    );
    assert!(attr(hello, "error.type").is_none());

    let user = &s.spans_named("GET /users/{id}", 1)[0];
    assert_eq!(attr(user, "http.route"), Some(&Value::from("/users/{id}")));
    assert_eq!(attr(user, "url.path"), Some(&Value::from("/users/42")));

    let boom = &s.spans_named("GET /boom", 1)[0];
    assert_eq!(int(boom, "http.response.status_code"), 500);
    assert!(
        matches!(boom.status, opentelemetry::trace::Status::Error { .. }),
        "{:?}",
        boom.status
    );
    assert_eq!(attr(boom, "error.type"), Some(&Value::from("500")));
}

#[test]
fn a_streaming_response_ends_its_span_with_the_body() {
    let s = server(|r| r);
    let body = s.block_on(async {
        reqwest::get(s.url("/stream"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    });
    assert_eq!(body.len(), 3000);
    let span = &s.spans_named("GET /stream", 1)[0];
    let took = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        took >= Duration::from_millis(400),
        "span ended before the body: {took:?}"
    );
    assert!(attr(span, "resmon.cancelled").is_none());
}

/// The context propagators `otlp::init` installs by default, and B3 beside them (as
/// `OTEL_PROPAGATORS=tracecontext,baggage,b3` gives); the layer extracts with the global one,
/// as the ecosystem does. Every test installs the same set: they run in parallel.
fn w3c_propagators() {
    type Propagator = Box<dyn opentelemetry::propagation::TextMapPropagator + Send + Sync>;
    #[allow(unused_mut)]
    let mut propagators: Vec<Propagator> = vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ];
    // opentelemetry-zipkin 0.33 marks the whole crate deprecated for its exporter; its B3
    // propagator is the one the ecosystem has (the crate uses it for `OTEL_PROPAGATORS=b3`).
    #[cfg(feature = "otlp")]
    #[allow(deprecated)]
    propagators.push(Box::new(opentelemetry_zipkin::Propagator::with_encoding(
        opentelemetry_zipkin::B3Encoding::SingleHeader,
    )));
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(propagators),
    );
}

/// Beside tower-http's `TraceLayer` with `in_current_span(true)`, with `CallerContextLayer`
/// outside it: the adopted span is the caller's child (W3C and B3) and the handler sees the
/// caller's baggage. Without that layer (the code before issue 24) the adopted span started
/// a trace of its own: tower-http's span fixes its trace when it is entered, before the
/// services inside it run.
#[test]
fn an_adopted_tower_http_span_joins_the_callers_trace_and_keeps_its_baggage() {
    w3c_propagators();
    let s = server_with(
        |layer| layer.in_current_span(true),
        |r| {
            r.layer(tower_http::trace::TraceLayer::new_for_http())
                .layer(otel_resmon::tower::CallerContextLayer::new())
        },
    );
    let client = reqwest::Client::new();
    let tenant = s.block_on(async {
        client
            .get(s.url("/hello"))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .send()
            .await
            .unwrap();
        #[cfg(feature = "otlp")]
        client
            .get(s.url("/users/7"))
            .header("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")
            .send()
            .await
            .unwrap();
        client
            .get(s.url("/baggage"))
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .header("baggage", "tenant=acme,plan=pro")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let w3c = &s.spans_named("GET /hello", 1)[0];
    assert_eq!(
        w3c.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(w3c.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(w3c.parent_span_is_remote);
    #[cfg(feature = "otlp")]
    {
        let b3 = &s.spans_named("GET /users/{id}", 1)[0];
        assert_eq!(
            b3.span_context.trace_id().to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
        assert_eq!(b3.parent_span_id.to_string(), "e457b5a2e4d86bd1");
    }
    let with_baggage = &s.spans_named("GET /baggage", 1)[0];
    assert_eq!(
        with_baggage.span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        tenant, "acme",
        "the handler's context lost the caller's baggage"
    );
    // One span per request, tower-http's: nothing of ours beside it.
    let expected = if cfg!(feature = "otlp") { 3 } else { 2 };
    assert_eq!(s.traced.spans().len(), expected);
}

#[test]
fn a_traceparent_continues_the_callers_trace_and_baggage_reaches_the_handler() {
    w3c_propagators();
    let s = server(|r| r);
    let client = reqwest::Client::new();
    let tenant = s.block_on(async {
        client
            .get(s.url("/hello"))
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .send()
            .await
            .unwrap();
        client
            .get(s.url("/baggage"))
            .header("baggage", "tenant=acme,plan=pro")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let span = &s.spans_named("GET /hello", 1)[0];
    assert_eq!(
        span.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(span.parent_span_is_remote);
    assert_eq!(
        tenant, "acme",
        "the handler's context lost the caller's baggage"
    );
    // Baggage alone does not invent a parent.
    let span = &s.spans_named("GET /baggage", 1)[0];
    assert!(!span.parent_span_is_remote);
}

#[test]
fn a_handler_touching_256_mib_shows_it_and_gets_its_figures() {
    let s = server(|r| r);
    let client = reqwest::Client::new();
    let body = s.block_on(async {
        client
            .post(s.url("/alloc"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let seen_by_handler: i64 = body.parse().unwrap();
    assert!(
        seen_by_handler >= (200 * MIB) as i64,
        "handler saw {} MiB",
        seen_by_handler / MIB as i64
    );
    let span = &s.spans_named("POST /alloc", 1)[0];
    let delta = int(span, "resmon.process.memory.usage.delta");
    assert!(
        delta >= (200 * MIB) as i64,
        "span RSS delta {} MiB",
        delta / MIB as i64
    );
    KEPT.lock().unwrap().clear();
}

#[test]
fn a_client_that_disconnects_mid_handler_still_gets_its_span() {
    let s = server(|r| r);
    let mut stream = std::net::TcpStream::connect(s.addr).unwrap();
    write!(stream, "GET /slow HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(stream); // hyper notices and drops the request's future
    let span = &s.spans_named("GET /slow", 1)[0];
    assert_eq!(attr(span, "resmon.cancelled"), Some(&Value::Bool(true)));
    assert_eq!(attr(span, "error.type"), Some(&Value::from("cancelled")));
    assert!(attr(span, "http.response.status_code").is_none());
    int(span, "resmon.process.memory.usage.end");
    int(span, "resmon.gpu.0.memory.usage.end");
    let took = span.end_time.duration_since(span.start_time).unwrap();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "ends at the disconnect (about 200 ms), not at the start or the handler's end: {took:?}"
    );
}

#[test]
fn five_hundred_concurrent_requests_get_one_consistent_span_each() {
    let s = server(|r| r);
    let client = reqwest::Client::new();
    s.block_on(async {
        let requests: Vec<_> = (0..500)
            .map(|_| {
                let (client, url) = (client.clone(), s.url("/hello"));
                tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
            })
            .collect();
        for r in requests {
            assert_eq!(r.await.unwrap(), 200);
        }
    });
    let spans = s.spans_named("GET /hello", 500);
    assert_eq!(spans.len(), 500, "one span per request");
    let mut ids = std::collections::HashSet::new();
    for span in &spans {
        assert!(
            ids.insert(span.span_context.span_id()),
            "a span exported twice"
        );
        for (start, end, delta) in [
            (
                "resmon.process.memory.usage.start",
                "resmon.process.memory.usage.end",
                "resmon.process.memory.usage.delta",
            ),
            (
                "resmon.gpu.0.memory.usage.start",
                "resmon.gpu.0.memory.usage.end",
                "resmon.gpu.0.memory.usage.delta",
            ),
        ] {
            // A request within one sampling interval reads one snapshot at both ends: no
            // delta (nothing was observed in between), and its start equals its end.
            match attr(span, delta) {
                Some(_) => assert_eq!(int(span, end) - int(span, start), int(span, delta)),
                None => {
                    assert_eq!(int(span, "resmon.sample.count"), 0);
                    assert_eq!(int(span, end), int(span, start));
                }
            }
        }
        assert!(int(span, "resmon.sample.count") >= 0);
    }
}

#[test]
fn the_status_json_parses_and_matches_the_sampler() {
    let s = server(|r| r);
    let body = s.block_on(async {
        reqwest::get(s.url("/api/status"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["gpu_status"]["status"], "ok");
    assert_eq!(json["inventory"]["driver_version"], "550.54.15");
    assert_eq!(json["inventory"]["cuda_driver_version"], "12.4");
    assert_eq!(json["inventory"]["devices"][0]["uuid"], UUID0);
    assert_eq!(
        json["snapshot"]["gpus"][0]["memory_used_bytes"],
        10u64 << 30
    );
    assert_eq!(json["snapshot"]["gpus"][0]["utilization_gpu"], 0.4);
    assert_eq!(json["sampler"]["interval_seconds"], 0.02);
    assert_eq!(json["snapshot"]["process"]["pid"], std::process::id());
    assert!(json["sampler"]["passes"].as_u64().unwrap() >= 1);
    assert_eq!(s.sampler.inventory().devices.len(), 1);
    // This machine is the host (tests/pid_namespace.rs runs the container cases).
    assert_eq!(json["pid_namespace"]["namespace"], "initial");
    assert!(json["pid_namespace"]["inode"].is_null());
    assert!(json["pid_namespace"]["gpu_process_memory"]
        .as_str()
        .unwrap()
        .starts_with("exact"));
}

#[test]
fn request_metrics_carry_bounded_attributes_only() {
    let s = server(|r| r);
    let client = reqwest::Client::new();
    s.block_on(async {
        for id in 0..20 {
            client
                .get(s.url(&format!("/users/{id}")))
                .send()
                .await
                .unwrap();
        }
        client.get(s.url("/boom")).send().await.unwrap();
        // 450 ms: it sees several snapshots, so its CPU time and GPU peak are recorded (the
        // fast ones may begin and end on one snapshot, which records nothing).
        let streamed = client.get(s.url("/stream")).send().await.unwrap();
        streamed.bytes().await.unwrap();
    });
    s.spans_named("GET /users/{id}", 20);
    s.spans_named("GET /stream", 1);
    let got = collect(&s.metrics);
    let units: HashMap<&str, &str> = got
        .iter()
        .map(|(name, (unit, _, _))| (name.as_str(), unit.as_str()))
        .collect();
    let durations: Vec<Vec<(String, String)>> = got["http.server.request.duration"]
        .2
        .iter()
        .map(|p| {
            p.attributes
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect()
        })
        .collect();
    assert_eq!(units["http.server.request.duration"], "s");
    assert_eq!(units["resmon.http.server.request.process.cpu.time"], "s");
    assert_eq!(units["resmon.http.server.request.gpu.memory.peak"], "By");
    // 20 different user ids are one route: one series for them, one for /boom, one for /stream.
    assert_eq!(durations.len(), 3, "{durations:?}");
    for attrs in &durations {
        for (k, v) in attrs {
            assert!(
                [
                    "http.request.method",
                    "url.scheme",
                    "http.route",
                    "http.response.status_code",
                    "error.type"
                ]
                .contains(&k.as_str()),
                "unbounded attribute {k}={v}"
            );
            assert!(!v.contains("/users/1"), "a path with an id: {v}");
        }
    }
    assert!(durations
        .iter()
        .any(|a| a.contains(&("http.route".into(), "/users/{id}".into()))));
}

#[test]
fn works_beside_tower_http_trace_layer() {
    let s = server(|r| r.layer(tower_http::trace::TraceLayer::new_for_http()));
    s.block_on(async {
        let status = reqwest::get(s.url("/hello")).await.unwrap().status();
        assert_eq!(status, 200);
    });
    let ours = &s.spans_named("GET /hello", 1)[0];
    int(ours, "resmon.process.memory.usage.end");
    // tower-http's span ("request") wraps ours and is exported too.
    let all = s.traced.spans();
    let theirs = all
        .iter()
        .find(|s| s.name == "request")
        .expect("tower-http's span");
    assert_eq!(ours.parent_span_id, theirs.span_context.span_id());
}

#[test]
fn in_current_span_puts_everything_on_tower_https_span() {
    let s = server_with(
        |layer| layer.in_current_span(true),
        |r| r.layer(tower_http::trace::TraceLayer::new_for_http()),
    );
    s.block_on(async {
        for path in ["/users/7", "/boom"] {
            reqwest::get(s.url(path)).await.unwrap();
        }
    });
    let user = &s.spans_named("GET /users/{id}", 1)[0];
    let boom = &s.spans_named("GET /boom", 1)[0];
    // One span per request: tower-http's, renamed; no child of ours, no span left as "request".
    let all = s.traced.spans();
    assert_eq!(
        all.len(),
        2,
        "{:?}",
        all.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(
        attr(user, "uri"),
        Some(&Value::from("/users/7")),
        "tower-http's field"
    );
    assert_eq!(attr(user, "http.request.method"), Some(&Value::from("GET")));
    assert_eq!(attr(user, "http.route"), Some(&Value::from("/users/{id}")));
    assert_eq!(int(user, "http.response.status_code"), 200);
    int(user, "resmon.gpu.0.memory.usage.end");
    int(user, "resmon.process.memory.usage.end");
    assert!(attr(user, "error.type").is_none() && attr(user, "resmon.cancelled").is_none());
    assert_eq!(int(boom, "http.response.status_code"), 500);
    assert_eq!(attr(boom, "error.type"), Some(&Value::from("500")));
    for span in [user, boom] {
        let mut keys: Vec<_> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n, "a key written twice on {}", span.name);
    }
}

#[test]
fn in_current_span_without_a_current_span_opens_its_own() {
    let s = server_with(|layer| layer.in_current_span(true), |r| r);
    s.block_on(async {
        reqwest::get(s.url("/hello")).await.unwrap();
    });
    let hello = &s.spans_named("GET /hello", 1)[0];
    assert_eq!(hello.span_kind, opentelemetry::trace::SpanKind::Server);
    assert_eq!(attr(hello, "url.path"), Some(&Value::from("/hello")));
    int(hello, "resmon.gpu.0.memory.usage.end");
}

#[test]
fn tonic_requests_get_rpc_fields() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };

    struct Sink;
    #[tonic::async_trait]
    impl TraceService for Sink {
        async fn export(
            &self,
            _: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    let s = server(|r| r);
    let addr = common::free_addr();
    let incoming = {
        let _e = s.runtime.enter();
        tonic::transport::server::TcpIncoming::bind(addr).unwrap()
    };
    s.runtime.spawn(
        tonic::transport::Server::builder()
            .layer(ResourceTraceLayer::new(&s.sampler))
            .add_service(TraceServiceServer::new(Sink))
            .serve_with_incoming(incoming),
    );
    s.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        client
            .export(ExportTraceServiceRequest::default())
            .await
            .unwrap();
    });
    let name = "opentelemetry.proto.collector.trace.v1.TraceService/Export";
    let span = &s.spans_named(name, 1)[0];
    assert_eq!(attr(span, "rpc.system"), Some(&Value::from("grpc")));
    assert_eq!(
        attr(span, "rpc.service"),
        Some(&Value::from(
            "opentelemetry.proto.collector.trace.v1.TraceService"
        ))
    );
    assert_eq!(attr(span, "rpc.method"), Some(&Value::from("Export")));
    assert_eq!(int(span, "rpc.grpc.status_code"), 0);
    assert!(attr(span, "http.route").is_none());
    int(span, "resmon.process.memory.usage.end");
}

#[test]
fn head_requests_are_finished_not_cancelled() {
    for in_current_span in [false, true] {
        let s = if in_current_span {
            server_with(
                |layer| layer.in_current_span(true),
                |r| r.layer(tower_http::trace::TraceLayer::new_for_http()),
            )
        } else {
            server(|r| r)
        };
        let client = reqwest::Client::new();
        let status =
            s.block_on(async { client.head(s.url("/hello")).send().await.unwrap().status() });
        assert_eq!(status, 200);
        let span = &s.spans_named("HEAD /hello", 1)[0];
        assert!(
            attr(span, "resmon.cancelled").is_none() && attr(span, "error.type").is_none(),
            "HEAD (in_current_span {in_current_span}) reported as cancelled: {:?}",
            span.attributes
        );
        assert_eq!(int(span, "http.response.status_code"), 200);
        let got = collect(&s.metrics);
        let (_, _, points) = &got["http.server.request.duration"];
        assert!(
            points.iter().all(|p| p
                .attributes
                .iter()
                .all(|kv| kv.key.as_str() != "error.type")),
            "{points:?}"
        );
    }
}

#[test]
fn an_explicit_selection_never_drops_the_request_spans_and_no_marker_is_exported() {
    let s = server_full(
        |layer| layer.target_prefix("my_app").level(tracing::Level::WARN),
        |t| t,
        |r| r,
    );
    s.block_on(async {
        reqwest::get(s.url("/hello")).await.unwrap();
    });
    let span = &s.spans_named("GET /hello", 1)[0];
    int(span, "resmon.process.memory.usage.end");
    assert!(
        attr(span, "resmon").is_none(),
        "the selection marker is exported"
    );
}

#[test]
fn request_values_are_cut_to_the_value_length_limit() {
    let s = server_with(|t| t.value_length_limit(100), |r| r);
    let long = "x".repeat(200_000);
    s.block_on(async {
        reqwest::Client::new()
            .get(s.url(&format!("/users/{}", "9".repeat(300))))
            .header("user-agent", &long)
            .header("host", format!("{}:80", "h".repeat(300)))
            .send()
            .await
            .unwrap();
    });
    let span = &s.spans_named("GET /users/{id}", 1)[0];
    for key in ["user_agent.original", "url.path", "server.address"] {
        let v = attr(span, key).unwrap_or_else(|| panic!("{key}")).as_str();
        assert_eq!(v.chars().count(), 100, "{key}");
    }
}

#[test]
fn a_request_within_one_snapshot_has_no_made_up_figures() {
    // One snapshot for the whole test: the request starts and reads on it.
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let resources = RequestResources::new(&sampler);
    let burnt = common::burn_cpu(0.02);
    let so_far = resources.so_far();
    assert_eq!(
        (so_far.process_cpu_time, so_far.rss_delta),
        (None, None),
        "made-up figures from one snapshot after {burnt:.3} s of CPU"
    );
    assert_eq!(so_far.change("process.cpu.time"), None);
    let exact = resources.so_far_exact();
    let cpu = exact.process_cpu_time.expect("CPU time to a fresh sample");
    assert!(cpu >= burnt * 0.9, "{cpu} s of CPU, {burnt} s burnt");
    assert!(exact.rss_delta.is_some());
    // Every figure of the catalogue by name, the named fields among them.
    assert_eq!(exact.change("process.cpu.time"), Some(cpu));
    assert_eq!(
        exact.change("process.memory.usage").map(|d| d as i64),
        exact.rss_delta
    );
    assert!(exact.change("process.memory.virtual").is_some());
    assert_eq!(exact.change("no.such.figure"), None);
}

#[test]
fn error_type_is_bounded_and_meaningful() {
    use otel_resmon::tower::ResourceTrace;
    use tower::{Service as _, ServiceExt as _};

    let s = server(|r| r);
    // tower's timeout around an inner service: the error reaches the resource layer as a
    // BoxError holding `Elapsed`.
    let timeout = tower::ServiceBuilder::new()
        .timeout(Duration::from_millis(1))
        .service_fn(|_: http::Request<String>| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, tower::BoxError>(http::Response::new(String::new()))
        });
    let mut traced_svc = ResourceTrace::new(timeout, &s.sampler);
    let io = tower::service_fn(|_: http::Request<String>| async {
        Err::<http::Response<String>, _>(std::io::Error::other("disk"))
    });
    let mut traced_io = ResourceTrace::new(io, &s.sampler);
    s.traced.run(|| {
        s.block_on(async {
            let req = || http::Request::new(String::new());
            let _ = traced_svc.ready().await.unwrap().call(req()).await;
            let _ = traced_io.ready().await.unwrap().call(req()).await;
        })
    });
    let spans = s.spans_named("GET", 2);
    let types: Vec<_> = spans
        .iter()
        .map(|s| attr(s, "error.type").cloned())
        .collect();
    assert!(types.contains(&Some(Value::from("timeout"))), "{types:?}");
    assert!(
        types.contains(&Some(Value::from("std::io::Error"))),
        "{types:?}"
    );
}

#[test]
fn ipv6_host_gives_the_whole_address() {
    let s = server(|r| r);
    s.block_on(async {
        reqwest::Client::new()
            .get(s.url("/hello"))
            .header("host", "[2001:db8::1]:8080")
            .send()
            .await
            .unwrap();
    });
    let span = &s.spans_named("GET /hello", 1)[0];
    assert_eq!(
        attr(span, "server.address"),
        Some(&Value::from("2001:db8::1"))
    );
}
