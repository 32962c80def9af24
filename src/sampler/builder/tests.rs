//! The builder's settings: code over environment over default, and errors naming them.

use super::*;
use std::collections::HashMap;

fn resolve(builder: SamplerBuilder, env: &[(&str, &str)]) -> Result<Settings, Error> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    builder.resolve(|k| env.get(k).cloned())
}

#[test]
fn defaults_cover_two_minutes_at_200ms() {
    let s = resolve(SamplerBuilder::default(), &[]).unwrap();
    assert_eq!(s.interval, Duration::from_millis(200));
    assert_eq!(s.history, 600);
    assert!(s.gpu);
    assert_eq!(s.nvml_library, None);
    assert_eq!(s.visible_devices, None);
}

#[test]
fn env_is_read_and_code_wins() {
    let env = [
        (ENV_INTERVAL_MS, "50"),
        (ENV_GPU, "off"),
        (ENV_NVML_LIB, "/opt/libnvidia-ml.so.1"),
        (ENV_CUDA_VISIBLE_DEVICES, "1,0"),
    ];
    let s = resolve(SamplerBuilder::default(), &env).unwrap();
    assert_eq!(s.interval, Duration::from_millis(50));
    assert_eq!(s.history, 2400);
    assert!(!s.gpu);
    assert_eq!(
        s.nvml_library,
        Some(PathBuf::from("/opt/libnvidia-ml.so.1"))
    );
    assert_eq!(s.visible_devices.as_deref(), Some("1,0"));

    let b = SamplerBuilder::default()
        .interval(Duration::from_secs(1))
        .gpu(true)
        .visible_devices("0");
    let s = resolve(b, &env).unwrap();
    assert_eq!(s.interval, Duration::from_secs(1));
    assert!(s.gpu);
    assert_eq!(s.visible_devices.as_deref(), Some("0"));
}

#[test]
fn bad_values_name_the_setting_and_value() {
    let err = resolve(SamplerBuilder::default(), &[(ENV_INTERVAL_MS, "fast")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid RESMON_INTERVAL_MS=\"fast\": must be a whole number"
    );
    let err = resolve(SamplerBuilder::default(), &[(ENV_INTERVAL_MS, "0")]).unwrap_err();
    assert!(
        err.to_string().contains("RESMON_INTERVAL_MS=\"0\""),
        "{err}"
    );
    let err = resolve(SamplerBuilder::default().interval(Duration::ZERO), &[]).unwrap_err();
    assert!(
        err.to_string().contains("SamplerBuilder::interval"),
        "{err}"
    );
    let err = resolve(SamplerBuilder::default(), &[(ENV_HISTORY, "0")]).unwrap_err();
    assert!(err.to_string().contains("RESMON_HISTORY=\"0\""), "{err}");
    let err = resolve(SamplerBuilder::default(), &[(ENV_HISTORY_LEVELS, "1s/1x")]).unwrap_err();
    assert!(
        err.to_string().contains("RESMON_HISTORY_LEVELS=\"1s/1x\""),
        "{err}"
    );
    let env = [(ENV_HISTORY_LEVELS, "500ms/1m,10s/2h")];
    let levels = resolve(SamplerBuilder::default(), &env).unwrap().levels;
    assert_eq!(levels[1].horizon(), Duration::from_secs(7200));
    let code = SamplerBuilder::default().levels([]);
    assert!(resolve(code, &env).unwrap().levels.is_empty(), "code wins");
    let err = resolve(SamplerBuilder::default(), &[(ENV_GPU, "maybe")]).unwrap_err();
    assert!(err.to_string().contains("RESMON_GPU=\"maybe\""), "{err}");
    let err = resolve(SamplerBuilder::default().nvml_library(""), &[]).unwrap_err();
    assert!(
        err.to_string().contains("SamplerBuilder::nvml_library"),
        "{err}"
    );
}
