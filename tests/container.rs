//! The container's figures on spans, in pressure events and in metrics, from fixture cgroup
//! trees (`tests/fixtures/cgroup`, the kernel's formats as real v2 and v1 hosts lay them out)
//! read through `SamplerBuilder::cgroup_root`. Each test works on its own copy, rewriting the
//! files in place as the kernel does, so the probe's open files see the change.

#![cfg(target_os = "linux")]

mod common;

use std::path::{Path, PathBuf};

use common::metrics::{collect, meters};
use common::otel::{attr_in, float, int, resmon_keys, traced};
use common::passes;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::Value;
use otel_resmon::{PressureThresholds, ResourceLayer, Sampler};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const POD: &str = "v2-kubepods-systemd";

/// A private copy of a fixture, and the directory of its cgroup's files.
struct Tree {
    root: tempfile::TempDir,
    cgroup: PathBuf,
}

impl Tree {
    fn copy(name: &str) -> Self {
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cgroup")
            .join(name);
        let root = tempfile::tempdir().unwrap();
        copy_dir(&from, root.path());
        let cgroup = std::fs::read_to_string(root.path().join("proc/self/cgroup")).unwrap();
        let path = cgroup.trim().trim_start_matches("0::/");
        let cgroup = root.path().join("sys/fs/cgroup").join(path);
        Self { root, cgroup }
    }

    /// Rewrites one file in place (same inode, as the kernel's files stay).
    fn set(&self, file: &str, text: &str) {
        std::fs::write(self.cgroup.join(file), text).unwrap();
    }

    fn sampler(&self) -> Sampler {
        Sampler::builder()
            .ignore_env(true)
            .gpu(false)
            .interval(std::time::Duration::from_millis(20))
            .cgroup_root(self.root.path())
            .build()
            .unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn cpu_stat(throttled_usec: u64) -> String {
    format!(
        "usage_usec 81234567\nuser_usec 70123456\nsystem_usec 11111111\nnr_periods 5321\n\
         nr_throttled 412\nthrottled_usec {throttled_usec}\n"
    )
}

#[test]
fn spans_get_the_working_set_and_throttling_only_when_there_is_something_to_say() {
    let tree = Tree::copy(POD);
    let s = tree.sampler();
    let t = traced(ResourceLayer::builder(&s).pressure(PressureThresholds::none()));
    t.run(|| {
        passes(&s, 2);
        let span = tracing::info_span!("throttled").entered();
        passes(&s, 1);
        tree.set(
            "memory.current",
            &format!("{}\n", 4080218112u64 + 100 * MIB),
        );
        tree.set("cpu.stat", &cpu_stat(9876543 + 250_000));
        passes(&s, 2);
        drop(span);

        let span = tracing::info_span!("quiet").entered();
        passes(&s, 2);
        drop(span);
        // Within one snapshot: nothing was observed between its ends.
        drop(tracing::info_span!("short").entered());
    });
    let ws_end = 4080218112 + 100 * MIB - 536870912;
    let throttled = t.span("throttled");
    assert_eq!(
        int(&throttled, "resmon.container.memory.working_set.end"),
        ws_end as i64
    );
    assert_eq!(
        int(&throttled, "resmon.container.memory.working_set.delta"),
        (100 * MIB) as i64
    );
    let d = float(&throttled, "resmon.container.cpu.throttled_time.delta");
    assert!((d - 0.25).abs() < 1e-9, "{d}");

    let quiet = t.span("quiet");
    assert_eq!(int(&quiet, "resmon.container.memory.working_set.delta"), 0);
    assert!(
        !resmon_keys(&quiet).contains(&"resmon.container.cpu.throttled_time.delta".to_owned()),
        "no throttling, no attribute"
    );
    let short = resmon_keys(&t.span("short"));
    assert!(short.contains(&"resmon.container.memory.working_set.end".to_owned()));
    assert!(!short.iter().any(|k| k.ends_with(".delta")), "{short:?}");
}

#[test]
fn ram_pressure_measures_against_the_containers_limit() {
    // 4 GiB limit, 300 MiB of headroom: under the default 500 MiB while the host (this
    // machine, gigabytes free) is far from it.
    let tree = Tree::copy(POD);
    let usage = 4 * GIB - 300 * MIB + 536870912;
    tree.set("memory.current", &format!("{usage}\n"));
    let s = tree.sampler();
    assert!(
        s.latest().host.memory_available.unwrap() > 2 * GIB,
        "the host has room"
    );
    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        let _span = tracing::info_span!("tight").entered();
        passes(&s, 2);
    });
    let span = t.span("tight");
    assert_eq!(span.events.len(), 1, "{:?}", span.events);
    let a = &span.events[0].attributes;
    assert_eq!(
        attr_in(a, "resmon.pressure.resource"),
        Some(&Value::from("container.memory"))
    );
    assert_eq!(
        attr_in(a, "resmon.pressure.free"),
        Some(&Value::I64((300 * MIB) as i64))
    );
    assert_eq!(
        attr_in(a, "resmon.pressure.limit"),
        Some(&Value::I64((4 * GIB) as i64))
    );

