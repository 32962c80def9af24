//! Bad configuration through the public API: every `RESMON_*` and `OTEL_*` variable the crate
//! reads (from the process environment, as a deployment sets them) and every builder value,
//! tried with empty, blank, negative, zero, huge, non-numeric, malformed and non-UTF-8 values.
//! Each gives an error naming the setting, or a documented fallback (empty means unset; a
//! library that cannot be loaded is a GPU status), and never a panic.
//!
//! The outcome table prints with `cargo test --test config_faults -- --nocapture`.
#![cfg(all(
    feature = "nvml",
    feature = "otlp",
    feature = "tower",
    target_os = "linux"
))]

mod common;

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Duration;

use otel_resmon::otlp::Pipeline;
use otel_resmon::sampler;
use otel_resmon::{Error, GpuStatus, PressureThresholds, ResourceLayer, Sampler};

/// The tests change the process environment: one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    ENV.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every variable the sampler's builder reads.
const RESMON_VARIABLES: [&str; 14] = [
    sampler::ENV_INTERVAL_MS,
    sampler::ENV_DRIVER_DEADLINE_MS,
    sampler::ENV_START_TIMEOUT_MS,
    sampler::ENV_SHUTDOWN_TIMEOUT_MS,
    sampler::ENV_GPU_COUNTERS_INTERVAL_MS,
    sampler::ENV_GPU_HEALTH_INTERVAL_MS,
    sampler::ENV_GPU_ACTIVITY_INTERVAL_MS,
    sampler::ENV_HISTORY,
    sampler::ENV_HISTORY_LEVELS,
    sampler::ENV_GPU,
    sampler::ENV_NVML_LIB,
    sampler::ENV_CGROUP_ROOT,
    sampler::ENV_CUDA_VISIBLE_DEVICES,
    sampler::ENV_CUDA_DEVICE_ORDER,
];

const OTEL_VARIABLES: [&str; 21] = [
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_SDK_DISABLED",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SERVICE_NAME",
    "OTEL_PROPAGATORS",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
];

/// The values tried in every variable.
fn bad_values() -> Vec<(&'static str, OsString)> {
    vec![
        ("empty", OsString::new()),
        ("blank", OsString::from("  ")),
        ("negative", OsString::from("-1")),
        ("zero", OsString::from("0")),
        ("huge", OsString::from("99999999999999999999999")),
        ("u64::MAX", OsString::from("18446744073709551615")),
        ("fraction", OsString::from("0.5")),
        ("word", OsString::from("fast")),
        ("bad url", OsString::from("http://[::1")),
        ("bad port", OsString::from("http://127.0.0.1:99999")),
        ("control", OsString::from("a\u{1}b\tc")),
        (
            "non-UTF-8",
            OsString::from_vec(vec![0x66, 0xff, 0xfe, 0x6f]),
        ),
    ]
}

