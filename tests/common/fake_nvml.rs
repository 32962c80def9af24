//! Test harness for the fake NVML driver (`tests/fake_nvml/fake_nvml.c`).
//!
//! The C source is compiled once per test binary against NVIDIA's `nvml.h` (fetched by
//! `scripts/fetch-nvml-header.sh`), then every [`FakeNvml`] copies the library into a directory
//! of its own as `libnvidia-ml.so.1` (dlopen shares one instance per path) beside its control
//! file `fake-nvml.conf`. A missing compiler or header fails the test: nothing is skipped.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One private copy of the fake driver and its control file.
pub struct FakeNvml {
    dir: tempfile::TempDir,
    last: Mutex<Option<(u64, u64, i64, i64)>>,
}

impl FakeNvml {
    /// A fresh copy of the driver, configured with `config` (see the C file's header).
    pub fn new(config: &str) -> Self {
        Self::variant(config, Variant::Complete)
    }

    /// A copy of one variant of the driver (one lacking a symbol, say).
    pub fn variant(config: &str, variant: Variant) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fake-nvml-")
            .tempdir()
            .expect("temp dir for the fake NVML");
        std::fs::copy(compiled(variant), dir.path().join("libnvidia-ml.so.1"))
            .expect("copy the fake NVML library");
        let fake = Self {
            dir,
            last: Mutex::new(None),
        };
        fake.set(config);
        fake
    }

    /// Path to pass to `SamplerBuilder::nvml_library`.
    pub fn library(&self) -> PathBuf {
        self.dir.path().join("libnvidia-ml.so.1")
    }

    /// Replaces the control file atomically. The fake notices a change by inode, size and
    /// mtime; if a rewrite happens to keep all three, padding makes it differ.
    pub fn set(&self, config: &str) {
        let path = self.dir.path().join("fake-nvml.conf");
        let tmp = self.dir.path().join("fake-nvml.conf.tmp");
        let mut last = self.last.lock().unwrap();
        let mut text = config.to_owned();
        loop {
            std::fs::write(&tmp, &text).expect("write fake NVML config");
            std::fs::rename(&tmp, &path).expect("install fake NVML config");
            let m = std::fs::metadata(&path).unwrap();
            let id = (m.ino(), m.size(), m.mtime(), m.mtime_nsec());
            if *last != Some(id) {
                *last = Some(id);
                break;
            }
            text.push_str("\n#");
        }
        self.reload();
    }

    /// How many times `nvmlInit_v2` of this copy was called (the fake counts them in a
    /// file beside its control file: a failed init unloads the library).
    pub fn init_calls(&self) -> usize {
        let counter = self.library().with_file_name("init-calls");
        std::fs::read(counter).map_or(0, |calls| calls.len())
    }

    /// Tells the driver, if this process loaded it, to read its control file at its next
    /// call (otherwise it looks at most once a millisecond).
    fn reload(&self) {
        let Ok(path) = std::ffi::CString::new(self.library().into_os_string().into_encoded_bytes())
        else {
            return;
        };
        // SAFETY: RTLD_NOLOAD only looks the library up among those already loaded (no
        // initialiser runs); the symbol is the fake's own `void fake_nvml_reload(void)`, which
        // only sets a flag; the handle is released after.
        unsafe {
            let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if handle.is_null() {
                return;
            }
            let symbol = libc::dlsym(handle, c"fake_nvml_reload".as_ptr());
            if !symbol.is_null() {
                let reload: extern "C" fn() = std::mem::transmute(symbol);
                reload();
            }
            libc::dlclose(handle);
        }
    }
}

/// Which build of the fake driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Every symbol.
    Complete,
    /// No `nvmlShutdown` (nvml-wrapper's `Drop` would panic on it).
    NoShutdown,
    /// No `nvmlDeviceGetMemoryInfo_v2` (an old driver).
    NoMemoryInfoV2,
    /// No GPM functions (a driver older than GPM).
    NoGpm,
}

impl Variant {
    fn define(self) -> Option<&'static str> {
        match self {
            Variant::Complete => None,
            Variant::NoShutdown => Some("FAKE_NVML_OMIT_SHUTDOWN"),
            Variant::NoMemoryInfoV2 => Some("FAKE_NVML_OMIT_MEMORY_INFO_V2"),
            Variant::NoGpm => Some("FAKE_NVML_OMIT_GPM"),
        }
    }
}

