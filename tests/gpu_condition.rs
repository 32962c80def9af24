//! The figures that explain a slow or failing GPU (issue 18), through the real nvml-wrapper
//! path against the fake driver: every one read back, and each one missing on its own as
//! `NotSupported` while the others stay.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::Duration;

use common::fake_nvml::{gpus, FakeNvml, Gpu};
use otel_resmon::{GpuField, GpuSample, MissingReason, Sampler};

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";

fn sample(gpu: &Gpu) -> GpuSample {
    let fake = FakeNvml::new(&gpus(std::slice::from_ref(gpu)));
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_secs(3600))
        .on_warning(|_| {})
        .build()
        .unwrap();
    sampler.sample_now().gpus[0].clone()
}

/// What is missing but the activity tier's figures (a device without GPM, no process
/// samples: `tests/gpu_activity.rs`).
fn besides_activity(g: &GpuSample) -> Vec<&otel_resmon::MissingField> {
    g.missing
        .iter()
        .filter(|m| !matches!(m.field, GpuField::Gpm | GpuField::ProcessUtilization))
        .collect()
}

fn busy_gpu() -> Gpu {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.set("num_fans", 2)
        .set("fan_speed", 63)
        .set("pstate", 2)
        .set("clock_sm", 1410)
        .set("clock_event_reasons", 0x4 | 0x20)
        .set("encoder_util", 12)
        .set("decoder_util", 34)
        .set("field.31", 1)
        .set("field.190", 350_000)
        .set("field.74", 1_500_000_000u64)
        .set("field.251", 250_000_000)
        .set("field.252", 0)
        .set("field.253", 0)
        .set("field.3", 7)
        .set("field.4", 1)
        .set("field.142", 3)
        .set("field.143", 1)
        .set("field.144", 1)
        .set("field.145", 0);
    g
}

#[test]
fn every_condition_figure_is_read_back() {
    let g = sample(&busy_gpu());
    let c = &g.condition;
    assert!(besides_activity(&g).is_empty(), "{:?}", g.missing);
    assert_eq!(c.clock_sm_mhz, Some(1410));
    assert_eq!(c.clock_memory_mhz, Some(2619));
    assert_eq!(c.power_limit, Some(350.0));
    assert_eq!(c.temperature_slowdown, Some(90.0));
    assert_eq!(c.temperature_shutdown, Some(95.0));
    assert_eq!(c.temperature_gpu_max, Some(87.0));
    assert_eq!(c.performance_state, Some(2));
    assert_eq!(c.fan_speed, Some(0.63));
    let reasons = c.clock_event_reasons.unwrap();
    assert_eq!(
        reasons.names().collect::<Vec<_>>(),
        ["sw_power_cap", "sw_thermal_slowdown"]
    );
    assert_eq!(c.throttled_time.power_cap, Some(1.5));
    assert_eq!(c.throttled_time.sw_thermal, Some(0.25));
    assert_eq!(c.throttled_time.hw_thermal, Some(0.0));
    assert_eq!(c.throttled_time.power_brake, Some(0.0));
    assert_eq!(c.throttled_time.total(), Some(1.75));
    assert_eq!(c.encoder_utilization, Some(0.12));
    assert_eq!(c.decoder_utilization, Some(0.34));
    assert_eq!(c.pcie_tx_bytes, Some(1_000_000));
    assert_eq!(c.pcie_rx_bytes, Some(2_000_000));
    assert_eq!(c.ecc_corrected, Some(7));
    assert_eq!(c.ecc_uncorrected, Some(1));
    assert_eq!(c.remapped_rows_corrected, Some(3));
    assert_eq!(c.remapped_rows_uncorrected, Some(1));
    assert_eq!(c.remapped_rows_pending, Some(true));
    assert_eq!(c.remapped_rows_failure, Some(false));
    assert_eq!(c.retired_pages_pending, Some(true));
    // The figures from before issue 18 are untouched.
    assert_eq!(g.memory_total, Some(80 << 30));
    assert_eq!(g.utilization_gpu, Some(0.4));
}

