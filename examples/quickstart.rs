//! The one-call pipeline: spans with resource figures and the resource metrics, over OTLP.
//!
//! ```sh
//! otel-collector/run-rotel.sh &          # a local collector printing what it receives
//! OTEL_SERVICE_NAME=quickstart cargo run --example quickstart
//! ```
//! Settings come from the standard `OTEL_*` variables and the sampler's `RESMON_*` ones.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let telemetry = otel_resmon::otlp::init()?;
    let seconds: f64 = std::env::var("QUICKSTART_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);

    let run = tracing::info_span!("quickstart.run");
    let _run = run.enter();
    for step in 0..3 {
        // A step that allocates and touches memory, then burns some CPU.
        let span = tracing::info_span!("quickstart.step", step, resmon.sample_now = true);
        let _step = span.enter();
        let block = std::hint::black_box(vec![step as u8 + 1; 32 << 20]);
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        drop(block);
        std::thread::sleep(Duration::from_secs_f64(seconds / 3.0));
    }
    drop(_run);
    drop(run);
    // Flushes spans and a last round of metrics. A collector that is down is not the
    // program's failure: say so and carry on.
    if let Err(e) = telemetry.shutdown() {
        eprintln!("quickstart: telemetry was not fully delivered: {e}");
    }
    Ok(())
}
