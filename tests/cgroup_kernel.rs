//! This process's own cgroup on the test machine, read through the public API from the real
//! kernel: touching 512 MiB raises the cgroup's memory usage and working set by at least
//! 400 MiB, and a 300 ms CPU burn raises its CPU time. Nothing here creates or changes a
//! cgroup. (The layouts this machine does not have are fixtures: `src/sampler/cgroup`.)
#![cfg(target_os = "linux")]

mod common;

use otel_resmon::{ContainerSample, Sampler};

const MIB: u64 = 1 << 20;

fn container(sampler: &Sampler) -> ContainerSample {
    sampler
        .sample_now()
        .container
        .clone()
        .expect("this machine has a cgroup filesystem: the test machine's own cgroup")
}

#[test]
fn memory_and_cpu_of_this_cgroup_follow_what_this_process_does() {
    let sampler = Sampler::builder()
        .ignore_env(true)
        .gpu(false)
        .build()
        .unwrap();
    let before = container(&sampler);
    let (usage0, ws0) = (
        before.memory_usage.expect("memory usage"),
        before.memory_working_set.expect("working set"),
    );

    // 512 MiB, every page written, so the kernel charges it to this cgroup.
    let mut block = vec![0u8; 512 * MIB as usize];
    for page in block.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&block);
    let touched = container(&sampler);
    let usage_rise = touched.memory_usage.unwrap() as i64 - usage0 as i64;
    let ws_rise = touched.memory_working_set.unwrap() as i64 - ws0 as i64;
    assert!(
        usage_rise >= 400 * MIB as i64 && ws_rise >= 400 * MIB as i64,
        "after touching 512 MiB: usage +{} MiB, working set +{} MiB ({:?})",
        usage_rise / MIB as i64,
        ws_rise / MIB as i64,
        touched.hierarchy
    );
    drop(block);

    let cpu0 = container(&sampler).cpu_time.expect("cgroup CPU time");
    let burned = common::burn_cpu(0.3);
    let cpu1 = container(&sampler).cpu_time.unwrap();
    assert!(
        cpu1 - cpu0 >= 0.25,
        "burned {burned:.3} s of CPU; the cgroup's CPU time rose {:.3} s",
        cpu1 - cpu0
    );
    println!(
        "cgroup {}: usage +{} MiB, working set +{} MiB, CPU +{:.3} s",
        touched.hierarchy.as_str(),
        usage_rise / MIB as i64,
        ws_rise / MIB as i64,
        cpu1 - cpu0
    );
}