/// Each figure's control keys, removed one figure at a time: that figure is `None` with
/// `NotSupported`, and every other figure is still there.
#[test]
fn each_figure_missing_alone_leaves_the_others() {
    let cases: &[(GpuField, &[&str])] = &[
        (GpuField::Clocks, &["clock_sm", "clock_memory"]),
        (GpuField::PowerLimit, &["field.190"]),
        (
            GpuField::TemperatureThresholds,
            &[
                "temperature_slowdown",
                "temperature_shutdown",
                "temperature_gpu_max",
            ],
        ),
        (GpuField::PerformanceState, &["pstate"]),
        (GpuField::FanSpeed, &["fan_speed"]),
        (GpuField::ClockEventReasons, &["clock_event_reasons"]),
        (
            GpuField::ThrottledTime,
            &["field.74", "field.251", "field.252", "field.253"],
        ),
        (GpuField::EncoderUtilization, &["encoder_util"]),
        (GpuField::DecoderUtilization, &["decoder_util"]),
        (GpuField::PcieBytes, &["field.197", "field.198"]),
        (GpuField::EccErrors, &["field.3", "field.4"]),
        (
            GpuField::RemappedRows,
            &["field.142", "field.143", "field.144", "field.145"],
        ),
        (GpuField::RetiredPages, &["field.31"]),
    ];
    let full = sample(&busy_gpu());
    for (field, keys) in cases {
        let mut gpu = busy_gpu();
        gpu.condition.retain(|(k, _)| !keys.contains(&k.as_str()));
        let g = sample(&gpu);
        assert_eq!(
            g.missing_reason(*field),
            Some(&MissingReason::NotSupported),
            "{field:?}: {:?}",
            g.missing
        );
        assert_eq!(
            besides_activity(&g).len(),
            1,
            "{field:?}: only it is missing: {:?}",
            g.missing
        );
        // Every figure outside this group is as in the full sample.
        // (The XID count depends on whether the watcher had registered yet.)
        let mut expected = full.condition.clone();
        expected.xid_errors = None;
        let mut got = g.condition.clone();
        got.xid_errors = None;
        match field {
            GpuField::Clocks => {
                expected.clock_sm_mhz = None;
                expected.clock_memory_mhz = None;
            }
            GpuField::PowerLimit => expected.power_limit = None,
            GpuField::TemperatureThresholds => {
                expected.temperature_slowdown = None;
                expected.temperature_shutdown = None;
                expected.temperature_gpu_max = None;
            }
            GpuField::PerformanceState => expected.performance_state = None,
            GpuField::FanSpeed => expected.fan_speed = None,
            GpuField::ClockEventReasons => expected.clock_event_reasons = None,
            GpuField::ThrottledTime => expected.throttled_time = Default::default(),
            GpuField::EncoderUtilization => expected.encoder_utilization = None,
            GpuField::DecoderUtilization => expected.decoder_utilization = None,
            GpuField::PcieBytes => {
                expected.pcie_rx_bytes = None;
                expected.pcie_tx_bytes = None;
            }
            GpuField::EccErrors => {
                expected.ecc_corrected = None;
                expected.ecc_uncorrected = None;
            }
            GpuField::RemappedRows => {
                expected.remapped_rows_corrected = None;
                expected.remapped_rows_uncorrected = None;
                expected.remapped_rows_pending = None;
                expected.remapped_rows_failure = None;
            }
            GpuField::RetiredPages => expected.retired_pages_pending = None,
            _ => unreachable!(),
        }
        assert_eq!(got, expected, "{field:?}");
        assert_eq!(g.memory_used, full.memory_used, "{field:?}");
    }
}

