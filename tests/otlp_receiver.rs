//! Hermetic OTLP tests: an in-process receiver (opentelemetry-proto's tonic server types for
//! gRPC, and an axum router decoding the protobuf bodies for HTTP) gets what the one-call pipeline
//! exports, and the tests assert on typed values, so a failure names the missing attribute.
//! Also: a shutdown on a current-thread runtime's only thread neither hangs nor loses data.
#![cfg(all(feature = "nvml", feature = "otlp", target_os = "linux"))]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::fake_nvml::{two_gpus, FakeNvml};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use otel_resmon::otlp::Pipeline;
use otel_resmon::Sampler;
use prost::Message;
use tracing_subscriber::layer::SubscriberExt;

/// Everything the receiver got.
#[derive(Default, Clone)]
struct Received {
    traces: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metrics: Arc<Mutex<Vec<ExportMetricsServiceRequest>>>,
    /// The `x-tenant` header (gRPC metadata) of each export.
    tenants: Arc<Mutex<Vec<String>>>,
}

impl Received {
    fn spans(&self) -> Vec<Span> {
        let traces = self.traces.lock().unwrap();
        traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| s.spans.clone())
            .collect()
    }

    fn tenant(&self, value: Option<&str>) {
        self.tenants
            .lock()
            .unwrap()
            .push(value.unwrap_or("(none)").to_owned());
    }

    /// The string attributes of the first exported Resource.
    fn resource(&self) -> HashMap<String, String> {
        let traces = self.traces.lock().unwrap();
        let resource = traces
            .iter()
            .flat_map(|r| &r.resource_spans)
            .find_map(|r| r.resource.clone())
            .expect("a Resource");
        resource
            .attributes
            .into_iter()
            .filter_map(|kv| match kv.value?.value? {
                Value::StringValue(v) => Some((kv.key, v)),
                _ => None,
            })
            .collect()
    }

    /// Metric name -> unit.
    fn metric_units(&self) -> HashMap<String, String> {
        let metrics = self.metrics.lock().unwrap();
        metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| (m.name.clone(), m.unit.clone()))
            .collect()
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.tenant(
            request
                .metadata()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok()),
        );
        self.traces.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.tenant(
            request
                .metadata()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok()),
        );
        self.metrics.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// A receiver on its own runtime (not the one the code under test may block).
struct Receiver {
    received: Received,
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn grpc_receiver() -> Receiver {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Received::default();
    let addr = common::free_addr();
    let incoming = {
        let _entered = runtime.enter();
        tonic::transport::server::TcpIncoming::bind(addr).unwrap()
    };
    let service = received.clone();
    runtime.spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(service.clone()))
            .add_service(MetricsServiceServer::new(service))
            .serve_with_incoming(incoming)
            .await
    });
    Receiver {
        received,
        addr,
        _runtime: runtime,
    }
}

/// The `x-tenant` header of an export.
fn tenant_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get("x-tenant").and_then(|v| v.to_str().ok())
}

/// OTLP/HTTP: `POST /v1/traces` and `/v1/metrics` with protobuf bodies, served by axum.
fn http_receiver() -> Receiver {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::HeaderMap;
    use axum::routing::post;

    async fn traces(State(store): State<Received>, headers: HeaderMap, body: Bytes) {
        store.tenant(tenant_of(&headers));
        let r = ExportTraceServiceRequest::decode(body).expect("an OTLP trace request");
        store.traces.lock().unwrap().push(r);
    }
    async fn metrics(State(store): State<Received>, headers: HeaderMap, body: Bytes) {
        store.tenant(tenant_of(&headers));
        let r = ExportMetricsServiceRequest::decode(body).expect("an OTLP metrics request");
        store.metrics.lock().unwrap().push(r);
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .with_state(received.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Receiver {
        received,
        addr,
        _runtime: runtime,
    }
}

/// Tests that install a pipeline hold this: one of them sets process variables.
fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn pipeline(protocol: &str, receiver: &Receiver, fake: &FakeNvml) -> Pipeline {
    let endpoint = format!("http://{}", receiver.addr);
    let vars: HashMap<&str, String> = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200".to_owned()),
        ("OTEL_SERVICE_NAME", "hermetic".to_owned()),
        // Given here, not in the process: they must reach the collector all the same.
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-tenant=acme%20corp".to_owned(),
        ),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=inference,service.name=ignored".to_owned(),
        ),
    ]
    .into_iter()
    .collect();
    Pipeline::new()
        .env(move |k| vars.get(k).cloned())
        .sampler(
            Sampler::builder()
                .ignore_env(true)
                .nvml_library(fake.library())
                .interval(Duration::from_millis(50)),
        )
        .install_subscriber(false)
}

fn attribute<'a>(span: &'a Span, key: &str) -> &'a Value {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .unwrap_or_else(|| panic!("span {:?} has no attribute {key}", span.name))
}

