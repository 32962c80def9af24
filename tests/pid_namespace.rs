//! This process's GPU memory in a PID namespace of its own, as in a container, with the real
//! kernel: the doctor example runs under `unshare --pid --fork --mount-proc` (root needed)
//! against four fake drivers. One lists host pids only: the figure is absent with its reason,
//! never 0 and never another process's. One lists the namespace's pid: the right figure. One
//! lists nobody: 0 is honest. One lists this process with 0 bytes while the device is in use
//! (a driver that translates the list but not the memory query): absent with its reason.
#![cfg(all(feature = "nvml", target_os = "linux"))]

mod common;

use std::process::Command;

use common::fake_nvml::{gpus, FakeNvml, Gpu, GIB};

/// Whether this machine can make a PID namespace. Without root (or `unshare`) the tests say
/// why and pass, except under `CI=true`, where that is a failure.
fn can_unshare() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !root {
        Some("not root: unshare --pid needs CAP_SYS_ADMIN".to_owned())
    } else {
        match Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "true"])
            .status()
        {
            Ok(s) if s.success() => None,
            Ok(s) => Some(format!("unshare --pid --fork --mount-proc true exited {s}")),
            Err(e) => Some(format!("unshare cannot run: {e}")),
        }
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true and no PID namespace can be made here: {why}")
        }
        Some(why) => {
            eprintln!("skipped: {why}");
            false
        }
    }
}

/// The doctor's report in a new PID namespace, its one GPU's process list being `compute`.
fn doctor_in_a_namespace(compute: &str) -> String {
    doctor_in_a_namespace_with(compute, "")
}

/// As [`doctor_in_a_namespace`], with more of the GPU's configuration (`extra` lines).
fn doctor_in_a_namespace_with(compute: &str, extra: &str) -> String {
    let mut gpu = Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    );
    gpu.memory_used = 10 * GIB;
    gpu.compute = compute.to_owned();
    gpu.extra = extra.to_owned();
    let fake = FakeNvml::new(&gpus(&[gpu]));
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(common::example("doctor"))
        .env("RESMON_NVML_LIB", fake.library())
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .expect("run the doctor under unshare");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the doctor failed in the namespace:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn line<'a>(report: &'a str, starts: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.trim_start().starts_with(starts))
        .unwrap_or_else(|| panic!("no line starting {starts:?} in:\n{report}"))
}

#[test]
fn host_pids_seen_from_a_namespace_give_no_figure_and_say_why() {
    if !can_unshare() {
        return;
    }
    // Pids of the host namespace: this test process, and another process's 5 GiB. Neither
    // exists in the new namespace, where the doctor is pid 1.
    let host = std::process::id();
    let report = doctor_in_a_namespace(&format!("{host}:{},4242:{}", 3 * GIB, 5 * GIB));
    let ns = line(&report, "PID namespace");
    assert!(ns.contains(": own (inode "), "{ns}");
    assert!(
        ns.contains("unknown") && ns.contains("hostPID: true"),
        "{ns}"
    );
    let gpu = line(&report, "cuda:0 ok");
    assert!(
        gpu.contains("this process not available (pid_namespace"),
        "the figure must be absent with its reason, never 0 nor another's: {gpu}"
    );
    let warning = line(&report, "Warning");
    assert!(
        warning.contains("PID namespace") && warning.contains("--pid=host"),
        "one warning says why and what fixes it: {warning}"
    );
    assert_eq!(report.matches("Warning").count(), 1, "{report}");
}

#[test]
fn a_driver_that_lists_the_namespace_pid_gives_the_figure() {
    if !can_unshare() {
        return;
    }
    let report = doctor_in_a_namespace(&format!("self:{}", 3 * GIB));
    let ns = line(&report, "PID namespace");
    assert!(
        ns.contains("exact: the driver's process lists name pids of this PID namespace"),
        "{ns}"
    );
    let gpu = line(&report, "cuda:0 ok");
    assert!(gpu.contains("this process 3.0 GiB"), "{gpu}");
}

#[test]
fn an_empty_process_list_is_an_honest_zero() {
    if !can_unshare() {
        return;
    }
    let report = doctor_in_a_namespace("");
    let gpu = line(&report, "cuda:0 ok");
    assert!(gpu.contains("this process 0.0 GiB"), "{gpu}");
}

#[test]
fn listed_with_zero_bytes_while_the_device_is_in_use_gives_no_figure() {
    if !can_unshare() {
        return;
    }
    let report = doctor_in_a_namespace("self:0");
    let gpu = line(&report, "cuda:0 ok");
    assert!(
        gpu.contains("this process not available (pid_namespace"),
        "{gpu}"
    );
    assert!(
        line(&report, "PID namespace").contains("unknown"),
        "{report}"
    );
}

#[test]
fn on_the_host_the_same_driver_gives_the_figure() {
    // Outside any new namespace (this machine is the host), "self" is this process.
    let fake = FakeNvml::new(&gpus(&[Gpu::new(
        0,
        "GPU-11111111-aaaa-4000-8000-000000000001",
        "0000:01:00.0",
    )]));
    let out = Command::new(common::example("doctor"))
        .env("RESMON_NVML_LIB", fake.library())
        .env_remove("CUDA_VISIBLE_DEVICES")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(
        line(&report, "PID namespace").starts_with("PID namespace     : initial"),
        "{report}"
    );
    assert!(
        line(&report, "cuda:0 ok").contains("this process 1.0 GiB"),
        "{report}"
    );
}

/// A GPU with GPM (so the doctor waits for a second activity read) whose per-process samples
/// are `samples`, made afresh at each call.
fn running(samples: &str) -> String {
    format!(
        "gpu.0.gpm=1\ngpu.0.gpm.5=50\ngpu.0.process_utilization={samples}\n\
         gpu.0.process_utilization.live=1\n"
    )
}

#[test]
fn host_pids_in_the_utilization_samples_give_no_share_and_say_why() {
    if !can_unshare() {
        return;
    }
    // This test process and another, both host pids the new namespace cannot see: the
    // doctor (pid 1 there) has no share it can tell, never another's and never 0.
    let samples = format!("{}:80:10:0,4242:15:5:0", std::process::id());
    let report = doctor_in_a_namespace_with("", &running(&samples));
    let activity = line(&report, "activity:");
    assert!(
        activity.contains("this process's share not available (pid_namespace)"),
        "{activity}"
    );
}

#[test]
fn a_driver_that_gives_the_namespace_pid_gives_the_share() {
    if !can_unshare() {
        return;
    }
    let report = doctor_in_a_namespace_with(&format!("self:{}", GIB), &running("self:80:10:0"));
    let activity = line(&report, "activity:");
    assert!(
        activity.contains("this process SM 80.0 %, memory 10.0 %"),
        "{activity}"
    );
}