/// Compiles a variant of the fake once for this test binary and returns the library's path.
fn compiled(variant: Variant) -> &'static Path {
    static LIBS: [OnceLock<PathBuf>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    LIBS[variant as usize].get_or_init(|| {
        let root = Path::new(ROOT);
        let include = std::env::var_os("NVML_INCLUDE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/nvml-include"));
        if !include.join("nvml.h").exists() {
            let status = Command::new(root.join("scripts/fetch-nvml-header.sh"))
                .status()
                .expect("run scripts/fetch-nvml-header.sh");
            assert!(
                status.success() && include.join("nvml.h").exists(),
                "NVIDIA's nvml.h is needed to build the fake NVML driver: run \
                 scripts/fetch-nvml-header.sh (pip package nvidia-nvml-dev-cu12) or set \
                 NVML_INCLUDE_DIR"
            );
        }
        let out_dir = root.join("target/fake-nvml");
        std::fs::create_dir_all(&out_dir).unwrap();
        let name = variant.define().unwrap_or("complete").to_lowercase();
        let out = out_dir.join(format!("libfake_nvml.{name}.so"));
        let tmp = out_dir.join(format!("libfake_nvml.{name}.{}.so", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
        let output = Command::new(&cc)
            .args([
                "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
            ])
            .args(variant.define().map(|d| format!("-D{d}")))
            .arg("-I")
            .arg(&include)
            .arg(root.join("tests/fake_nvml/fake_nvml.c"))
            .arg("-o")
            .arg(&tmp)
            .arg("-lpthread")
            .output()
            .unwrap_or_else(|e| panic!("run the C compiler {cc:?}: {e}"));
        assert!(
            output.status.success(),
            "compiling the fake NVML driver failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
}

/// What each call costs on a real NVIDIA H200 (`tests/fake_nvml/h200-costs.conf`), as control
/// file lines: append them to a configuration wherever cost matters.
pub fn h200_costs() -> &'static str {
    include_str!("../fake_nvml/h200-costs.conf")
}

/// `n` H200s with every figure set (GPM too), at the H200's measured call costs; this
/// process uses memory on each and runs on each all along.
pub fn h200s(n: usize) -> String {
    let list: Vec<Gpu> = (0..n)
        .map(|i| {
            let mut g = Gpu::new(i, H200_UUIDS[i], H200_PCI[i]);
            g.name = "NVIDIA H200";
            g.memory_total = 141 * GIB;
            // GPM as under a bf16 matmul, and this process running on it all along.
            g.extra = format!(
                "gpu.{i}.gpm=1\ngpu.{i}.gpm.2=95.8\ngpu.{i}.gpm.3=14.2\ngpu.{i}.gpm.5=93.0\n\
                 gpu.{i}.gpm.7=93.0\ngpu.{i}.gpm.10=17.9\ngpu.{i}.gpm.12=0\n\
                 gpu.{i}.process_utilization=self:77:20:100\n\
                 gpu.{i}.process_utilization.live=1\n"
            );
            g
        })
        .collect();
    format!("{}{}", gpus(&list), h200_costs())
}

const H200_UUIDS: [&str; 8] = [
    "GPU-a0000000-0000-4000-8000-000000000000",
    "GPU-a1111111-1111-4000-8000-000000000001",
    "GPU-a2222222-2222-4000-8000-000000000002",
    "GPU-a3333333-3333-4000-8000-000000000003",
    "GPU-a4444444-4444-4000-8000-000000000004",
    "GPU-a5555555-5555-4000-8000-000000000005",
    "GPU-a6666666-6666-4000-8000-000000000006",
    "GPU-a7777777-7777-4000-8000-000000000007",
];
const H200_PCI: [&str; 8] = [
    "0000:18:00.0",
    "0000:2a:00.0",
    "0000:3a:00.0",
    "0000:5d:00.0",
    "0000:9a:00.0",
    "0000:ab:00.0",
    "0000:ba:00.0",
    "0000:db:00.0",
];

/// Two H100s with every figure set; this process uses memory on both.
pub fn two_gpus() -> String {
    gpus(&[
        Gpu::new(
            0,
            "GPU-11111111-aaaa-4000-8000-000000000001",
            "0000:01:00.0",
        ),
        Gpu::new(
            1,
            "GPU-22222222-bbbb-4000-8000-000000000002",
            "0000:41:00.0",
        ),
    ])
}

/// Figures of one fake GPU; `config()` renders them.
#[derive(Clone, Debug)]
pub struct Gpu {
    pub i: usize,
    pub uuid: &'static str,
    pub pci: &'static str,
    pub name: &'static str,
    pub memory_total: u64,
    pub memory_used: u64,
    pub memory_reserved: u64,
    pub utilization_gpu: u32,
    pub utilization_memory: u32,
    pub temperature: u32,
    pub power_mw: u32,
    pub energy_mj: Option<u64>,
    pub compute: String,
    pub graphics: String,
    /// Clocks, limits, thresholds, state, fans and health (issue 18): `key=value` lines of
    /// the control file without the `gpu.<i>.` prefix, e.g. `clock_sm=1980`.
    pub condition: Vec<(String, String)>,
    pub extra: String,
}

/// The condition figures of a healthy H100 SXM (no fan), as the fake's control keys.
pub fn healthy_condition() -> Vec<(String, String)> {
    [
        ("clock_sm", "1980"),
        ("clock_memory", "2619"),
        ("temperature_slowdown", "90"),
        ("temperature_shutdown", "95"),
        ("temperature_gpu_max", "87"),
        ("pstate", "0"),
        ("num_fans", "0"),
        ("clock_event_reasons", "0"),
        ("encoder_util", "0"),
        ("decoder_util", "0"),
        ("field.31", "0"),
        ("field.190", "700000"),
        ("field.74", "0"),
        ("field.251", "0"),
        ("field.252", "0"),
        ("field.253", "0"),
        ("field.197", "1000000"),
        ("field.198", "2000000"),
        ("field.3", "0"),
        ("field.4", "0"),
        ("field.142", "0"),
        ("field.143", "0"),
        ("field.144", "0"),
        ("field.145", "0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub const GIB: u64 = 1 << 30;
pub const MIB: u64 = 1 << 20;

impl Gpu {
    pub fn new(i: usize, uuid: &'static str, pci: &'static str) -> Self {
        Self {
            i,
            uuid,
            pci,
            name: "NVIDIA H100 80GB HBM3",
            memory_total: 80 * GIB,
            memory_used: (10 + 10 * i as u64) * GIB,
            memory_reserved: 512 * MIB,
            utilization_gpu: 40 + 10 * i as u32,
            utilization_memory: 20 + 5 * i as u32,
            temperature: 50 + i as u32,
            power_mw: 300_000 + 1_000 * i as u32,
            energy_mj: Some(1_000_000 * (i as u64 + 1)),
            compute: format!("self:{},4242:{}", (i as u64 + 1) * GIB, 5 * GIB),
            graphics: String::new(),
            condition: healthy_condition(),
            extra: String::new(),
        }
    }

    /// Sets one condition key (`clock_sm`, `field.74`, ...), replacing its value.
    pub fn set(&mut self, key: &str, value: impl ToString) -> &mut Self {
        self.condition.retain(|(k, _)| k != key);
        self.condition.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn config(&self) -> String {
        let i = self.i;
        let mut s = format!(
            "gpu.{i}.name={}\ngpu.{i}.uuid={}\ngpu.{i}.pci_bus_id={}\ngpu.{i}.memory_total={}\n\
             gpu.{i}.memory_used={}\ngpu.{i}.memory_reserved={}\ngpu.{i}.utilization_gpu={}\n\
             gpu.{i}.utilization_memory={}\ngpu.{i}.temperature={}\ngpu.{i}.power_mw={}\n\
             gpu.{i}.compute_processes={}\ngpu.{i}.graphics_processes={}\ngpu.{i}.mig_current=0\n",
            self.name,
            self.uuid,
            self.pci,
            self.memory_total,
            self.memory_used,
            self.memory_reserved,
            self.utilization_gpu,
            self.utilization_memory,
            self.temperature,
            self.power_mw,
            self.compute,
            self.graphics,
        );
        if let Some(e) = self.energy_mj {
            s.push_str(&format!("gpu.{i}.energy_mj={e}\n"));
        }
        for (k, v) in &self.condition {
            s.push_str(&format!("gpu.{i}.{k}={v}\n"));
        }
        s.push_str(&self.extra);
        s
    }
}

/// A whole control file: driver versions plus these GPUs.
pub fn gpus(gpus: &[Gpu]) -> String {
    let mut s = String::from("driver_version=550.54.15\ncuda_driver_version=12040\n");
    for g in gpus {
        s.push_str(&g.config());
    }
    s
}
