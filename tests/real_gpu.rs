//! The sampler against a real NVIDIA driver. Ignored by default (CI has no GPU); run them with
//! `RESMON_TEST_REAL_GPU=1 scripts/test.sh`, or
//! `cargo test --test real_gpu -- --ignored --nocapture` on a machine with a GPU.
#![cfg(feature = "nvml")]

mod common;

use std::time::Duration;

use common::{passes, Collected};
use otel_resmon::{DeviceState, GpuField, GpuStatus, Sampler};

const WHY: &str = "needs an NVIDIA GPU and driver: RESMON_TEST_REAL_GPU=1 scripts/test.sh";

fn sampler(visible: Option<&str>) -> (Sampler, Collected) {
    let warnings = Collected::default();
    let mut b = Sampler::builder()
        .interval(Duration::from_millis(100))
        .on_warning(warnings.sink());
    if let Some(v) = visible {
        b = b.visible_devices(v);
    }
    (b.build().expect("sampler"), warnings)
}

#[test]
#[ignore = "needs an NVIDIA GPU and driver: RESMON_TEST_REAL_GPU=1 scripts/test.sh"]
fn real_driver_gives_every_figure_it_supports() {
    let (s, warnings) = sampler(None);
    let snap = passes(&s, 3);
    assert_eq!(snap.gpu_status, GpuStatus::Ok, "{WHY}: {}", snap.gpu_status);
    let inv = s.inventory();
    println!(
        "driver {:?}, CUDA {:?}",
        inv.driver_version, inv.cuda_driver_version
    );
    assert!(inv.driver_version.is_some());
    assert!(!snap.gpus.is_empty());
    for g in &snap.gpus {
        println!("{g:#?}");
        assert_eq!(g.state, DeviceState::Ok);
        assert!(
            g.uuid.starts_with("GPU-") || g.uuid.starts_with("MIG-"),
            "{}",
            g.uuid
        );
        let total = g.memory_total.expect("memory_info");
        assert!(total > 0);
        assert!(g.memory_used.unwrap() <= total);
        assert!(g.memory_free.unwrap() <= total);
        for u in [g.utilization_gpu, g.memory_busy].into_iter().flatten() {
            assert!((0.0..=1.0).contains(&u), "{u}");
        }
        if let Some(t) = g.temperature {
            assert!((0.0..130.0).contains(&t), "{t}");
        }
        if let Some(p) = g.power {
            assert!(p > 0.0 && p < 2000.0, "{p}");
        }
        // This test process has no CUDA context: listed nowhere, so 0 (or absent if the
        // driver hides process lists from it), never a made-up figure.
        assert!(
            matches!(g.process_memory, Some(0) | None),
            "{:?}",
            g.process_memory
        );
        // The condition figures (issue 18): plausible where given, each absent with a reason.
        let c = &g.condition;
        println!("health {} condition {c:#?}", g.health().as_str());
        for clock in [c.clock_sm_mhz, c.clock_memory_mhz].into_iter().flatten() {
            assert!((1..20_000).contains(&clock), "{clock} MHz");
        }
        if let Some(limit) = c.power_limit {
            assert!(limit > 0.0 && limit < 2000.0, "{limit} W");
        }
        for t in [
            c.temperature_slowdown,
            c.temperature_shutdown,
            c.temperature_gpu_max,
        ]
        .into_iter()
        .flatten()
        {
            assert!((30.0..150.0).contains(&t), "{t} °C");
        }
        for u in [c.encoder_utilization, c.decoder_utilization, c.fan_speed]
            .into_iter()
            .flatten()
        {
            assert!((0.0..=1.0).contains(&u), "{u}");
        }
        assert!(c.performance_state.is_none_or(|p| p <= 15));
        assert!(
            c.clock_event_reasons.is_some()
                || g.missing_reason(GpuField::ClockEventReasons).is_some()
        );
        assert!(c.clock_sm_mhz.is_some() || g.missing_reason(GpuField::Clocks).is_some());
    }
    println!("XID events: {}", s.xid_status().describe());
    println!("CUDA ordinals: {}", inv.ordinals.as_str());
    println!("warnings: {:?}", warnings.all());
}

