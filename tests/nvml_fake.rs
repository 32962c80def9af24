//! The real nvml-wrapper code path against the fake NVML driver: every figure, device
//! selection, a device lost mid-run, unsupported and failing fields, init failures.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::Duration;

use common::fake_nvml::{gpus, two_gpus, FakeNvml, Gpu, GIB, MIB};
use common::{passes, Collected};
use otel_resmon::{
    DeviceState, GpuField, GpuStatus, MissingReason, Sampler, SamplerBuilder, WarningKind,
};

const UUID0: &str = "GPU-11111111-aaaa-4000-8000-000000000001";
const UUID1: &str = "GPU-22222222-bbbb-4000-8000-000000000002";

fn sampler(fake: &FakeNvml, warnings: &Collected) -> SamplerBuilder {
    Sampler::builder()
        .ignore_env(true)
        .nvml_library(fake.library())
        .interval(Duration::from_millis(20))
        .on_warning(warnings.sink())
}

#[test]
fn every_figure_is_read_back() {
    let mut g1 = Gpu::new(1, UUID1, "0000:41:00.0");
    // This process has a compute and a graphics context: the same figure is listed twice.
    g1.graphics = format!("self:{},77:{}", 2 * GIB, GIB);
    let fake = FakeNvml::new(&gpus(&[Gpu::new(0, UUID0, "0000:01:00.0"), g1]));
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings).build().unwrap();

    let inv = s.inventory();
    assert_eq!(inv.driver_version.as_deref(), Some("550.54.15"));
    assert_eq!(inv.cuda_driver_version.as_deref(), Some("12.4"));
    assert_eq!(inv.devices.len(), 2);
    assert_eq!(&*inv.devices[1].uuid, UUID1);
    assert_eq!(inv.devices[1].pci_bus_id.as_deref(), Some("0000:41:00.0"));
    assert_eq!(inv.devices[1].memory_total, Some(80 * GIB));
    assert_eq!(inv.devices[1].mig_enabled, Some(false));

    let snap = s.sample_now();
    assert_eq!(snap.gpu_status, GpuStatus::Ok);
    assert_eq!(snap.gpus.len(), 2);
    for (i, g) in snap.gpus.iter().enumerate() {
        let n = i as u64;
        assert_eq!(g.index, i as u32);
        assert_eq!(g.state, DeviceState::Ok);
        assert_eq!(&*g.name, "NVIDIA H100 80GB HBM3");
        assert_eq!(g.memory_total, Some(80 * GIB));
        assert_eq!(g.memory_used, Some((10 + 10 * n) * GIB));
        assert_eq!(g.memory_reserved, Some(512 * MIB));
        assert_eq!(
            g.memory_free,
            Some(80 * GIB - (10 + 10 * n) * GIB - 512 * MIB)
        );
        assert_eq!(g.utilization_gpu, Some((40.0 + 10.0 * i as f64) / 100.0));
        assert_eq!(g.memory_busy, Some((20.0 + 5.0 * i as f64) / 100.0));
        assert_eq!(g.temperature, Some(50.0 + i as f64));
        assert_eq!(g.power, Some(300.0 + i as f64));
        assert_eq!(g.energy, Some(1000.0 * (n + 1) as f64));
        assert_eq!(g.mig_enabled, Some(false));
        // The default fake is an H100 SXM: no fan, said so (tests/gpu_condition.rs reads
        // every other condition figure); no GPM configured, and the first activity read
        // only marks where the process samples start (tests/gpu_activity.rs).
        assert_eq!(g.missing.len(), 3, "{:?}", g.missing);
        assert_eq!(
            g.missing_reason(otel_resmon::GpuField::Gpm),
            Some(&otel_resmon::MissingReason::NotSupported)
        );
        assert_eq!(
            g.missing_reason(otel_resmon::GpuField::ProcessUtilization),
            Some(&otel_resmon::MissingReason::NoSamples)
        );
        assert_eq!(
            g.missing_reason(otel_resmon::GpuField::FanSpeed),
            Some(&otel_resmon::MissingReason::NotSupported)
        );
    }
    assert_eq!(&*snap.gpus[0].uuid, UUID0);
    assert_eq!(&*snap.gpus[1].uuid, UUID1);
    // Own pid only, other processes ignored; compute and graphics lists combined by max.
    assert_eq!(snap.gpus[0].process_memory, Some(GIB));
    assert_eq!(snap.gpus[1].process_memory, Some(2 * GIB));
    // Host and process figures ride along.
    assert!(snap.host.memory_total.unwrap() > 0);
    assert!(snap.process.resident_memory.unwrap() > 0);
    // Warnings are delivered by the sampler thread: give it passes to deliver any.
    passes(&s, 3);
    assert!(warnings.all().is_empty(), "{:?}", warnings.all());
}

