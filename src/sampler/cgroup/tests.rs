//! The probe against fixture trees (`tests/fixtures/cgroup`) and broken files.

use super::*;

const ID: &str = "3f4a9e1c2b7d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const UID: &str = "0c7ae2d5-9b1e-4c2a-8f3e-6d5c4b3a2e1f";
const GIB: u64 = 1 << 30;

/// A fixture tree under `tests/fixtures/cgroup/<name>`: `proc/self/{cgroup,mountinfo}`
/// and the cgroup files where its mountinfo mounts them.
fn fixture(name: &str) -> CgroupProbe {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name);
    CgroupProbe::open_under(&root, &root.join("proc/self")).expect(name)
}

#[test]
fn v2_pod_with_limits_throttling_an_oom_kill_and_pressure() {
    let mut p = fixture("v2-kubepods-systemd");
    let s = p.sample();
    assert_eq!(s.hierarchy, CgroupHierarchy::V2);
    assert_eq!(s.memory_usage, Some(4080218112));
    assert_eq!(s.memory_working_set, Some(4080218112 - 536870912));
    assert_eq!(s.memory_limit, Some(4 * GIB));
    assert_eq!(
        s.memory_available(),
        Some(4 * GIB - (4080218112 - 536870912))
    );
    assert_eq!(s.memory_oom_kills, Some(1));
    assert_eq!(s.memory_pressure, Some(0.032));
    assert_eq!(s.cpu_limit, Some(2.0));
    assert_eq!(s.cpu_time, Some(81.234567));
    assert_eq!(s.cpu_periods, Some(5321));
    assert_eq!(s.cpu_throttled_periods, Some(412));
    assert_eq!(s.cpu_throttled_time, Some(9.876543));
    assert!(s.missing.is_empty(), "{:?}", s.missing);
    assert_eq!(p.identity.container_id.as_deref(), Some(ID));
    assert_eq!(p.identity.pod_uid.as_deref(), Some(UID));
}

#[test]
fn v2_docker_in_a_cgroup_namespace_without_limits() {
    let mut p = fixture("v2-docker-cgroupns");
    let s = p.sample();
    assert_eq!(s.hierarchy, CgroupHierarchy::V2);
    assert_eq!(s.memory_working_set, Some(73400320 - 10485760));
    assert_eq!(s.memory_limit, None);
    assert_eq!(
        s.missing_reason(ContainerField::MemoryLimit),
        Some(&MissingReason::NoLimit)
    );
    assert_eq!(s.cpu_limit, None);
    assert_eq!(
        s.missing_reason(ContainerField::CpuLimit),
        Some(&MissingReason::NoLimit)
    );
    assert_eq!(s.memory_available(), None);
    assert_eq!(s.cpu_time, Some(1.5));
    assert_eq!(s.memory_pressure, Some(0.0));
    // `0::/` names no container: the ids come from docker's bind mounts.
    assert_eq!(p.identity.container_id.as_deref(), Some(ID));
    assert_eq!(p.identity.pod_uid, None);
}

#[test]
fn v2_docker_under_systemd() {
    let mut p = fixture("v2-docker-systemd");
    let s = p.sample();
    assert_eq!(
        p.identity.container_id.as_deref(),
        Some("9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d")
    );
    assert_eq!(p.identity.pod_uid, None);
    assert_eq!(s.memory_limit, Some(GIB));
    assert_eq!(s.cpu_limit, Some(0.5));
    assert_eq!(s.cpu_throttled_time, Some(0.12));
}