fn exported_and_typed(protocol: &str, receiver: Receiver) {
    let fake = FakeNvml::new(&two_gpus());
    let guard = pipeline(protocol, &receiver, &fake).install().unwrap();
    let subscriber = tracing_subscriber::registry().with(guard.layer());
    tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("hermetic.work").entered();
        std::thread::sleep(Duration::from_millis(500));
    });
    guard
        .shutdown()
        .expect("a clean shutdown with the receiver up");

    // Headers and resource attributes from `Pipeline::env`, none from the process.
    let tenants = receiver.received.tenants.lock().unwrap().clone();
    assert!(
        !tenants.is_empty() && tenants.iter().all(|t| t == "acme corp"),
        "x-tenant on the exports: {tenants:?}"
    );
    let resource = receiver.received.resource();
    assert_eq!(resource.get("team").map(String::as_str), Some("inference"));
    assert_eq!(
        resource.get("service.name").map(String::as_str),
        Some("hermetic"),
        "OTEL_SERVICE_NAME wins"
    );
    assert!(
        !resource.contains_key("leak"),
        "the process's OTEL_RESOURCE_ATTRIBUTES reached the Resource: {resource:?}"
    );

    let spans = receiver.received.spans();
    let span = spans
        .iter()
        .find(|s| s.name == "hermetic.work")
        .expect("the span was exported");
    assert!(matches!(
        attribute(span, "resmon.gpu.1.memory.usage.end"),
        Value::IntValue(_)
    ));
    for key in [
        "resmon.process.memory.usage.end",
        "resmon.process.memory.usage.delta",
        "resmon.system.memory.usage.end",
        "resmon.gpu.0.memory.usage.end",
        "resmon.gpu.0.memory.usage.peak",
        "resmon.gpu.1.process.memory.usage.delta",
    ] {
        assert!(
            matches!(attribute(span, key), Value::IntValue(_)),
            "{key} is not an Int"
        );
    }
    for key in [
        "resmon.sample.age",
        "resmon.process.cpu.time.delta",
        "resmon.gpu.0.utilization.peak",
        "resmon.gpu.1.utilization.mean",
    ] {
        assert!(
            matches!(attribute(span, key), Value::DoubleValue(_)),
            "{key} is not a Double"
        );
    }
    let units = receiver.received.metric_units();
    for (name, unit) in [
        ("hw.gpu.memory.usage", "By"),
        ("hw.gpu.memory.limit", "By"),
        ("hw.gpu.memory.utilization", "1"),
        ("hw.gpu.utilization", "1"),
        ("hw.power", "W"),
        ("hw.energy", "J"),
        ("hw.temperature", "Cel"),
        ("process.gpu.memory.usage", "By"),
        ("system.cpu.utilization", "1"),
        ("system.memory.usage", "By"),
        ("system.memory.limit", "By"),
        ("process.cpu.time", "s"),
        ("process.memory.usage", "By"),
        ("resmon.span.process.cpu.time", "s"),
    ] {
        assert_eq!(
            units.get(name).map(String::as_str),
            Some(unit),
            "metric {name} missing or with the wrong unit"
        );
    }
}

#[test]
fn grpc_export_is_typed() {
    let _env = env_lock();
    exported_and_typed("grpc", grpc_receiver());
}

#[test]
fn http_protobuf_export_is_typed() {
    let _env = env_lock();
    exported_and_typed("http/protobuf", http_receiver());
}

#[test]
fn shutdown_on_a_current_thread_runtime_neither_hangs_nor_loses_spans() {
    let _env = env_lock();
    for (protocol, receiver) in [
        ("grpc", grpc_receiver()),
        ("http/protobuf", http_receiver()),
    ] {
        let fake = FakeNvml::new(&two_gpus());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        runtime.block_on(async {
            let guard = pipeline(protocol, &receiver, &fake).install().unwrap();
            let subscriber = tracing_subscriber::registry().with(guard.layer());
            let _default = tracing::subscriber::set_default(subscriber);
            for i in 0..20 {
                let _span = tracing::info_span!("on_current_thread", i).entered();
                tokio::task::yield_now().await;
            }
            // Dropped on the runtime's only thread, inside async code.
            drop(guard);
        });
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{protocol}: shutdown took {:?}",
            started.elapsed()
        );
        let spans = receiver.received.spans();
        let n = spans
            .iter()
            .filter(|s| s.name == "on_current_thread")
            .count();
        assert_eq!(n, 20, "{protocol}: every span delivered by the final flush");
    }
}

/// The process environment's OTEL_RESOURCE_ATTRIBUTES stays out of a pipeline given its own
/// environment (checked in `exported_and_typed`), and a header variable in the process, which
/// opentelemetry-otlp would read behind `Pipeline::env`'s back, stops `install` by name.
#[test]
fn pipeline_env_replaces_the_process_environment() {
    let _env = env_lock();
    // Set for the whole test binary: no test here reads it from the process.
    std::env::set_var("OTEL_RESOURCE_ATTRIBUTES", "leak=process");
    exported_and_typed("http/protobuf", http_receiver());
    exported_and_typed("grpc", grpc_receiver());

    let fake = FakeNvml::new(&two_gpus());
    let receiver = http_receiver();
    std::env::set_var("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-leak=1");
    let result = pipeline("http/protobuf", &receiver, &fake).install();
    std::env::remove_var("OTEL_EXPORTER_OTLP_TRACES_HEADERS");
    let err = result.expect_err("a process header variable behind Pipeline::env");
    assert!(
        err.to_string()
            .contains("OTEL_EXPORTER_OTLP_TRACES_HEADERS"),
        "{err}"
    );
}
