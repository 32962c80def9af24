//! The one-call pipeline in a batch job: a run span with step spans carrying resource figures,
//! and the resource metrics, over OTLP. README.md's batch quick start is the part between the
//! `README` markers.
//!
//! ```sh
//! otel-collector/run-rotel.sh &          # a local collector printing what it receives
//! OTEL_SERVICE_NAME=quickstart cargo run --example quickstart
//! ```
//! Settings come from the standard `OTEL_*` variables and the sampler's `RESMON_*` ones;
//! `QUICKSTART_SECONDS` is how long the three steps take together (default 1).

use std::time::Duration;

/// One step of the job: allocates and touches memory, burns some CPU, then waits.
fn train_step(step: usize) {
    let seconds: f64 = std::env::var("QUICKSTART_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let block = std::hint::black_box(vec![step as u8 + 1; 32 << 20]);
    let mut x = 0u64;
    for i in 0..20_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    drop(block);
    std::thread::sleep(Duration::from_secs_f64(seconds / 3.0));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README: begin batch
    let telemetry = otel_resmon::otlp::init()?; // OTEL_* and RESMON_* settings, global subscriber
    tracing::info_span!("quickstart.run").in_scope(|| {
        for step in 0..3 {
            // resmon.sample_now: a fresh sample at both ends, exact even for a short step.
            let span = tracing::info_span!("quickstart.step", step, resmon.sample_now = true);
            span.in_scope(|| train_step(step));
        }
    });
    // Flushes spans and metrics; a collector that is down is not the job's failure.
    if let Err(e) = telemetry.shutdown() {
        eprintln!("quickstart: telemetry was not fully delivered: {e}");
    }
    // README: end batch
    Ok(())
}