/// A board without a fan says so; a driver failing the whole batch call loses only the
/// batch's figures.
#[test]
fn no_fan_and_a_failing_batch() {
    let mut gpu = busy_gpu();
    gpu.set("num_fans", 0);
    let g = sample(&gpu);
    assert_eq!(g.condition.fan_speed, None);
    assert_eq!(
        g.missing_reason(GpuField::FanSpeed),
        Some(&MissingReason::NotSupported)
    );

    let mut gpu = busy_gpu();
    // NVML_ERROR_UNKNOWN for the whole nvmlDeviceGetFieldValues call.
    gpu.extra = "gpu.0.fail.nvmlDeviceGetFieldValues=999\n".into();
    let g = sample(&gpu);
    for field in [
        GpuField::PowerLimit,
        GpuField::ThrottledTime,
        GpuField::PcieBytes,
        GpuField::EccErrors,
        GpuField::RemappedRows,
        GpuField::RetiredPages,
    ] {
        assert!(
            matches!(g.missing_reason(field), Some(MissingReason::Failed(_))),
            "{field:?}: {:?}",
            g.missing
        );
    }
    assert_eq!(g.condition.clock_sm_mhz, Some(1410));
    assert_eq!(g.condition.encoder_utilization, Some(0.12));
}

/// Health follows the documented rules, the worst that applies.
#[test]
fn health_follows_the_rules() {
    use otel_resmon::GpuHealth;
    let healthy = Gpu::new(0, UUID0, "0000:01:00.0");
    assert_eq!(sample(&healthy).health(), GpuHealth::Ok);
    let cases: &[(&[(&str, u64)], GpuHealth)] = &[
        (&[("field.31", 1)], GpuHealth::PredictedFailure),
        (&[("field.144", 1)], GpuHealth::PredictedFailure),
        (&[("field.4", 2)], GpuHealth::Degraded),
        (&[("field.145", 1)], GpuHealth::Degraded),
        (&[("field.145", 1), ("field.144", 1)], GpuHealth::Degraded),
        // Corrected errors and remapped rows alone are the memory doing its job.
        (&[("field.3", 100), ("field.142", 5)], GpuHealth::Ok),
    ];
    for (keys, health) in cases {
        let mut gpu = healthy.clone();
        for (k, v) in *keys {
            gpu.set(k, v);
        }
        assert_eq!(sample(&gpu).health(), *health, "{keys:?}");
    }
    // A device that falls off the bus after the sampler found it.
    let fake = FakeNvml::new(&gpus(std::slice::from_ref(&healthy)));
    let sampler = Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_secs(3600))
        .on_warning(|_| {})
        .build()
        .unwrap();
    let mut lost = healthy.clone();
    lost.extra = "gpu.0.lost=1\n".into();
    fake.set(&gpus(&[lost]));
    assert_eq!(sampler.sample_now().gpus[0].health(), GpuHealth::Failed);
}

mod spans {
    use super::*;
    use common::otel::{attr, float, int, traced};
    use common::passes;
    use opentelemetry::{Array, Value};
    use otel_resmon::ResourceLayer;