#[test]
fn v1_docker_with_a_limit_a_quota_throttling_and_oom_kills() {
    let mut p = fixture("v1-docker");
    let s = p.sample();
    assert_eq!(s.hierarchy, CgroupHierarchy::V1);
    assert_eq!(s.memory_usage, Some(1932735283));
    // v1 counts the hierarchy's inactive file pages as total_inactive_file.
    assert_eq!(s.memory_working_set, Some(1932735283 - 268435456));
    assert_eq!(s.memory_limit, Some(2 * GIB));
    assert_eq!(s.memory_oom_kills, Some(2));
    assert_eq!(s.memory_pressure, None);
    assert_eq!(
        s.missing_reason(ContainerField::MemoryPressure),
        Some(&MissingReason::NotSupported),
        "v1 has no per-cgroup PSI"
    );
    assert_eq!(s.cpu_limit, Some(1.5));
    assert_eq!(s.cpu_throttled_periods, Some(77));
    assert_eq!(s.cpu_throttled_time, Some(2.5));
    assert_eq!(s.cpu_time, Some(45.123456789));
    assert_eq!(p.identity.container_id.as_deref(), Some(ID));
}

#[test]
fn v1_kubepods_cri_o_unlimited() {
    let mut p = fixture("v1-kubepods-crio");
    let s = p.sample();
    assert_eq!(s.memory_limit, None);
    assert_eq!(
        s.missing_reason(ContainerField::MemoryLimit),
        Some(&MissingReason::NoLimit)
    );
    assert_eq!(s.cpu_limit, None);
    assert_eq!(s.memory_working_set, Some(104857600 - 4194304));
    assert_eq!(p.identity.container_id.as_deref(), Some(ID));
    assert_eq!(p.identity.pod_uid.as_deref(), Some(UID));
}

#[test]
fn this_machines_hybrid_layout_as_copied() {
    // Copied from the test machine: memory on v1 under /process_api/..., cpu and
    // cpuacct at the v1 root, a v2 `unified` mount with no controllers.
    let mut p = fixture("hybrid-this-machine");
    let s = p.sample();
    assert_eq!(s.hierarchy, CgroupHierarchy::Hybrid);
    let (usage, ws) = (s.memory_usage.unwrap(), s.memory_working_set.unwrap());
    assert!(ws <= usage && ws > 0, "{usage} {ws}");
    assert_eq!(
        s.missing_reason(ContainerField::MemoryLimit),
        Some(&MissingReason::NoLimit)
    );
    assert_eq!(
        s.missing_reason(ContainerField::CpuLimit),
        Some(&MissingReason::NoLimit)
    );
    assert!(s.cpu_time.unwrap() > 0.0);
    assert_eq!(s.cpu_throttled_periods, Some(0));
    assert_eq!(p.identity, ContainerIdentity::default());
}

#[test]
fn files_that_vanish_or_hold_garbage_are_reasons_not_panics() {
    let root = tempfile::tempdir().unwrap();
    let proc_self = root.path().join("proc/self");
    std::fs::create_dir_all(&proc_self).unwrap();
    std::fs::write(proc_self.join("cgroup"), "0::/app\n").unwrap();
    std::fs::write(
        proc_self.join("mountinfo"),
        "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
    )
    .unwrap();
    let dir = root.path().join("sys/fs/cgroup/app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("memory.current"), "not a number\n").unwrap();
    std::fs::write(dir.join("cpu.max"), "max\n").unwrap();
    let mut p = CgroupProbe::open_under(root.path(), &proc_self).unwrap();
    let s = p.sample();
    assert!(matches!(
        s.missing_reason(ContainerField::MemoryUsage),
        Some(MissingReason::Failed(_))
    ));
    assert_eq!(
        s.missing_reason(ContainerField::MemoryOomKills),
        Some(&MissingReason::NotSupported)
    );
    assert_eq!(
        s.missing_reason(ContainerField::CpuLimit),
        Some(&MissingReason::NoLimit)
    );
    assert_eq!(s.memory_usage, None);
    assert_eq!(s.cpu_time, None);
    // No cgroup filesystem at all: no probe.
    std::fs::write(proc_self.join("mountinfo"), "").unwrap();
    assert!(CgroupProbe::open_under(root.path(), &proc_self).is_none());
}
