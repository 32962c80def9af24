//! The fake NVML driver's GPM and per-process utilization (issue 27), read through
//! nvml-wrapper's own safe calls, so what the sampler will read from it is what a real
//! Hopper driver answers: the structures and versions of `nvml.h`, NOT_SUPPORTED per metric,
//! 0 between samples closer than the driver's refresh, NOT_FOUND without process samples.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::time::Duration;

use common::fake_nvml::{gpus, FakeNvml, Gpu};
use nvml_wrapper::enums::gpm::GpmMetricId;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::gpm::gpm_metrics_get;
use nvml_wrapper::Nvml;

fn nvml(fake: &FakeNvml) -> Nvml {
    Nvml::builder()
        .lib_path(fake.library().as_os_str())
        .init()
        .unwrap()
}

/// Two GPUs: the first a Hopper with GPM and the bf16-matmul figures a real H200 read, the
/// second without GPM.
fn hopper_and_older() -> FakeNvml {
    let mut hopper = Gpu::new(
        0,
        "GPU-00000000-0000-4000-8000-000000000000",
        "0000:18:00.0",
    );
    hopper.extra = "gpu.0.gpm=1\ngpu.0.gpm.2=95.8\ngpu.0.gpm.3=14.2\ngpu.0.gpm.5=93.0\n\
                    gpu.0.gpm.7=93.0\ngpu.0.gpm.10=17.9\ngpu.0.gpm.12=0\n"
        .to_owned();
    let older = Gpu::new(
        1,
        "GPU-11111111-1111-4000-8000-000000000001",
        "0000:2a:00.0",
    );
    FakeNvml::new(&gpus(&[hopper, older]))
}

#[test]
fn gpm_metrics_between_two_samples_are_the_configured_ones() {
    let fake = hopper_and_older();
    let nvml = nvml(&fake);
    let hopper = nvml.device_by_index(0).unwrap();
    assert!(hopper.gpm_support().unwrap());
    let first = hopper.gpm_sample().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let second = hopper.gpm_sample().unwrap();
    let ids = [
        GpmMetricId::SmUtil,
        GpmMetricId::SmOccupancy,
        GpmMetricId::AnyTensorUtil,
        GpmMetricId::HmmaTensorUtil,
        GpmMetricId::DramBwUtil,
        GpmMetricId::Fp32Util,
        GpmMetricId::Fp64Util,
    ];
    let got = gpm_metrics_get(&nvml, &first, &second, &ids).unwrap();
    let values: Vec<Option<f64>> = got
        .iter()
        .map(|r| r.as_ref().ok().map(|m| m.value))
        .collect();
    assert_eq!(
        values,
        [
            Some(95.8),
            Some(14.2),
            Some(93.0),
            Some(93.0),
            Some(17.9),
            Some(0.0),
            None
        ]
    );
    // A metric the device does not give is NOT_SUPPORTED in its own slot.
    assert!(
        matches!(got[6], Err(NvmlError::NotSupported)),
        "{:?}",
        got[6]
    );
}

#[test]
fn samples_closer_than_the_refresh_read_zero_and_an_older_gpu_has_no_gpm() {
    let fake = hopper_and_older();
    let nvml = nvml(&fake);
    let hopper = nvml.device_by_index(0).unwrap();
    let first = hopper.gpm_sample().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let second = hopper.gpm_sample().unwrap();
    let got = gpm_metrics_get(&nvml, &first, &second, &[GpmMetricId::AnyTensorUtil]).unwrap();
    assert_eq!(got[0].as_ref().unwrap().value, 0.0, "a 20 ms window");
    // Samples in the wrong order are refused, as two of different devices would be.
    assert!(gpm_metrics_get(&nvml, &second, &first, &[GpmMetricId::SmUtil]).is_err());

    let older = nvml.device_by_index(1).unwrap();
    assert!(!older.gpm_support().unwrap());
    assert!(matches!(older.gpm_sample(), Err(NvmlError::NotSupported)));
}

#[test]
fn process_utilization_gives_samples_after_the_last_seen_and_not_found_without() {
    let mut gpu = Gpu::new(
        0,
        "GPU-00000000-0000-4000-8000-000000000000",
        "0000:18:00.0",
    );
    // This process at 77 % SM and 20 % memory half a second ago; another process 100 ms ago;
    // a sample above 100 % (a known driver quirk), 50 ms ago.
    gpu.extra = "gpu.0.process_utilization=self:77:20:500,4242:10:5:100,4243:250:0:50\n".to_owned();
    let fake = FakeNvml::new(&gpus(&[gpu]));
    let nvml = nvml(&fake);
    let device = nvml.device_by_index(0).unwrap();
    let all = device.process_utilization_stats(None).unwrap();
    let me = std::process::id();
    assert_eq!(all.len(), 3);
    assert_eq!((all[0].pid, all[0].sm_util, all[0].mem_util), (me, 77, 20));
    assert_eq!((all[1].pid, all[1].sm_util), (4242, 10));
    assert_eq!(
        all[2].sm_util, 250,
        "the driver's quirk comes through as given"
    );
    assert!(all[0].timestamp < all[1].timestamp && all[1].timestamp < all[2].timestamp);
    // Only samples newer than the last one seen.
    let newer = device.process_utilization_stats(all[0].timestamp).unwrap();
    assert_eq!(
        newer.iter().map(|s| s.pid).collect::<Vec<_>>(),
        [4242, 4243]
    );
    assert!(matches!(
        device.process_utilization_stats(all[2].timestamp),
        Err(NvmlError::NotFound)
    ));
    // No process ran: NOT_FOUND, as a real H200 answered.
    fake.set(&gpus(&[Gpu::new(
        0,
        "GPU-00000000-0000-4000-8000-000000000000",
        "0000:18:00.0",
    )]));
    assert!(matches!(
        device.process_utilization_stats(None),
        Err(NvmlError::NotFound)
    ));
}