    /// A span during which the GPU turns power-capped and recovers carries `sw_power_cap`, the
    /// time throttled and its lowest SM clock; its sibling before carries neither.
    #[test]
    fn a_power_capped_span_says_so_and_its_sibling_before_does_not() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        let fake = FakeNvml::new(&gpus(std::slice::from_ref(&gpu)));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            // The counters read after every pass: each end holds a read of its own.
            .gpu_counters_interval(Duration::from_millis(1))
            .on_warning(|_| {})
            .build()
            .unwrap();
        let t = traced(ResourceLayer::builder(&s));
        t.run(|| {
            {
                let _before = tracing::info_span!("before").entered();
                passes(&s, 2);
            }
            let _capped = tracing::info_span!("capped").entered();
            gpu.set("clock_event_reasons", 0x1 | 0x4)
                .set("clock_sm", 1200)
                .set("field.74", 2_000_000_000u64);
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            passes(&s, 2);
            gpu.set("clock_event_reasons", 0x1).set("clock_sm", 1980);
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            passes(&s, 2);
        });
        let before = t.span("before");
        assert!(attr(&before, "resmon.gpu.0.clock_event_reasons").is_none());
        assert!(attr(&before, "resmon.gpu.0.throttled_time.delta").is_none());
        assert_eq!(int(&before, "resmon.gpu.0.clock.sm.min"), 1980);
        let capped = t.span("capped");
        assert_eq!(
            attr(&capped, "resmon.gpu.0.clock_event_reasons"),
            Some(&Value::Array(Array::String(vec!["sw_power_cap".into()]))),
            "gpu_idle is left out"
        );
        assert_eq!(float(&capped, "resmon.gpu.0.throttled_time.delta"), 2.0);
        assert_eq!(int(&capped, "resmon.gpu.0.clock.sm.min"), 1200);
        assert!(attr(&capped, "resmon.gpu.0.health").is_none(), "healthy");
    }

    /// A cause the driver did not count at the span's start (its field failed there) adds
    /// nothing to the span's time throttled: not its whole count since the driver loaded.
    #[test]
    fn throttled_time_delta_uses_only_the_causes_counted_at_both_ends() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        gpu.set("field.74", 1_000_000_000u64)
            .set("field.251.error", 999);
        let fake = FakeNvml::new(&gpus(std::slice::from_ref(&gpu)));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            .gpu_counters_interval(Duration::from_millis(1))
            .on_warning(|_| {})
            .build()
            .unwrap();
        let start = passes(&s, 2);
        assert_eq!(start.gpus[0].condition.throttled_time.sw_thermal, None);
        let t = traced(ResourceLayer::builder(&s));
        t.run(|| {
            let _work = tracing::info_span!("work").entered();
            passes(&s, 1);
            // 1 s more power-capped; the thermal cause answers now, 100 s since load.
            gpu.set("field.74", 2_000_000_000u64)
                .set("field.251.error", 0)
                .set("field.251", 100_000_000_000u64);
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            passes(&s, 2);
        });
        assert_eq!(
            float(&t.span("work"), "resmon.gpu.0.throttled_time.delta"),
            1.0,
            "only sw_power_cap was counted at both ends"
        );
    }

    /// A figure added through the catalogue alone (its row and its key): the memory clock's
    /// low over a full-set span, the history's and a window's statistics of it; compact spans
    /// do not carry it.
    #[test]
    fn the_memory_clock_low_reaches_full_spans_and_windows() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        let fake = FakeNvml::new(&gpus(std::slice::from_ref(&gpu)));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            .on_warning(|_| {})
            .build()
            .unwrap();
        let full = traced(ResourceLayer::builder(&s).figures(otel_resmon::FigureSet::Full));
        let from = std::time::Instant::now();
        full.run(|| {
            let _hot = tracing::info_span!("hot").entered();
            passes(&s, 2);
            gpu.set("clock_memory", 1593);
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            passes(&s, 3);
            gpu.set("clock_memory", 2619);
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            passes(&s, 2);
        });
        assert_eq!(
            int(&full.span("hot"), "resmon.gpu.0.clock.memory.min"),
            1593
        );
        let window = s.window(from, std::time::Instant::now());
        let clock = window.gpus[0].figure("resmon.gpu.clock.memory").unwrap();
        assert_eq!((clock.min, clock.max), (1593.0, 2619.0));
        assert_eq!(
            window.gpus[0].used("resmon.gpu.clock.memory"),
            None,
            "a gauge is not used up"
        );
        assert!(window.used("process.cpu.time").is_some_and(|t| t >= 0.0));
        assert_eq!(window.figure("no.such.figure"), None);
        let compact = traced(ResourceLayer::builder(&s));
        compact.run(|| {
            let _span = tracing::info_span!("compact").entered();
            passes(&s, 3);
        });
        assert!(attr(&compact.span("compact"), "resmon.gpu.0.clock.memory.min").is_none());
    }

    /// Health is on a span only when it is not `ok`.
    #[test]
    fn a_span_on_a_degraded_gpu_says_so() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        gpu.set("field.4", 3);
        let fake = FakeNvml::new(&gpus(&[gpu]));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .on_warning(|_| {})
            .build()
            .unwrap();
        let t = traced(ResourceLayer::builder(&s));
        t.run(|| drop(tracing::info_span!("work").entered()));
        assert_eq!(
            attr(&t.span("work"), "resmon.gpu.0.health"),
            Some(&Value::from("degraded"))
        );
    }
}

