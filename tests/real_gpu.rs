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