#[test]
fn a_process_without_a_context_uses_zero_not_unknown() {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.compute = "4242:1000".into();
    let fake = FakeNvml::new(&gpus(&[g]));
    let s = sampler(&fake, &Collected::default()).build().unwrap();
    assert_eq!(s.sample_now().gpus[0].process_memory, Some(0));
}

#[test]
fn unsupported_fields_are_none_with_a_reason_and_no_warning() {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.energy_mj = None; // the device does not have it
    g.extra = "gpu.0.fail.nvmlDeviceGetPowerUsage=3\n".into(); // NOT_SUPPORTED
    let fake = FakeNvml::new(&gpus(&[g]));
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings).build().unwrap();
    let snap = passes(&s, 3);
    let g = &snap.gpus[0];
    assert_eq!(g.energy, None);
    assert_eq!(g.power, None);
    assert_eq!(
        g.missing_reason(GpuField::Energy),
        Some(&MissingReason::NotSupported)
    );
    assert_eq!(
        g.missing_reason(GpuField::Power),
        Some(&MissingReason::NotSupported)
    );
    assert_eq!(g.memory_used, Some(10 * GIB), "other figures still flow");
    assert!(warnings.all().is_empty(), "{:?}", warnings.all());
}

#[test]
fn a_failing_field_is_none_and_warned_once() {
    let mut g = Gpu::new(0, UUID0, "0000:01:00.0");
    g.extra = "gpu.0.fail.nvmlDeviceGetTemperature=999\n".into(); // NVML_ERROR_UNKNOWN
    let fake = FakeNvml::new(&gpus(&[g]));
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings).build().unwrap();
    let snap = passes(&s, 5);
    let g = &snap.gpus[0];
    assert_eq!(g.temperature, None);
    assert!(matches!(
        g.missing_reason(GpuField::Temperature),
        Some(MissingReason::Failed(_))
    ));
    assert_eq!(g.power, Some(300.0));
    let all = warnings.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].kind, WarningKind::FieldFailed);
    assert!(all[0].message.contains("temperature"), "{}", all[0].message);
}

fn uuids(s: &Sampler) -> Vec<String> {
    s.sample_now()
        .gpus
        .iter()
        .map(|g| g.uuid.to_string())
        .collect()
}

#[test]
fn cuda_visible_devices_selects_and_orders_by_index_and_uuid() {
    let fake = FakeNvml::new(&gpus(&[
        Gpu::new(0, UUID0, "0000:01:00.0"),
        Gpu::new(1, UUID1, "0000:41:00.0"),
        Gpu::new(
            2,
            "GPU-33333333-cccc-4000-8000-000000000003",
            "0000:81:00.0",
        ),
    ]));
    let build = |visible: &str| {
        sampler(&fake, &Collected::default())
            .visible_devices(visible)
            .build()
            .unwrap()
    };
    assert_eq!(
        uuids(&build("2,0")),
        vec![
            "GPU-33333333-cccc-4000-8000-000000000003".to_string(),
            UUID0.to_string()
        ]
    );
    assert_eq!(uuids(&build(UUID1)), vec![UUID1.to_string()]);
    // An abbreviated UUID works when unique, as in CUDA.
    assert_eq!(
        uuids(&build("GPU-3333,GPU-1111")),
        vec![
            "GPU-33333333-cccc-4000-8000-000000000003".to_string(),
            UUID0.to_string()
        ]
    );
    // Ordinals of the visible list, not NVML's.
    let s = build("2,1");
    let snap = s.sample_now();
    assert_eq!(snap.gpus[0].index, 0);
    assert_eq!(snap.gpus[1].index, 1);
    assert_eq!(s.inventory().devices[0].nvml_index, 2);
    // `-1` hides every device: no GPU data, and the status says why.
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings)
        .visible_devices("-1")
        .build()
        .unwrap();
    let snap = passes(&s, 2);
    assert!(snap.gpus.is_empty());
    assert_eq!(snap.gpu_status, GpuStatus::NoDevices);
    let kinds: Vec<_> = warnings.all().iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        vec![WarningKind::VisibleDevices, WarningKind::GpuUnavailable]
    );
}

#[test]
fn ordinals_follow_pci_bus_order() {
    // NVML index 0 sits on a later bus than index 1: CUDA (PCI_BUS_ID order) sees 1 first.
    let fake = FakeNvml::new(&gpus(&[
        Gpu::new(0, UUID0, "0000:81:00.0"),
        Gpu::new(1, UUID1, "0000:01:00.0"),
    ]));
    let s = sampler(&fake, &Collected::default()).build().unwrap();
    assert_eq!(uuids(&s), vec![UUID1.to_string(), UUID0.to_string()]);
    let s = sampler(&fake, &Collected::default())
        .visible_devices("0")
        .build()
        .unwrap();
    assert_eq!(uuids(&s), vec![UUID1.to_string()]);
}

