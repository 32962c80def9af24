//! The field-value batches: several figures in one `nvmlDeviceGetFieldValues` call, read by
//! the slow tiers (`tiers.rs`): the throttle-time and PCIe counters (the counters tier), and
//! the power limit, ECC errors, remapped rows and retired pages (the health tier). Each field
//! answers on its own.

use nvml_wrapper::enums::device::SampleValue;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::struct_wrappers::device::FieldValueSample;
use nvml_wrapper::structs::device::FieldId;
use nvml_wrapper::sys_exports::field_id as id;
use nvml_wrapper::Device;

use super::fields::FieldReader;
use crate::snapshot::{GpuCondition, GpuField};

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