/// Sets the variables only for `f`.
fn with_env<T>(vars: &[(&str, &OsString)], f: impl FnOnce() -> T) -> T {
    let saved: Vec<_> = vars
        .iter()
        .map(|(k, _)| (k.to_string(), std::env::var_os(k)))
        .collect();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    let out = catch_unwind(AssertUnwindSafe(f));
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    out.unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// What one try gave, for the table and the checks.
#[derive(Debug)]
enum Outcome {
    Accepted(String),
    Refused(String),
}

fn check(var: &str, class: &str, result: std::thread::Result<Result<String, Error>>) -> Outcome {
    let result = result.unwrap_or_else(|_| panic!("{var}={class} panicked"));
    match result {
        Ok(how) => Outcome::Accepted(how),
        Err(e) => {
            let text = e.to_string();
            assert!(
                // A path setting names both ways to set it: "SamplerBuilder::x / VARIABLE".
                matches!(&e, Error::InvalidSetting { setting, .. }
                    if setting.split(" / ").any(|name| name == var)),
                "{var}={class}: the error must name the variable: {text}"
            );
            assert!(
                class != "empty" && class != "blank",
                "{var}={class}: empty means unset, got {text}"
            );
            Outcome::Refused(text)
        }
    }
}

#[test]
fn every_resmon_variable_with_bad_values_is_refused_by_name_or_falls_back() {
    let _env = env_lock();
    for var in RESMON_VARIABLES {
        for (class, value) in bad_values() {
            let result = with_env(&[(var, &value)], || {
                catch_unwind(|| {
                    Sampler::builder().on_warning(|_| {}).build().map(|s| {
                        let latest = s.latest();
                        let how = format!("{:?}", latest.gpu_status);
                        s.shutdown();
                        how
                    })
                })
            });
            let outcome = check(var, class, result);
            if var == "RESMON_NVML_LIB" {
                // Any path is a path: one that loads no NVML is a status, never an error.
                match &outcome {
                    Outcome::Accepted(how) => assert!(
                        class == "empty" || class == "blank" || how.starts_with("NoLibrary"),
                        "{var}={class}: {how}"
                    ),
                    Outcome::Refused(e) => panic!("{var}={class}: {e}"),
                }
            }
            println!("{var} {class:>9}: {outcome:?}");
        }
    }
}

/// Each variable with a format is read from the process environment itself, not only through
/// the builder's resolver: `twelve` is refused, naming the variable. (The activity interval
/// was once missing from the variables `build()` reads: set, it did nothing.) Left out: the
/// library path, which may be any path, and CUDA's two variables, which fall back as CUDA
/// does.
#[test]
fn every_resmon_variable_with_a_format_is_read_from_the_process_environment() {
    let _env = env_lock();
    let twelve = OsString::from("twelve");
    let any_text = [
        sampler::ENV_NVML_LIB,
        sampler::ENV_CUDA_VISIBLE_DEVICES,
        sampler::ENV_CUDA_DEVICE_ORDER,
    ];
    for var in RESMON_VARIABLES
        .into_iter()
        .filter(|v| !any_text.contains(v))
    {
        let built = with_env(&[(var, &twelve)], || {
            Sampler::builder()
                .on_warning(|_| {})
                .build()
                .map(|s| s.shutdown())
        });
        match built {
            Err(e) => assert!(e.to_string().contains(var), "{var}=twelve: {e}"),
            Ok(_) => panic!("{var}=twelve started a sampler: the variable is not read"),
        }
    }
}

#[test]
fn every_otel_variable_with_bad_values_is_refused_by_name_or_falls_back() {
    let _env = env_lock();
    // Nothing listens here, and exports give up fast: pipelines that start shut down at once.
    let nowhere = OsString::from(format!("http://{}", common::free_addr()));
    let short = OsString::from("200");
    for var in OTEL_VARIABLES {
        for (class, value) in bad_values() {
            let mut vars = vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &nowhere),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", &short),
            ];
            vars.retain(|(k, _)| *k != var);
            vars.push((var, &value));
            let result = with_env(&vars, || {
                catch_unwind(|| {
                    Pipeline::new()
                        .sampler(Sampler::builder().ignore_env(true).gpu(false))
                        .install_subscriber(false)
                        .install()
                        .map(|guard| {
                            let took = std::time::Instant::now();
                            let _ = guard.shutdown();
                            format!("started; shut down in {:?}", took.elapsed())
                        })
                })
            });
            let outcome = check(var, class, result);
            println!("{var} {class:>9}: {outcome:?}");
        }
    }
}

