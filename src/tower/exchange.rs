//! What is known of one request and its response, as plain data: what the span's end, the
//! request metrics and the report read.

use std::sync::Arc;
use std::time::Instant;

use crate::snapshot::Snapshot;

#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) started: Instant,
    pub(crate) start: Arc<Snapshot>,
    /// `http.request.method`: a known method or `_OTHER`.
    pub(crate) method: &'static str,
    pub(crate) scheme: &'static str,
    /// The route template (never the path).
    pub(crate) route: Option<String>,
    pub(crate) grpc: bool,
    pub(crate) status: Option<u16>,
    pub(crate) grpc_status: Option<i64>,
    /// `error.type`, from a bounded set.
    pub(crate) error: Option<&'static str>,
    pub(crate) request_bytes: Option<u64>,
    pub(crate) response_bytes: u64,
}
