//! What otel-resmon detects on this machine, as the Python backend's `test_gpu_monitoring.py` did.
//!
//! ```sh
//! cargo run --example doctor               # report
//! cargo run --example doctor -- --require-gpu   # and exit 1 unless a GPU answers
//! ```

use std::time::{Duration, Instant};

use otel_resmon::{
    ContainerField, DeviceState, GpuField, GpuSample, MissingReason, PidNamespace, Sampler,
};

const GIB: f64 = (1u64 << 30) as f64;

/// `7.2 GiB`, or `7.2 GiB (15 %)` of a total.
fn gib(bytes: u64, of: Option<u64>) -> String {
    let v = format!("{:.1} GiB", bytes as f64 / GIB);
    match of.filter(|t| *t > 0) {
        Some(total) => format!("{v} ({:.0} %)", bytes as f64 * 100.0 / total as f64),
        None => v,
    }
}

/// A GPU figure, or "not available (why)".
fn figure<T>(g: &GpuSample, field: GpuField, v: Option<T>, show: impl Fn(T) -> String) -> String {
    match v {
        Some(v) => show(v),
        None => match g.missing_reason(field) {
            Some(MissingReason::NotSupported) => "not available (not supported)".to_owned(),
            Some(MissingReason::NoPermission) => "not available (no permission)".to_owned(),
            Some(MissingReason::Failed(e)) => format!("not available ({e})"),
            Some(MissingReason::Implausible(e)) => format!("not available (implausible: {e})"),
            Some(MissingReason::PidNamespace) => {
                "not available (pid_namespace: see PID namespace above)".to_owned()
            }
            Some(_) => "not available".to_owned(),
            None => "not available".to_owned(),
        },
    }
}

/// GPM's figures (whether the device gives them, and what the last window read) and this
/// process's share of the device.
fn activity(g: &GpuSample) -> String {
    let a = &g.activity;
    let pct =
        |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1} %", v * 100.0));
    let gpm = match (a.window, g.missing_reason(GpuField::Gpm)) {
        (Some((from, to)), None) => format!(
            "GPM supported: over {:.2} s SM {}, occupancy {}, tensor {} (HMMA {}), DRAM {}, FP16 {}, FP32 {}, FP64 {}",
            to.duration_since(from).as_secs_f64(),
            pct(a.sm),
            pct(a.sm_occupancy),
            pct(a.tensor),
            pct(a.tensor_hmma),
            pct(a.dram),
            pct(a.fp16),
            pct(a.fp32),
            pct(a.fp64),
        ),
        (_, Some(MissingReason::NoSamples)) => "GPM supported, no window read yet".to_owned(),
        (_, Some(reason)) => format!("GPM not available ({})", reason.as_str()),
        (None, None) => "GPM not available".to_owned(),
    };
    let share = match (a.process_sm, g.missing_reason(GpuField::ProcessUtilization)) {
        (Some(sm), _) => format!(
            "this process SM {}, memory {}",
            pct(Some(sm)),
            pct(a.process_memory_busy)
        ),
        (None, Some(reason)) => format!("this process's share not available ({})", reason.as_str()),
        (None, None) => "this process's share not available".to_owned(),
    };
    format!("activity: {gpm}; {share}")
}

/// A host figure, or "not available".
fn or_na<T>(v: Option<T>, show: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "not available".to_owned(), show)
}