#[test]
fn sampler_builder_values_out_of_range_are_refused_by_name() {
    let _env = env_lock();
    for (what, builder, setting) in [
        (
            "interval 0",
            Sampler::builder().interval(Duration::ZERO),
            "SamplerBuilder::interval",
        ),
        (
            "interval MAX",
            Sampler::builder().interval(Duration::MAX),
            "SamplerBuilder::interval",
        ),
        (
            "history 0",
            Sampler::builder().history(0),
            "SamplerBuilder::history",
        ),
        (
            "history MAX",
            Sampler::builder().history(usize::MAX),
            "SamplerBuilder::history",
        ),
        (
            "empty library path",
            Sampler::builder().nvml_library(""),
            "SamplerBuilder::nvml_library",
        ),
    ] {
        match builder.ignore_env(true).build() {
            Err(Error::InvalidSetting { setting: s, .. }) => assert_eq!(s, setting, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // Paths that load no NVML, and device lists naming nothing: statuses, not errors.
    for (what, builder) in [
        ("a directory", Sampler::builder().nvml_library("/")),
        (
            "not a library",
            Sampler::builder().nvml_library("/proc/self/status"),
        ),
        (
            "a missing file",
            Sampler::builder().nvml_library("/nonexistent/libnvidia-ml.so.1"),
        ),
    ] {
        let s = builder.ignore_env(true).on_warning(|_| {}).build().unwrap();
        assert!(
            matches!(s.latest().gpu_status, GpuStatus::NoLibrary(_)),
            "{what}: {:?}",
            s.latest().gpu_status
        );
    }
    let fake = common::fake_nvml::FakeNvml::new(&common::fake_nvml::two_gpus());
    for devices in ["", "-1", "abc", "99999999999", "GPU-nope", "1,1", "\u{0}"] {
        let s = Sampler::builder()
            .ignore_env(true)
            .nvml_library(fake.library())
            .visible_devices(devices)
            .on_warning(|_| {})
            .build()
            .unwrap();
        let status = s.latest().gpu_status.clone();
        assert!(
            matches!(status, GpuStatus::Ok | GpuStatus::NoDevices),
            "visible_devices({devices:?}): {status:?}"
        );
        println!(
            "visible_devices({devices:?}): {status:?}, {} GPUs",
            s.latest().gpus.len()
        );
    }
}

#[test]
fn odd_layer_settings_are_clamped_not_fatal() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = ResourceLayer::builder(&sampler)
        .pressure(
            PressureThresholds::none()
                .gpu_free_fraction(f64::NAN)
                .ram_available_fraction(-3.0)
                .ram_available_bytes(u64::MAX),
        )
        .gpus([u32::MAX, 0])
        .metric_fields(["", "no.such.field"])
        .name_prefix("")
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(layer.and_then(tracing_opentelemetry::layer().with_tracer(provider.tracer("t"))));
    tracing::subscriber::with_default(subscriber, || {
        drop(tracing::info_span!("work", resmon.sample_now = true).entered())
    });
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    // Available RAM is always below u64::MAX bytes: the pressure event says so.
    assert!(
        spans[0].events.iter().any(|e| e.name == "resmon.pressure"),
        "{:?}",
        spans[0].events
    );
}

#[test]
fn resmon_report_with_bad_values_leaves_the_summary_off_and_never_panics() {
    let _env = env_lock();
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    for (class, value) in bad_values() {
        let built = with_env(&[("RESMON_REPORT", &value)], || {
            catch_unwind(|| drop(otel_resmon::tower::ResourceTraceLayer::new(&sampler)))
        });
        assert!(built.is_ok(), "RESMON_REPORT={class} panicked");
    }
}

/// The header variables are API keys: neither a value that is not UTF-8 nor one set in the
/// process beside `Pipeline::env` is shown in the error, only the variable's name.
#[test]
fn header_errors_from_the_process_environment_never_show_a_value() {
    let _env = env_lock();
    let not_utf8 = OsString::from_vec(b"api-key=s3cr3t-\xff".to_vec());
    let plain = OsString::from("api-key=s3cr3t-plain");
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    ] {
        for (how, value, env) in [
            ("not UTF-8", &not_utf8, false),
            ("beside Pipeline::env", &plain, true),
        ] {
            let result = with_env(&[(var, value)], || {
                let pipeline = Pipeline::new()
                    .sampler(Sampler::builder().ignore_env(true).gpu(false))
                    .install_subscriber(false);
                let pipeline = if env {
                    pipeline.env(|_| None)
                } else {
                    pipeline
                };
                pipeline.install().map(|g| {
                    let _ = g.shutdown();
                })
            });
            let err = match result {
                Err(e) => e.to_string(),
                Ok(()) => panic!("{var} {how}: the pipeline started"),
            };
            assert!(
                !err.contains("s3cr3t"),
                "{var} {how}: the error shows a header value: {err}"
            );
            assert!(err.contains(var), "{var} {how}: {err}");
        }
    }
}

/// A CA or client certificate with a plain `http://` endpoint would send in cleartext what the
/// user meant to protect: an error naming the setting and the endpoint, whether the files come
/// from the variables (generic or per signal) or the `Pipeline`, over either protocol. `https`
/// starts, and an endpoint that no exporter uses (metrics to none) is not checked.
#[test]
fn certificates_with_a_plain_http_endpoint_are_refused() {
    let _env = env_lock();
    let certs = common::tls_front::Certs::generate();
    let ca = certs.path("ca.pem").display().to_string();
    let cert = certs.path("client.pem").display().to_string();
    let key = certs.path("client.key").display().to_string();
    let http = format!("http://{}", common::free_addr());
    let https = format!("https://{}", common::free_addr());
    type Vars = Vec<(&'static str, String)>;
    let run = |vars: Vars, code_ca: bool| {
        let pipeline = Pipeline::new()
            .sampler(Sampler::builder().ignore_env(true).gpu(false))
            .install_subscriber(false)
            .env(move |k| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.clone())
                    .or_else(|| (k == "OTEL_EXPORTER_OTLP_TIMEOUT").then(|| "200".to_owned()))
            });
        let pipeline = if code_ca {
            pipeline.certificate(&ca)
        } else {
            pipeline
        };
        pipeline.install().map(|g| {
            let _ = g.shutdown();
        })
    };
    let refused: Vec<(Vars, bool, [&str; 2])> = vec![
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone()),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone()),
            ],
            false,
            ["OTEL_EXPORTER_OTLP_CERTIFICATE", &http],
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone()),
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca.clone()),
            ],
            false,
            ["OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", &http],
        ),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", https.clone()),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", http.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.clone()),
            ],
            false,
            ["OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &http],
        ),
        (
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone())],
            true,
            ["Pipeline::certificate", &http],
        ),
        // No endpoint: the specification's default, http://localhost:4318.
        (
            vec![
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.clone()),
            ],
            false,
            [
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                "http://localhost:4318",
            ],
        ),
    ];
    for (vars, code_ca, names) in refused {
        let what = format!("{vars:?}, Pipeline::certificate: {code_ca}");
        match run(vars, code_ca) {
            Ok(()) => panic!("{what}: started, exporting in cleartext"),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    names.iter().all(|n| text.contains(n)),
                    "{what}: the error must name {names:?}: {text}"
                );
            }
        }
    }
    for (vars, code_ca) in [
        (
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", https.clone()),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.clone()),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.clone()),
            ],
            false,
        ),
        (vec![("OTEL_EXPORTER_OTLP_ENDPOINT", https.clone())], true),
        (
            vec![
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", https.clone()),
                ("OTEL_METRICS_EXPORTER", "none".to_owned()),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone()),
            ],
            false,
        ),
    ] {
        let what = format!("{vars:?}, Pipeline::certificate: {code_ca}");
        if let Err(e) = run(vars, code_ca) {
            panic!("{what}: {e}");
        }
    }
}
