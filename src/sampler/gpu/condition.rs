//! The figures that explain a slow or failing GPU (`GpuSample::condition`), in as few driver
//! calls as NVML allows: the thresholds, the fan count and the MIG mode once per device (the
//! statics); every pass the clocks, performance state, fan speed (where the board has a fan),
//! clock-event reasons, encoder and decoder use (the fast tier, 6 cheap calls); and two
//! field-value batches read by their own tiers (`tiers.rs`): the throttle-time and PCIe
//! counters, and the power limit, ECC errors, remapped rows and retired pages.

use nvml_wrapper::enum_wrappers::device::{Clock, PerformanceState, TemperatureThreshold};
use nvml_wrapper::enums::device::SampleValue;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::FieldValueSample;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::sys_exports::field_id as id;
use nvml_wrapper::Device;

use super::fields::FieldReader;
use crate::snapshot::{ClockEventReasons, GpuCondition, GpuField, GpuTier, MissingField};

/// What a device gives once: its temperature thresholds, its number of fans and its MIG
/// mode, read when NVML starts (and again when it restarts).
#[derive(Debug, Clone, Default)]
pub(super) struct Statics {
    slowdown: Option<f64>,
    shutdown: Option<f64>,
    gpu_max: Option<f64>,
    fans: Option<u32>,
    mig_enabled: Option<bool>,
    missing: Vec<MissingField>,
    /// When they were read.
    pub(super) read_at: Option<std::time::Instant>,
}

impl Statics {
    /// The MIG mode as read with the statics (the inventory's copy comes from here).
    pub(super) fn mig_enabled(&self) -> Option<bool> {
        self.mig_enabled
    }
}

/// Where one field's value goes.
type Setter = fn(&mut GpuCondition, SampleValue);

/// One field of a field-value batch: its id, the figure it belongs to, and where its value
/// goes.
type BatchField = (u32, GpuField, Setter);

/// The counters tier's batch: the time throttled by cause and the PCIe byte counters. On an
/// H200 the hardware-thermal and power-brake fields cost about 0.65 ms each, the PCIe
/// counters 0.16 ms each.
pub(super) const COUNTERS: [BatchField; 6] = [
    (
        id::NVML_FI_DEV_PERF_POLICY_POWER,
        GpuField::ThrottledTime,
        |c, v| {
            c.throttled_time.power_cap = Some(float(v) / 1e9);
        },
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| c.throttled_time.sw_thermal = Some(float(v) / 1e9),
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| c.throttled_time.hw_thermal = Some(float(v) / 1e9),
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| c.throttled_time.power_brake = Some(float(v) / 1e9),
    ),
    (
        id::NVML_FI_DEV_PCIE_COUNT_RX_BYTES,
        GpuField::PcieBytes,
        |c, v| {
            c.pcie_rx_bytes = Some(unsigned(v));
        },
    ),
    (
        id::NVML_FI_DEV_PCIE_COUNT_TX_BYTES,
        GpuField::PcieBytes,
        |c, v| {
            c.pcie_tx_bytes = Some(unsigned(v));
        },
    ),
];

/// The health tier's batch: the power limit, ECC errors, remapped rows and retired pages
/// (about 5 µs a field).
pub(super) const HEALTH: [BatchField; 8] = [
    (
        id::NVML_FI_DEV_POWER_CURRENT_LIMIT,
        GpuField::PowerLimit,
        |c, v| {
            c.power_limit = Some(float(v) / 1e3);
        },
    ),
    (
        id::NVML_FI_DEV_ECC_SBE_VOL_TOTAL,
        GpuField::EccErrors,
        |c, v| {
            c.ecc_corrected = Some(unsigned(v));
        },
    ),
    (
        id::NVML_FI_DEV_ECC_DBE_VOL_TOTAL,
        GpuField::EccErrors,
        |c, v| {
            c.ecc_uncorrected = Some(unsigned(v));
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_COR,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_corrected = Some(unsigned(v));
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_UNC,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_uncorrected = Some(unsigned(v));
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_PENDING,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_pending = Some(unsigned(v) != 0);
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_FAILURE,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_failure = Some(unsigned(v) != 0);
        },
    ),
    (
        id::NVML_FI_DEV_RETIRED_PENDING,
        GpuField::RetiredPages,
        |c, v| {
            c.retired_pages_pending = Some(unsigned(v) != 0);
        },
    ),
];

fn float(v: SampleValue) -> f64 {
    match v {
        SampleValue::F64(f) => f,
        SampleValue::U32(u) => f64::from(u),
        SampleValue::U64(u) => u as f64,
        SampleValue::I64(i) => i as f64,
    }
}

fn unsigned(v: SampleValue) -> u64 {
    match v {
        SampleValue::F64(f) => f.max(0.0) as u64,
        SampleValue::U32(u) => u64::from(u),
        SampleValue::U64(u) => u,
        SampleValue::I64(i) => u64::try_from(i).unwrap_or(0),
    }
}