fn main() {
    let require_gpu = std::env::args().any(|a| a == "--require-gpu");
    // The activity figures are means between two reads: read them every 0.5 s here, so the
    // report can show one (unless the environment sets the interval).
    let mut builder = Sampler::builder();
    if std::env::var_os(otel_resmon::sampler::ENV_GPU_ACTIVITY_INTERVAL_MS).is_none() {
        builder = builder.gpu_activity_interval(Duration::from_millis(500));
    }
    let sampler = match builder.build() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("doctor: the sampler cannot start: {e}");
            std::process::exit(2);
        }
    };
    let mut latest = sampler.sample_now();
    // Wait (at most 2 s) for a first activity window where one is coming.
    let waiting = |s: &otel_resmon::Snapshot| {
        s.gpus.iter().any(|g| {
            g.missing_reason(GpuField::Gpm) == Some(&MissingReason::NoSamples)
                && g.activity.window.is_none()
        })
    };
    let until = Instant::now() + Duration::from_secs(2);
    while waiting(&latest) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
        latest = sampler.sample_now();
    }
    let inv = sampler.inventory();
    println!(
        "NVML / GPU status : {} ({})",
        latest.gpu_status.as_str(),
        latest.gpu_status
    );
    if let Some(call) = sampler.health().driver_hung {
        println!("Driver hung       : {call}; every GPU figure is absent until it returns");
    }
    println!(
        "NVML library      : {}",
        std::env::var("RESMON_NVML_LIB")
            .unwrap_or_else(|_| "libnvidia-ml.so.1 (default search path)".into())
    );
    println!(
        "Driver version    : {}",
        inv.driver_version.as_deref().unwrap_or("not available")
    );
    println!(
        "CUDA (driver)     : {}",
        inv.cuda_driver_version
            .as_deref()
            .unwrap_or("not available")
    );
    println!(
        "CUDA_VISIBLE_DEVICES: {}",
        std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_else(|_| "(unset: every device)".into())
    );
    for d in &inv.devices {
        println!(
            "  cuda:{} -> NVML index {}  {}  {}  bus {}  memory {}  MIG {}",
            d.index,
            d.nvml_index,
            d.name,
            d.uuid,
            d.pci_bus_id.as_deref().unwrap_or("not available"),
            or_na(d.memory_total, |b| gib(b, None)),
            d.mig_enabled
                .map_or("not available", |m| if m { "on" } else { "off" }),
        );
    }
    let ns = PidNamespace::of_this_process();
    println!(
        "PID namespace     : {}{}; GPU process memory is {}",
        ns.as_str(),
        match ns {
            PidNamespace::Own(ino) => format!(" (inode {ino})"),
            _ => String::new(),
        },
        ns.gpu_process_memory(&latest)
    );
    println!("XID events        : {}", sampler.xid_status().describe());
    let ordinals = sampler.inventory().ordinals;
    println!(
        "CUDA ordinals     : {}{}",
        ordinals.as_str(),
        match ordinals {
            otel_resmon::CudaOrdinals::PciOrderAssumed =>
                " (GPUs of different models without CUDA_DEVICE_ORDER=PCI_BUS_ID: cuda:<i> here is PCI order, maybe not the application's)",
            _ => " (cuda:<i> here is the application's)",
        }
    );
    for g in &latest.gpus {
        let state = match &g.state {
            DeviceState::Ok => "ok".to_owned(),
            DeviceState::Lost => "lost".to_owned(),
            DeviceState::Error(e) => format!("error ({e})"),
            _ => "unknown".to_owned(),
        };
        println!(
            "  cuda:{} {state}: memory {}, this process {}, utilization {}, temperature {}, power {}",
            g.index,
            figure(g, GpuField::Memory, g.memory_used, |b| gib(
                b,
                g.memory_total
            )),
            figure(g, GpuField::ProcessMemory, g.process_memory, |b| gib(b, None)),
            figure(g, GpuField::Utilization, g.utilization_gpu, |u| format!(
                "{:.0} %",
                u * 100.0
            )),
            figure(g, GpuField::Temperature, g.temperature, |t| format!(
                "{t:.0} °C"
            )),
            figure(g, GpuField::Power, g.power, |p| format!("{p:.0} W")),
        );
        let c = &g.condition;
        println!(
            "    health {}; clocks SM {}, memory {}; P-state {}; power limit {}; throttle reasons {}; throttled {}",
            g.health().as_str(),
            figure(g, GpuField::Clocks, c.clock_sm_mhz, |m| format!("{m} MHz")),
            figure(g, GpuField::Clocks, c.clock_memory_mhz, |m| format!("{m} MHz")),
            figure(g, GpuField::PerformanceState, c.performance_state, |p| format!("P{p}")),
            figure(g, GpuField::PowerLimit, c.power_limit, |w| format!("{w:.0} W")),
            figure(g, GpuField::ClockEventReasons, c.clock_event_reasons, |r| {
                let names: Vec<_> = r.names().collect();
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            }),
            figure(g, GpuField::ThrottledTime, c.throttled_time.total(), |s| format!("{s:.1} s")),
        );
        println!("    {}", activity(g));
    }
    let h = &latest.host;
    println!(
        "Host memory       : {} available of {}; cgroup limit {}",
        or_na(h.memory_available, |b| gib(b, None)),
        or_na(h.memory_total, |b| gib(b, None)),
        h.cgroup_memory_limit
            .map_or_else(|| "none found".to_owned(), |b| gib(b, None)),
    );
    match &latest.container {
        Some(c) => {
            let why = |field: ContainerField| {
                c.missing_reason(field)
                    .map_or("not available".to_owned(), |r| {
                        format!("none ({})", r.as_str())
                    })
            };
            let bytes = |v: Option<u64>, field| v.map_or_else(|| why(field), |b| gib(b, None));
            println!(
                "Container (cgroup): {}; memory {} used, working set {}, limit {}, OOM kills {}, pressure {}",
                c.hierarchy.as_str(),
                bytes(c.memory_usage, ContainerField::MemoryUsage),
                bytes(c.memory_working_set, ContainerField::MemoryWorkingSet),
                bytes(c.memory_limit, ContainerField::MemoryLimit),
                c.memory_oom_kills
                    .map_or_else(|| why(ContainerField::MemoryOomKills), |n| n.to_string()),
                c.memory_pressure.map_or_else(
                    || why(ContainerField::MemoryPressure),
                    |p| format!("{:.1} %", p * 100.0)
                ),
            );
            println!(
                "Container CPU     : limit {}, used {}, throttled {}",
                c.cpu_limit.map_or_else(
                    || why(ContainerField::CpuLimit),
                    |l| format!("{l:.2} cores")
                ),
                c.cpu_time
                    .map_or_else(|| why(ContainerField::CpuTime), |t| format!("{t:.1} s")),
                match (c.cpu_throttled_periods, c.cpu_periods, c.cpu_throttled_time) {
                    (Some(n), Some(of), Some(t)) => format!("{n} of {of} periods, {t:.3} s"),
                    _ => why(ContainerField::CpuThrottling),
                },
            );
        }
        None => println!("Container (cgroup): none found"),
    }
    let id = sampler.container_identity();
    println!(
        "Container id      : {}; pod uid {}",
        id.container_id.as_deref().unwrap_or("none found"),
        id.pod_uid.as_deref().unwrap_or("none found")
    );
    println!(
        "Load average (1m) : {}",
        or_na(h.load_average_1m, |l| format!("{l:.2}"))
    );
    let passes = 20;
    let started = Instant::now();
    for _ in 0..passes {
        sampler.sample_now();
    }
    println!(
        "Sampler cost      : {:.1} µs per sample_now() (host and each GPU's fast tier, {} GPU(s)), a pass every {} ms",
        started.elapsed().as_secs_f64() * 1e6 / passes as f64,
        latest.gpus.len(),
        sampler.interval().as_millis()
    );
    let health = sampler.health();
    for t in &health.tiers {
        println!(
            "GPU tier {:<9}: {} reads, {:.1} µs a read, {:.1} µs a pass on average, longest {:.1} µs",
            t.tier.as_str(),
            t.reads,
            t.per_read.as_secs_f64() * 1e6,
            t.per_pass.as_secs_f64() * 1e6,
            t.longest.as_secs_f64() * 1e6
        );
    }
    for c in &health.slow_calls {
        println!(
            "Slow driver call  : {} ({} tier): longest {:.0} µs, {} call(s) above 100 µs",
            c.function,
            c.tier.as_str(),
            c.longest.as_secs_f64() * 1e6,
            c.calls
        );
    }
    // The passes above raise their warnings; the sampler thread delivers them at its next
    // pass.
    let passes = sampler.health().passes;
    let deadline = Instant::now() + sampler.interval() * 3;
    while sampler.health().passes < passes + 2 && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
