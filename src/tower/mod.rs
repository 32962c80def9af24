//! [`ResourceTraceLayer`]: a tower layer for axum, hyper and tonic servers. Every request is a
//! server span with the OpenTelemetry HTTP (or RPC) semantic-convention fields; the
//! resource figures land on it through [`ResourceLayer`](crate::ResourceLayer) (one
//! implementation for both entry points); the request's start snapshot is handed to the
//! handler; request metrics are recorded when the response body ends. The caller's trace
//! context and baggage are extracted with OpenTelemetry's global propagator.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{routing::get, Router};
//! use otel_resmon::tower::ResourceTraceLayer;
//!
//! let telemetry = otel_resmon::otlp::init()?; // subscriber with ResourceLayer + OTel
//! let app = Router::new()
//!     .route("/hello", get(|| async { "hello" }))
//!     .layer(ResourceTraceLayer::new(telemetry.sampler()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:5001").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
#![doc = include_str!("reference.md")]

mod body;
mod caller_context;
mod error_type;
mod exchange;
mod future;
mod handle;
mod layer;
mod layer_state;
mod propagation;
mod report;
mod request;
mod request_metrics;
mod semconv;
mod service;
mod status_service;
mod subscriber_check;

pub use crate::keys::metric::{
    HTTP_SERVER_REQUEST_GPU_MEMORY_PEAK, HTTP_SERVER_REQUEST_PROCESS_CPU_TIME,
};
pub use body::ResponseBody;
pub use caller_context::{CallerContext, CallerContextFuture, CallerContextLayer};
pub use future::ResponseFuture;
pub use handle::{FiguresSoFar, GpuMemoryDelta, GpuMemoryPeak, RequestResources};
pub use layer::ResourceTraceLayer;
pub use service::ResourceTrace;
pub use status_service::StatusService;

/// Environment variable: `1` (or `true`, `on`, `yes`) turns the per-request summary on stderr on.
pub const ENV_REPORT: &str = "RESMON_REPORT";