#[test]
#[ignore = "needs an NVIDIA GPU and driver: RESMON_TEST_REAL_GPU=1 scripts/test.sh"]
fn real_driver_honours_cuda_visible_devices() {
    let (all, _) = sampler(None);
    let devices = all.inventory().devices.clone();
    assert!(!devices.is_empty(), "{WHY}");
    let last = devices.last().unwrap();
    let (by_index, _) = sampler(Some(&last.index.to_string()));
    assert_eq!(by_index.latest().gpus.len(), 1);
    assert_eq!(by_index.latest().gpus[0].uuid, last.uuid);
    assert_eq!(by_index.latest().gpus[0].index, 0);
    let (by_uuid, _) = sampler(Some(&last.uuid));
    assert_eq!(by_uuid.latest().gpus[0].uuid, last.uuid);
    let (none, _) = sampler(Some("-1"));
    assert_eq!(none.latest().gpu_status, GpuStatus::NoDevices);
}

/// A bf16 matmul on GPU 0 from `python3` with torch, for `seconds`.
fn matmul_load(seconds: u32) -> std::process::Child {
    let script = format!(
        "import time, torch\n\
         a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)\n\
         end = time.time() + {seconds}\n\
         while time.time() < end:\n    (a @ a).sum().item()\n"
    );
    std::process::Command::new(std::env::var("RESMON_TEST_PYTHON").unwrap_or("python3".into()))
        .args(["-c", &script])
        .spawn()
        .expect("python3 with torch for the matmul load")
}

/// One span of `for_` on GPU 0's activity: its `resmon.gpu.0.activity*` and
/// `.process.utilization.mean` attributes.
fn activity_span(s: &Sampler, for_: Duration) -> Vec<(String, f64)> {
    let t = common::otel::traced(otel_resmon::ResourceLayer::builder(s));
    t.run(|| {
        let _span = tracing::info_span!("window").entered();
        std::thread::sleep(for_);
    });
    let span = t.span("window");
    span.attributes
        .iter()
        .filter(|kv| {
            let k = kv.key.as_str();
            k.starts_with("resmon.gpu.0.activity") || k == "resmon.gpu.0.process.utilization.mean"
        })
        .filter_map(|kv| match kv.value {
            opentelemetry::Value::F64(v) => Some((kv.key.to_string(), v)),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "needs an NVIDIA GPU and driver (Hopper or newer for GPM) and python3 with torch"]
fn real_activity_under_a_bf16_matmul_and_without_load() {
    let s = Sampler::builder()
        .interval(Duration::from_millis(100))
        .gpu_activity_interval(Duration::from_millis(500))
        .build()
        .expect("sampler");
    let g = s.latest().gpus.first().cloned().expect(WHY);
    println!("GPM: {:?}", g.missing_reason(GpuField::Gpm));
    let idle = activity_span(&s, Duration::from_secs(4));
    let mut load = matmul_load(12);
    std::thread::sleep(Duration::from_secs(4)); // torch's start-up
    let busy = activity_span(&s, Duration::from_secs(4));
    let _ = load.wait();
    println!("without load: {idle:?}");
    println!("bf16 matmul:  {busy:?}");
    println!("latest window: {:#?}", s.latest().gpus[0].activity);
    if g.missing_reason(GpuField::Gpm).is_none() {
        let tensor = |figures: &[(String, f64)]| {
            figures
                .iter()
                .find(|(k, _)| k.ends_with("activity.tensor.mean"))
                .map(|(_, v)| *v)
        };
        let busy_tensor = tensor(&busy).expect("a 4 s span covers 0.5 s windows");
        assert!(
            busy_tensor > 0.3,
            "tensor activity under a matmul: {busy_tensor}"
        );
        assert!(tensor(&idle).unwrap_or(0.0) < busy_tensor);
    }
    // The load is another process: its share is never ours.
    if let Some((_, ours)) = busy
        .iter()
        .find(|(k, _)| k.ends_with("process.utilization.mean"))
    {
        assert!(
            *ours < 0.05,
            "another process's share counted as ours: {ours}"
        );
    }
}
