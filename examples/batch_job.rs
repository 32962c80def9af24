//! An LLMOps agent run (from the Python backend this crate grew from): a run span with step spans, so the trace shows the
//! baseline at run start, figures per step, and end figures and deltas at run ok / run fail,
//! with a pressure event when available RAM crosses a threshold.
//!
//! ```sh
//! cargo run --example batch_job
//! ```
//! Two runs: the first succeeds (a CPU-bound step and a RAM-heavy step), the second fails at
//! its third step. The RAM threshold is set just below what is available at start, so the
//! RAM-heavy step crosses it and the demo shows a `resmon.pressure` event
//! (`BATCH_JOB_RAM_THRESHOLD_BYTES` sets the threshold instead).

use std::time::Duration;

use otel_resmon::otlp::Pipeline;
use otel_resmon::{PressureThresholds, Sampler};

const MIB: usize = 1 << 20;

fn cpu_step() {
    let _step = tracing::info_span!("agent.step", step = "plan", kind = "cpu").entered();
    let mut x = 0u64;
    for i in 0..60_000_000u64 {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
    }
}

fn ram_step(mib: usize) {
    let _step = tracing::info_span!(
        "agent.step",
        step = "retrieve",
        kind = "ram",
        resmon.sample_now = true
    )
    .entered();
    let block = std::hint::black_box(vec![7u8; mib * MIB]);
    // Held long enough for the sampler to see it inside the span.
    std::thread::sleep(Duration::from_millis(400));
    drop(block);
}

fn failing_step() -> Result<(), String> {
    let span = tracing::info_span!(
        "agent.step",
        step = "call_tool",
        kind = "io",
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty
    );
    let _step = span.enter();
    std::thread::sleep(Duration::from_millis(100));
    span.record("otel.status_code", "ERROR");
    span.record("error.type", "tool_timeout");
    Err("the tool did not answer".into())
}

fn run(id: u32, fail: bool) -> Result<(), String> {
    let run = tracing::info_span!(
        "agent.run",
        run = id,
        resmon.sample_now = true,
        run.outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty
    );
    let _run = run.enter();
    cpu_step();
    ram_step(512);
    let result = if fail { failing_step() } else { Ok(()) };
    match &result {
        Ok(()) => run.record("run.outcome", "ok"),
        Err(_) => {
            run.record("otel.status_code", "ERROR");
            run.record("run.outcome", "fail")
        }
    };
    result
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A threshold just below what is available now: the RAM-heavy step crosses it where this
    // process's allocations are what moves available memory. On a VM available memory can
    // drift by hundreds of MiB within seconds; BATCH_JOB_RAM_THRESHOLD_BYTES sets it instead.
    let threshold = match std::env::var("BATCH_JOB_RAM_THRESHOLD_BYTES") {
        Ok(bytes) => bytes
            .parse()
            .map_err(|e| format!("BATCH_JOB_RAM_THRESHOLD_BYTES={bytes:?}: {e}"))?,
        Err(std::env::VarError::NotUnicode(bytes)) => {
            return Err(format!("BATCH_JOB_RAM_THRESHOLD_BYTES={bytes:?}: not a number").into())
        }
        Err(std::env::VarError::NotPresent) => Sampler::builder()
            .gpu(false)
            .build()?
            .latest()
            .host
            .memory_available
            .unwrap_or(0)
            .saturating_sub(256 * MIB as u64),
    };
    let telemetry = Pipeline::new()
        .layer(move |layer| {
            layer.pressure(PressureThresholds::default().ram_available_bytes(threshold))
        })
        .install()?;
    if let Err(e) = run(1, false) {
        eprintln!("batch_job: run 1 failed: {e}");
    }
    if let Err(e) = run(2, true) {
        eprintln!("batch_job: run 2 failed: {e}");
    }
    if let Err(e) = telemetry.shutdown() {
        eprintln!("batch_job: telemetry was not fully delivered: {e}");
    }
    Ok(())
}
