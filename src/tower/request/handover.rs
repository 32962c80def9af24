//! An adopted span (an outer layer's) gets its name and HTTP attributes at the end, in one
//! batch with the figures.

use opentelemetry::KeyValue;

use super::Names;
use crate::keys::http as keys;
use crate::layer::Handover;
use crate::tower::exchange::Exchange;

/// What a request on an adopted span keeps for its handover.
pub(super) struct Adopted {
    name: String,
    rpc: Option<(String, String)>,
}

impl Adopted {
    pub(super) fn new(names: &Names<'_>, grpc: bool) -> Self {
        Self {
            name: names.span.clone(),
            rpc: grpc.then(|| (names.rpc.0.to_owned(), names.rpc.1.to_owned())),
        }
    }

    /// The attributes the adopted span gets; `route` is taken (the last reader).
    pub(super) fn handover(self, x: &mut Exchange, finished: bool) -> Handover {
        let mut a = Vec::with_capacity(8);
        a.push(KeyValue::new(keys::METHOD.clone(), x.method));
        if let Some(route) = x.route.take() {
            a.push(KeyValue::new(keys::ROUTE.clone(), route));
        }
        if let Some(status) = x.status {
            a.push(KeyValue::new(keys::STATUS_CODE.clone(), i64::from(status)));
        }
        if let Some((service, method)) = self.rpc {
            a.push(KeyValue::new(keys::RPC_SYSTEM.clone(), "grpc"));
            a.push(KeyValue::new(keys::RPC_SERVICE.clone(), service));
            a.push(KeyValue::new(keys::RPC_METHOD.clone(), method));
        }
        if let Some(code) = x.grpc_status {
            a.push(KeyValue::new(keys::RPC_GRPC_STATUS_CODE.clone(), code));
        }
        if let Some(error) = x.error {
            a.push(KeyValue::new(keys::ERROR_TYPE.clone(), error));
        }
        if !finished {
            a.push(KeyValue::new(keys::CANCELLED.clone(), true));
        }
        Handover {
            name: Some(self.name.into()),
            attributes: a,
        }
    }
}