    // No limit set: the host's available memory decides, and it has room.
    let tree = Tree::copy("v2-docker-cgroupns");
    let s = tree.sampler();
    let t = traced(ResourceLayer::builder(&s));
    t.run(|| {
        let _span = tracing::info_span!("roomy").entered();
        passes(&s, 2);
    });
    assert!(t.span("roomy").events.is_empty());
}

#[test]
fn container_metrics_follow_the_semantic_conventions() {
    let tree = Tree::copy(POD);
    let s = tree.sampler();
    passes(&s, 3); // CPU usage needs two readings
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let got = collect(&m);
    for (name, unit, kind, value) in [
        (
            "container.memory.usage",
            "By",
            "updowncounter",
            4080218112.0,
        ),
        (
            "container.memory.working_set",
            "By",
            "updowncounter",
            (4080218112u64 - 536870912) as f64,
        ),
        (
            "container.memory.available",
            "By",
            "updowncounter",
            (4 * GIB - (4080218112 - 536870912)) as f64,
        ),
        ("container.cpu.time", "s", "counter", 81.234567),
        ("container.cpu.usage", "{cpu}", "gauge", 0.0),
        (
            "k8s.container.memory.limit.current",
            "By",
            "updowncounter",
            (4 * GIB) as f64,
        ),
        (
            "k8s.container.cpu.limit.current",
            "{cpu}",
            "updowncounter",
            2.0,
        ),
        (
            "resmon.container.cpu.throttled_time",
            "s",
            "counter",
            9.876543,
        ),
        (
            "resmon.container.cpu.throttled_periods",
            "{period}",
            "counter",
            412.0,
        ),
        (
            "resmon.container.memory.oom_kills",
            "{kill}",
            "counter",
            1.0,
        ),
    ] {
        let (u, k, points) = got.get(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!((u.as_str(), *k), (unit, kind), "{name}");
        assert_eq!(points.len(), 1, "{name}: one series, no attributes");
        assert!(points[0].attributes.is_empty(), "{name}");
        assert!(
            (points[0].value - value).abs() < 1e-6,
            "{name}: {}",
            points[0].value
        );
    }
}

#[test]
fn outside_a_pod_there_are_no_kubernetes_metrics_and_no_made_up_limits() {
    let tree = Tree::copy("v2-docker-cgroupns");
    let s = tree.sampler();
    passes(&s, 2);
    let m = meters();
    let _metrics = otel_resmon::metrics::register(&m.provider.meter("test"), &s);
    let got = collect(&m);
    assert!(got.contains_key("container.memory.usage"));
    for absent in [
        "k8s.container.memory.limit.current",
        "k8s.container.cpu.limit.current",
        "container.memory.available",
    ] {
        assert!(
            got.get(absent).is_none_or(|(_, _, p)| p.is_empty()),
            "{absent} without a pod or a limit"
        );
    }
}

#[test]
fn a_cgroup_root_without_proc_files_is_a_setting_error() {
    let empty = tempfile::tempdir().unwrap();
    let err = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .cgroup_root(empty.path())
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("RESMON_CGROUP_ROOT"), "{err}");
}
