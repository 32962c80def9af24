//! The static tier: what a device gives once (its temperature thresholds, its number of
//! fans, its MIG mode, whether it gives GPM), read when NVML starts and again when it restarts, and put into every
//! pass's sample from here. The one home of these figures: the inventory copies the MIG mode.

use nvml_wrapper::enum_wrappers::device::TemperatureThreshold;
use nvml_wrapper::Device;

use super::activity::{gpm_support, GpmSupport};
use super::fields::FieldReader;
use crate::snapshot::{GpuField, GpuTier, MissingField};

/// What a device gives once: its temperature thresholds, its number of fans and its MIG
/// mode, read when NVML starts (and again when it restarts).
#[derive(Debug, Clone)]
pub(super) struct Statics {
    slowdown: Option<f64>,
    shutdown: Option<f64>,
    gpu_max: Option<f64>,
    fans: Option<u32>,
    mig_enabled: Option<bool>,
    /// Whether the device gives GPM, or why not.
    gpm: GpmSupport,
    missing: Vec<MissingField>,
    /// When they were read.
    pub(super) read_at: Option<std::time::Instant>,
}

impl Default for Statics {
    fn default() -> Self {
        Self {
            slowdown: None,
            shutdown: None,
            gpu_max: None,
            fans: None,
            mig_enabled: None,
            gpm: GpmSupport::UNKNOWN,
            missing: Vec::new(),
            read_at: None,
        }
    }
}

impl Statics {
    /// Whether the device gives GPM, or why not.
    pub(super) fn gpm(&self) -> &GpmSupport {
        &self.gpm
    }

    /// The MIG mode as read with the statics (the inventory's copy comes from here).
    pub(super) fn mig_enabled(&self) -> Option<bool> {
        self.mig_enabled
    }

    /// Puts the statics into a pass's sample: their values, the reasons of the ones
    /// missing, and when they were read.
    pub(super) fn apply(&self, reader: &mut FieldReader<'_>) {
        reader.sample.missing.extend(self.missing.iter().cloned());
        reader.sample.mig_enabled = self.mig_enabled;
        if let Some(at) = self.read_at {
            reader.sample.reads.set(GpuTier::Static, at, false);
        }
        let c = &mut reader.sample.condition;
        c.temperature_slowdown = self.slowdown;
        c.temperature_shutdown = self.shutdown;
        c.temperature_gpu_max = self.gpu_max;
    }

    /// How many fans the board has (0: none, so no fan speed).
    pub(super) fn fans(&self) -> Option<u32> {
        self.fans
    }
}

/// What `device` gives once. The reasons of what is missing are kept and added to every
/// pass's sample.
pub(super) fn read_statics(device: &Device<'_>, reader: &mut FieldReader<'_>) -> Statics {
    let before = reader.sample.missing.len();
    let threshold = |reader: &mut FieldReader<'_>, t| {
        reader
            .get(
                GpuField::TemperatureThresholds,
                "nvmlDeviceGetTemperatureThreshold",
                || device.temperature_threshold(t),
            )
            .map(f64::from)
    };
    let slowdown = threshold(reader, TemperatureThreshold::Slowdown);
    let shutdown = threshold(reader, TemperatureThreshold::Shutdown);
    let gpu_max = threshold(reader, TemperatureThreshold::GpuMax);
    let fans = reader.get(GpuField::FanSpeed, "nvmlDeviceGetNumFans", || {
        device.num_fans()
    });
    let mig_enabled = reader
        .get(GpuField::MigMode, "nvmlDeviceGetMigMode", || {
            device.mig_mode()
        })
        .map(|m| m.current == 1);
    let gpm = gpm_support(device, mig_enabled, reader);
    let missing: Vec<MissingField> = reader.sample.missing.drain(before..).collect();
    Statics {
        slowdown,
        shutdown,
        gpu_max,
        fans,
        mig_enabled,
        gpm,
        missing,
        read_at: Some(std::time::Instant::now()),
    }
}