mod xid {
    use super::*;
    use common::otel::{attr_in, traced};
    use common::passes;
    use opentelemetry::Value;
    use otel_resmon::{GpuHealth, GpuStatus, ResourceLayer, XidStatus};
    use std::time::Instant;

    fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready() {
            assert!(Instant::now() < deadline, "waited 10 s for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// An XID injected while one span is open and after another ended: an event on the open
    /// span only; XID 79 makes the GPU `failed`.
    #[test]
    fn an_xid_mid_span_is_an_event_on_that_span_and_on_no_ended_one() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        let fake = FakeNvml::new(&gpus(std::slice::from_ref(&gpu)));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            .on_warning(|_| {})
            .build()
            .unwrap();
        wait_for("the watcher", || s.xid_status() == XidStatus::Watching);
        assert_eq!(passes(&s, 1).gpus[0].condition.xid_errors, Some(0));
        let t = traced(ResourceLayer::builder(&s));
        t.run(|| {
            drop(tracing::info_span!("ended").entered());
            let _open = tracing::info_span!("open").entered();
            gpu.extra = "gpu.0.xid=79:1\n".into();
            fake.set(&gpus(std::slice::from_ref(&gpu)));
            wait_for("the XID in a pass", || {
                s.latest().gpus[0].condition.xid_errors == Some(1)
            });
            passes(&s, 1);
        });
        assert!(t.span("ended").events.is_empty());
        let open = t.span("open");
        let xids: Vec<_> = open
            .events
            .iter()
            .filter(|e| e.name == "resmon.gpu.xid")
            .collect();
        assert_eq!(xids.len(), 1, "{:?}", open.events);
        assert_eq!(
            attr_in(&xids[0].attributes, "resmon.gpu.xid.code"),
            Some(&Value::I64(79))
        );
        assert_eq!(
            attr_in(&xids[0].attributes, "hw.id"),
            Some(&Value::from(UUID0.to_string()))
        );
        assert!(xids[0].timestamp >= open.start_time && xids[0].timestamp <= open.end_time);
        let latest = s.latest();
        assert!(latest.gpus[0].condition.fell_off_the_bus);
        assert_eq!(latest.gpus[0].health(), GpuHealth::Failed);
    }

    /// NVML that comes up after the sampler started (the driver was loading): the XID
    /// watcher starts with it, so XIDs are counted and reported from then on. (Before, the
    /// watcher got its devices once, at start, and stayed `off: no NVML device` for good.)
    #[test]
    fn the_xid_watcher_starts_when_nvml_comes_up_late() {
        let fake = FakeNvml::new("init_error=9\n"); // NVML_ERROR_DRIVER_NOT_LOADED
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            .on_warning(|_| {})
            .build()
            .unwrap();
        assert!(
            matches!(s.xid_status(), XidStatus::Off(_)),
            "{:?}",
            s.xid_status()
        );
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        fake.set(&gpus(std::slice::from_ref(&gpu)));
        wait_for("NVML to come up", || s.latest().gpu_status == GpuStatus::Ok);
        wait_for("the watcher", || s.xid_status() == XidStatus::Watching);
        wait_for("an XID count of 0", || {
            s.latest().gpus[0].condition.xid_errors == Some(0)
        });
        gpu.extra = "gpu.0.xid=43:1\n".into();
        fake.set(&gpus(std::slice::from_ref(&gpu)));
        wait_for("the late watcher's XID in a pass", || {
            s.latest().gpus[0].condition.xid_errors == Some(1)
        });
    }

    /// A driver without event support is a status, not an error: the sampler goes on.
    #[test]
    fn a_driver_without_event_support_is_a_reason() {
        let mut gpu = Gpu::new(0, UUID0, "0000:01:00.0");
        gpu.extra = "gpu.0.events=0\n".into();
        let fake = FakeNvml::new(&gpus(&[gpu]));
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .interval(Duration::from_millis(20))
            .on_warning(|_| {})
            .build()
            .unwrap();
        wait_for("the watcher", || s.xid_status() != XidStatus::Starting);
        assert!(
            matches!(s.xid_status(), XidStatus::NotSupported(_)),
            "{:?}",
            s.xid_status()
        );
        let latest = passes(&s, 1);
        assert_eq!(latest.gpus[0].condition.xid_errors, None);
        assert_eq!(latest.gpus[0].memory_used, Some(10 << 30));
    }
}

/// Which GPU is `cuda:0`: PCI order is CUDA's under `CUDA_DEVICE_ORDER=PCI_BUS_ID`, or when
/// every GPU is the same model; otherwise the ordinals are marked and a warning says why.
#[test]
fn cuda_ordinals_are_marked_when_they_may_differ_from_the_application_s() {
    use otel_resmon::{CudaOrdinals, WarningKind};
    use std::sync::{Arc, Mutex};
    let mut big = Gpu::new(0, UUID0, "0000:01:00.0");
    big.name = "NVIDIA GeForce RTX 3060";
    let mut fast = Gpu::new(
        1,
        "GPU-22222222-bbbb-4000-8000-000000000002",
        "0000:41:00.0",
    );
    fast.name = "NVIDIA GeForce RTX 4090";
    let mixed = FakeNvml::new(&gpus(&[big.clone(), fast]));
    let same = FakeNvml::new(&common::fake_nvml::two_gpus());
    let run = |fake: &FakeNvml| {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .on_warning(move |w| sink.lock().unwrap().push(w.kind))
            .build()
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let kinds = warnings.lock().unwrap().clone();
        (s.inventory().ordinals, kinds)
    };
    let (ordinals, kinds) = run(&mixed);
    assert_eq!(ordinals, CudaOrdinals::PciOrderAssumed);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == WarningKind::CudaDeviceOrder)
            .count(),
        1,
        "{kinds:?}"
    );
    let (ordinals, kinds) = run(&same);
    assert_eq!(ordinals, CudaOrdinals::SameModel);
    assert!(!kinds.contains(&WarningKind::CudaDeviceOrder));
}

