//! Instructions a span costs, counted by valgrind's callgrind (repeatable on a noisy machine,
//! where a timed ratio wandered 0.41-0.61 for the same code): the usual stack (registry +
//! tracing-opentelemetry + an SDK tracer whose exporter discards) as the baseline, and the
//! same stack with `ResourceLayer` (default figure set, one fake GPU through the real NVML
//! path). `scripts/span-instructions.sh` runs this binary under callgrind for both stacks at
//! two span counts and gates on the difference per span; run alone it just makes the spans.
//!
//! Usage: `span_instructions baseline|resmon <spans>` (the spans are made inside
//! `run_spans`, which the script's callgrind counts alone, on the main thread alone).

#[cfg(all(feature = "nvml", target_os = "linux"))]
#[path = "../tests/common/fake_nvml.rs"]
mod fake_nvml;

#[path = "common/stack.rs"]
mod stack;

use std::time::Duration;

use otel_resmon::Sampler;

#[inline(never)]
fn run_spans(n: u32) {
    for _ in 0..n {
        let span = tracing::info_span!("request", route = "/api/chat");
        let _entered = span.enter();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench -- --test` (and criterion's other flags): make a few spans of each kind.
    let (modes, n): (Vec<&str>, u32) = match args.first().map(String::as_str) {
        Some(mode @ ("baseline" | "resmon")) => (
            vec![mode],
            args.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000),
        ),
        _ => (vec!["baseline", "resmon"], 10),
    };
    // No costs and no XID events in the fake: the sampler thread and the watcher stay idle,
    // so nothing but the spans varies between runs.
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let fake = {
        let mut gpu = fake_nvml::Gpu::new(
            0,
            "GPU-11111111-aaaa-4000-8000-000000000001",
            "0000:01:00.0",
        );
        gpu.extra = "gpu.0.events=0\n".into();
        fake_nvml::FakeNvml::new(&fake_nvml::gpus(&[gpu]))
    };
    let builder = Sampler::builder()
        .ignore_env(true)
        .interval(Duration::from_secs(3600))
        // Under valgrind NVML opens some fifty times slower: no bound may cut the start
        // short, or the spans would count a snapshot without the GPU.
        .start_timeout(Duration::from_secs(600))
        .driver_deadline(Duration::from_secs(10));
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    let builder = builder.nvml_library(fake.library());
    let sampler = builder.build().expect("sampler");
    #[cfg(all(feature = "nvml", target_os = "linux"))]
    assert_eq!(sampler.latest().gpus.len(), 1, "the spans see the fake GPU");
    for mode in modes {
        let (dispatch, _provider) = if mode == "resmon" {
            stack::with_layer(&sampler)
        } else {
            stack::baseline()
        };
        tracing::dispatcher::with_default(&dispatch, || {
            // One span first, so lazy set-up (thread-locals, keys) is not counted.
            run_spans(1);
            run_spans(n);
        });
    }
}