/// Reads the fast tier's condition figures of `device` into the reader's sample, with the
/// statics read at start.
pub(super) fn read_fast(device: &Device<'_>, reader: &mut FieldReader<'_>, statics: &Statics) {
    reader
        .sample
        .missing
        .extend(statics.missing.iter().cloned());
    reader.sample.mig_enabled = statics.mig_enabled;
    if let Some(at) = statics.read_at {
        reader.sample.reads.set(GpuTier::Static, at, false);
    }
    let c = &mut reader.sample.condition;
    c.temperature_slowdown = statics.slowdown;
    c.temperature_shutdown = statics.shutdown;
    c.temperature_gpu_max = statics.gpu_max;

    let sm = reader.get(GpuField::Clocks, "nvmlDeviceGetClockInfo", || {
        device.clock_info(Clock::SM)
    });
    let memory = reader.get(GpuField::Clocks, "nvmlDeviceGetClockInfo", || {
        device.clock_info(Clock::Memory)
    });
    reader.sample.condition.clock_sm_mhz = sm;
    reader.sample.condition.clock_memory_mhz = memory;
    let state = reader.get(
        GpuField::PerformanceState,
        "nvmlDeviceGetPerformanceState",
        || device.performance_state(),
    );
    reader.sample.condition.performance_state = state.and_then(pstate);
    if let (Some(_), None) = (state, reader.sample.condition.performance_state) {
        reader.missing(
            GpuField::PerformanceState,
            crate::snapshot::MissingReason::NotSupported,
        );
    }
    match statics.fans {
        Some(0) => reader.missing(
            GpuField::FanSpeed,
            crate::snapshot::MissingReason::NotSupported,
        ),
        Some(_) => {
            reader.sample.condition.fan_speed = reader
                .get(GpuField::FanSpeed, "nvmlDeviceGetFanSpeed_v2", || {
                    device.fan_speed(0)
                })
                .map(|p| f64::from(p) / 100.0);
        }
        None => {}
    }
    reader.sample.condition.clock_event_reasons = reader
        .get(
            GpuField::ClockEventReasons,
            "nvmlDeviceGetCurrentClocksEventReasons",
            || device.current_throttle_reasons(),
        )
        .map(|r| ClockEventReasons(r.bits()));
    reader.sample.condition.encoder_utilization = reader
        .get(
            GpuField::EncoderUtilization,
            "nvmlDeviceGetEncoderUtilization",
            || device.encoder_utilization(),
        )
        .map(|u| f64::from(u.utilization) / 100.0);
    reader.sample.condition.decoder_utilization = reader
        .get(
            GpuField::DecoderUtilization,
            "nvmlDeviceGetDecoderUtilization",
            || device.decoder_utilization(),
        )
        .map(|u| f64::from(u.utilization) / 100.0);
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
    let missing: Vec<MissingField> = reader.sample.missing.drain(before..).collect();
    Statics {
        slowdown,
        shutdown,
        gpu_max,
        fans,
        mig_enabled,
        missing,
        read_at: Some(std::time::Instant::now()),
    }
}

fn pstate(p: PerformanceState) -> Option<u8> {
    use PerformanceState::*;
    Some(match p {
        Zero => 0,
        One => 1,
        Two => 2,
        Three => 3,
        Four => 4,
        Five => 5,
        Six => 6,
        Seven => 7,
        Eight => 8,
        Nine => 9,
        Ten => 10,
        Eleven => 11,
        Twelve => 12,
        Thirteen => 13,
        Fourteen => 14,
        Fifteen => 15,
        Unknown => return None,
    })
}

/// One field-value batch in one call; each field answers on its own, and a figure whose
/// every field failed is missing once, with the first failure's reason.
pub(super) fn read_batch(device: &Device<'_>, reader: &mut FieldReader<'_>, batch: &[BatchField]) {
    let ids: Vec<FieldId> = batch.iter().map(|(id, _, _)| FieldId(*id)).collect();
    let answers = reader.call("nvmlDeviceGetFieldValues", || device.field_values_for(&ids));
    let answers: Vec<Result<FieldValueSample, NvmlError>> = match answers {
        Ok(answers) => answers,
        Err(err) => {
            let reason = reader.reason(err);
            for field in distinct_fields(batch) {
                if let Some(reason) = &reason {
                    reader.missing(field, reason.clone());
                }
            }
            return;
        }
    };
    let mut failed: Vec<(GpuField, NvmlError)> = Vec::new();
    let mut answered: Vec<GpuField> = Vec::new();
    for ((_, field, set), answer) in batch.iter().zip(answers) {
        match answer.and_then(|a| a.value) {
            Ok(v) => {
                set(&mut reader.sample.condition, v);
                answered.push(*field);
            }
            Err(err) => failed.push((*field, err)),
        }
    }
    for (field, err) in failed {
        let already =
            answered.contains(&field) || reader.sample.missing.iter().any(|m| m.field == field);
        if !already {
            let _ = reader.read::<()>(field, Err(err));
        }
    }
}

/// The figures a batch reads, each once.
fn distinct_fields(batch: &[BatchField]) -> Vec<GpuField> {
    let mut fields: Vec<GpuField> = batch.iter().map(|(_, field, _)| *field).collect();
    fields.dedup();
    fields
}