/// The doctor says which case applies, `CUDA_DEVICE_ORDER` read as CUDA reads it.
#[test]
fn the_doctor_marks_the_ordinals() {
    let mut slow = Gpu::new(0, UUID0, "0000:01:00.0");
    slow.name = "NVIDIA GeForce RTX 3060";
    let mut fast = Gpu::new(
        1,
        "GPU-22222222-bbbb-4000-8000-000000000002",
        "0000:41:00.0",
    );
    fast.name = "NVIDIA GeForce RTX 4090";
    let fake = FakeNvml::new(&gpus(&[slow, fast]));
    for (order, expected) in [
        (None, "CUDA ordinals     : pci_order_assumed"),
        (Some("PCI_BUS_ID"), "CUDA ordinals     : pci_bus_id"),
    ] {
        let mut doctor = std::process::Command::new(common::example("doctor"));
        doctor
            .env("RESMON_NVML_LIB", fake.library())
            .env_remove("CUDA_VISIBLE_DEVICES")
            .env_remove("CUDA_DEVICE_ORDER");
        if let Some(order) = order {
            doctor.env("CUDA_DEVICE_ORDER", order);
        }
        let out = doctor.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(expected),
            "{expected} missing in:\n{stdout}"
        );
        assert!(stdout.contains("XID events        : watching"), "{stdout}");
    }
}
