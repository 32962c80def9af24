//! What otel-resmon detects on this machine, as the seed's `test_gpu_monitoring.py` did.
//!
//! ```sh
//! cargo run --example doctor               # report
//! cargo run --example doctor -- --require-gpu   # and exit 1 unless a GPU answers
//! ```

use std::time::Instant;

use otel_resmon::{DeviceState, Sampler};

fn main() {
    let require_gpu = std::env::args().any(|a| a == "--require-gpu");
    let sampler = match Sampler::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("doctor: the sampler cannot start: {e}");
            std::process::exit(2);
        }
    };
    let latest = sampler.sample_now();
    let inv = sampler.inventory();
    println!(
        "NVML / GPU status : {} ({})",
        latest.gpu_status.as_str(),
        latest.gpu_status
    );
    println!(
        "NVML library      : {}",
        std::env::var("RESMON_NVML_LIB")
            .unwrap_or_else(|_| "libnvidia-ml.so.1 (default search path)".into())
    );
    println!(
        "Driver version    : {}",
        inv.driver_version.as_deref().unwrap_or("-")
    );
    println!(
        "CUDA (driver)     : {}",
        inv.cuda_driver_version.as_deref().unwrap_or("-")
    );
    println!(
        "CUDA_VISIBLE_DEVICES: {}",
        std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "(unset: every device)".into())
    );
    for d in &inv.devices {
        println!(
            "  cuda:{} -> NVML index {}  {}  {}  bus {}  memory {:.1} GiB  MIG {}",
            d.index,
            d.nvml_index,
            d.name,
            d.uuid,
            d.pci_bus_id.as_deref().unwrap_or("-"),
            d.memory_total
                .map_or(0.0, |b| b as f64 / (1u64 << 30) as f64),
            d.mig_enabled.map_or("-", |m| if m { "on" } else { "off" }),
        );
    }
    for g in &latest.gpus {
        let missing: Vec<_> = g.missing.iter().map(|m| m.field.as_str()).collect();
        println!(
            "  cuda:{} state {:?}, used {:?} B, util {:?}, temp {:?} C, power {:?} W; not available: {:?}",
            g.index, g.state, g.memory_used, g.utilization_gpu, g.temperature, g.power, missing
        );
    }
    let h = &latest.host;
    println!(
        "Host memory       : total {:?} B, available {:?} B, cgroup limit {:?}",
        h.memory_total, h.memory_available, h.cgroup_memory_limit
    );
    println!("Load average (1m) : {:?}", h.load_average_1m);
    let passes = 20;
    let started = Instant::now();
    for _ in 0..passes {
        sampler.sample_now();
    }
    println!(
        "Sampler cost      : {:.1} µs per pass ({} GPU(s)), every {:?}",
        started.elapsed().as_secs_f64() * 1e6 / passes as f64,
        latest.gpus.len(),
        sampler.interval()
    );
    for w in sampler.health().warnings {
        println!("Warning           : {w}");
    }
    if require_gpu {
        let answering = latest
            .gpus
            .iter()
            .filter(|g| g.state == DeviceState::Ok)
            .count();
        if answering == 0 {
            eprintln!(
                "doctor: --require-gpu: no GPU answers ({})",
                latest.gpu_status
            );
            std::process::exit(1);
        }
    }
}
