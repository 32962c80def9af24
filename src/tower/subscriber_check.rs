//! One warning when requests run under a subscriber without [`ResourceLayer`]: the request
//! spans would carry no figures, and nothing else would say so.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::layer::ResourceLayer;

/// What the warning says.
pub(crate) const MISSING_RESOURCE_LAYER: &str = "ResourceTraceLayer is serving requests under a \
    tracing subscriber without ResourceLayer: the request spans get no resource figures. Add \
    ResourceLayer to the subscriber, inside the tracing-opentelemetry layer (otlp::init does)";

/// Looks at the current subscriber on the first request of the process (one atomic load on
/// every other): without a `ResourceLayer` in it, warns once, through `tracing` where a
/// subscriber is set, else on stderr.
pub(crate) fn check_once() {
    static CHECKED: AtomicBool = AtomicBool::new(false);
    if CHECKED.load(Ordering::Relaxed) || CHECKED.swap(true, Ordering::Relaxed) {
        return;
    }
    let (present, no_subscriber) = tracing::dispatcher::get_default(|d| {
        (
            d.is::<ResourceLayer>(),
            d.is::<tracing::subscriber::NoSubscriber>(),
        )
    });
    if present {
        return;
    }
    if no_subscriber {
        eprintln!("otel-resmon: warning: {MISSING_RESOURCE_LAYER}");
    } else {
        tracing::warn!(target: "otel_resmon", "{MISSING_RESOURCE_LAYER}");
    }
}
