//! Prints what the sampler sees, once a second: host CPU and RAM, this process, every GPU.
//!
//! `cargo run --example watch -- [seconds]` (default 5). Honours `RESMON_INTERVAL_MS`,
//! `RESMON_GPU`, `RESMON_NVML_LIB` and `CUDA_VISIBLE_DEVICES`.

use std::time::{Duration, Instant};

use otel_resmon::{Sampler, Snapshot};

const MIB: f64 = (1u64 << 20) as f64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = match std::env::args().nth(1) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("seconds must be a whole number, not {s:?}"))?,
        None => 5,
    };
    let sampler = Sampler::new()?;
    let inventory = sampler.inventory();
    println!(
        "GPU: {} (driver {}, CUDA {})",
        sampler.latest().gpu_status,
        inventory
            .driver_version
            .as_deref()
            .unwrap_or("not available"),
        inventory
            .cuda_driver_version
            .as_deref()
            .unwrap_or("not available"),
    );
    for d in &inventory.devices {
        println!(
            "  cuda:{} {} {} (bus {})",
            d.index,
            d.name,
            d.uuid,
            d.pci_bus_id.as_deref().unwrap_or("not available")
        );
    }
    let start = Instant::now();
    for _ in 0..seconds {
        std::thread::sleep(Duration::from_secs(1));
        print_line(&sampler.latest());
    }
    let window = sampler.window(start, Instant::now());
    if let Some(cpu) = window.cpu_utilization {
        println!(
            "host CPU over {} samples: min {:.1} % mean {:.1} % max {:.1} %",
            window.samples,
            cpu.min * 100.0,
            cpu.mean * 100.0,
            cpu.max * 100.0
        );
    }
    for warning in sampler.health().warnings {
        println!("warning: {warning}");
    }
    Ok(())
}

fn opt(v: Option<f64>, scale: f64, unit: &str) -> String {
    v.map_or_else(
        || "not available".to_owned(),
        |v| format!("{:.1}{unit}", v * scale),
    )
}

fn print_line(s: &Snapshot) {
    let mib = |b: Option<u64>| b.map(|b| b as f64 / MIB);
    print!(
        "cpu {} load {} ram {}/{} MiB | process cpu {} rss {} MiB",
        opt(s.host.cpu_utilization, 100.0, " %"),
        opt(s.host.load_average_1m, 1.0, ""),
        opt(mib(s.host.memory_used), 1.0, ""),
        opt(mib(s.host.memory_total), 1.0, ""),
        opt(s.process.cpu_time, 1.0, " s"),
        opt(mib(s.process.resident_memory), 1.0, ""),
    );
    for g in &s.gpus {
        print!(
            " | gpu{} {}/{} MiB util {} {} {}",
            g.index,
            opt(mib(g.memory_used), 1.0, ""),
            opt(mib(g.memory_total), 1.0, ""),
            opt(g.utilization_gpu, 100.0, " %"),
            opt(g.temperature, 1.0, " °C"),
            opt(g.power, 1.0, " W"),
        );
    }
    println!();
}