#[test]
fn a_device_lost_mid_run_leaves_the_rest_flowing() {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings).build().unwrap();
    let before = passes(&s, 2);
    assert_eq!(before.gpus[1].state, DeviceState::Ok);

    let mut g0 = Gpu::new(0, UUID0, "0000:01:00.0");
    g0.memory_used = 33 * GIB;
    let mut g1 = Gpu::new(1, UUID1, "0000:41:00.0");
    g1.extra = "gpu.1.lost=1\n".into();
    fake.set(&gpus(&[g0.clone(), g1]));

    let after = passes(&s, 5);
    assert_eq!(after.gpu_status, GpuStatus::Ok);
    assert_eq!(after.gpus.len(), 2, "a lost device stays listed");
    let lost = &after.gpus[1];
    assert_eq!(lost.state, DeviceState::Lost);
    assert_eq!(&*lost.uuid, UUID1);
    assert_eq!(lost.memory_used, None);
    assert_eq!(lost.utilization_gpu, None);
    assert_eq!(lost.process_memory, None);
    assert_eq!(after.gpus[0].state, DeviceState::Ok);
    assert_eq!(
        after.gpus[0].memory_used,
        Some(33 * GIB),
        "device 0 still sampled"
    );
    assert!(
        after.process.taken_at > before.process.taken_at,
        "host still sampled"
    );
    assert!(after.host.memory_used.is_some());

    let lost_warnings: Vec<_> = warnings
        .all()
        .into_iter()
        .filter(|w| w.kind == WarningKind::DeviceLost)
        .collect();
    assert_eq!(lost_warnings.len(), 1, "{lost_warnings:?}");
    assert_eq!(lost_warnings[0].device.as_deref(), Some(UUID1));

    // The device comes back (e.g. after a reset): figures flow again, no new warning.
    fake.set(&gpus(&[g0, Gpu::new(1, UUID1, "0000:41:00.0")]));
    let back = passes(&s, 3);
    assert_eq!(back.gpus[1].state, DeviceState::Ok);
    assert_eq!(back.gpus[1].memory_used, Some(20 * GIB));
    assert_eq!(warnings.all().len(), 1);
}

/// A sampler whose NVML fails to start: with this control file, or with no library at all.
fn init_failure(config: Option<&str>) -> (Sampler, Collected, FakeNvml) {
    let warnings = Collected::default();
    let fake = FakeNvml::new(config.unwrap_or(""));
    let mut builder = sampler(&fake, &warnings);
    if config.is_none() {
        builder = builder.nvml_library("/nonexistent/otel-resmon/libnvidia-ml.so.1");
    }
    let sampler = builder
        .build()
        .expect("an init failure is a status, not an error");
    (sampler, warnings, fake)
}

fn assert_gpu_unavailable(sampler: &Sampler, warnings: &Collected, expected: &GpuStatus) {
    let snap = passes(sampler, 4);
    assert_eq!(&snap.gpu_status, expected);
    assert!(snap.gpus.is_empty());
    assert!(sampler.inventory().devices.is_empty());
    assert!(snap.host.memory_total.is_some(), "host figures still flow");
    assert!(snap.process.cpu_time.is_some());
    let all = warnings.all();
    assert_eq!(all.len(), 1, "exactly one warning: {all:?}");
    assert_eq!(all[0].kind, WarningKind::GpuUnavailable);
}

#[test]
fn no_library_is_a_status_and_one_warning() {
    let (s, w, _fake) = init_failure(None);
    let status = s.latest().gpu_status.clone();
    assert!(
        matches!(status, GpuStatus::NoLibrary(ref d) if d.contains("/nonexistent/")),
        "{status:?}"
    );
    assert_gpu_unavailable(&s, &w, &status);
}

#[test]
fn driver_not_loaded_is_a_status_and_one_warning() {
    let (s, w, _fake) = init_failure(Some("init_error=9\n"));
    assert_gpu_unavailable(&s, &w, &GpuStatus::DriverNotLoaded);
    assert!(
        w.all()[0].message.contains("driver is not loaded"),
        "{:?}",
        w.all()
    );
}

#[test]
fn no_permission_is_a_status_and_one_warning() {
    let (s, w, _fake) = init_failure(Some("init_error=4\n"));
    assert_gpu_unavailable(&s, &w, &GpuStatus::NoPermission);
}

#[test]
fn an_unknown_init_error_is_a_status_too() {
    // Codes from 23 up reach nvml-wrapper as UnexpectedVariant.
    let (s, w, _fake) = init_failure(Some("init_error=26\n"));
    let status = s.latest().gpu_status.clone();
    assert!(matches!(status, GpuStatus::InitFailed(_)), "{status:?}");
    assert_gpu_unavailable(&s, &w, &status);
}

#[test]
fn gpu_off_reads_no_driver() {
    let fake = FakeNvml::new(&two_gpus());
    let warnings = Collected::default();
    let s = sampler(&fake, &warnings).gpu(false).build().unwrap();
    let snap = passes(&s, 2);
    assert_eq!(snap.gpu_status, GpuStatus::Disabled);
    assert!(snap.gpus.is_empty());
    assert!(warnings.all().is_empty());
}
