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

/// Where one field's value goes: `None` when it is no value the figure can have (a
/// negative or non-finite count), and then it goes nowhere.
type Setter = fn(&mut GpuCondition, SampleValue) -> Option<()>;

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
            c.throttled_time.power_cap = Some(amount(v)? / 1e9);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_SW_THERM_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| {
            c.throttled_time.sw_thermal = Some(amount(v)? / 1e9);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_THERM_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| {
            c.throttled_time.hw_thermal = Some(amount(v)? / 1e9);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_CLOCKS_EVENT_REASON_HW_POWER_BRAKE_SLOWDOWN,
        GpuField::ThrottledTime,
        |c, v| {
            c.throttled_time.power_brake = Some(amount(v)? / 1e9);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_PCIE_COUNT_RX_BYTES,
        GpuField::PcieBytes,
        |c, v| {
            c.pcie_rx_bytes = Some(unsigned(v)?);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_PCIE_COUNT_TX_BYTES,
        GpuField::PcieBytes,
        |c, v| {
            c.pcie_tx_bytes = Some(unsigned(v)?);
            Some(())
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
            c.power_limit = Some(amount(v)? / 1e3);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_ECC_SBE_VOL_TOTAL,
        GpuField::EccErrors,
        |c, v| {
            c.ecc_corrected = Some(unsigned(v)?);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_ECC_DBE_VOL_TOTAL,
        GpuField::EccErrors,
        |c, v| {
            c.ecc_uncorrected = Some(unsigned(v)?);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_COR,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_corrected = Some(unsigned(v)?);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_UNC,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_uncorrected = Some(unsigned(v)?);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_PENDING,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_pending = Some(unsigned(v)? != 0);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_REMAPPED_FAILURE,
        GpuField::RemappedRows,
        |c, v| {
            c.remapped_rows_failure = Some(unsigned(v)? != 0);
            Some(())
        },
    ),
    (
        id::NVML_FI_DEV_RETIRED_PENDING,
        GpuField::RetiredPages,
        |c, v| {
            c.retired_pages_pending = Some(unsigned(v)? != 0);
            Some(())
        },
    ),
];

/// A value as a float: `None` when it is not finite.
fn float(v: SampleValue) -> Option<f64> {
    let f = match v {
        SampleValue::F64(f) => f,
        SampleValue::U32(u) => f64::from(u),
        SampleValue::U64(u) => u as f64,
        SampleValue::I64(i) => i as f64,
    };
    f.is_finite().then_some(f)
}

/// A time, a count or a limit as a float: `None` when negative or not finite.
fn amount(v: SampleValue) -> Option<f64> {
    float(v).filter(|f| *f >= 0.0)
}

/// A count: `None` when negative, not finite or past `u64::MAX` (a float is cut to a whole
/// number).
fn unsigned(v: SampleValue) -> Option<u64> {
    match v {
        // Below 2^64 every float fits; NaN and the infinities are outside.
        SampleValue::F64(f) => (0.0..18_446_744_073_709_551_616.0)
            .contains(&f)
            .then_some(f as u64),
        SampleValue::U32(u) => Some(u64::from(u)),
        SampleValue::U64(u) => Some(u),
        SampleValue::I64(i) => u64::try_from(i).ok(),
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
    let mut implausible: Vec<(GpuField, u32, SampleValue)> = Vec::new();
    let mut answered: Vec<GpuField> = Vec::new();
    for ((id, field, set), answer) in batch.iter().zip(answers) {
        match answer.and_then(|a| a.value) {
            Ok(v) => match set(&mut reader.sample.condition, v.clone()) {
                Some(()) => answered.push(*field),
                None => implausible.push((*field, *id, v)),
            },
            Err(err) => failed.push((*field, err)),
        }
    }
    let already = |reader: &FieldReader<'_>, field: GpuField| {
        answered.contains(&field) || reader.sample.missing.iter().any(|m| m.field == field)
    };
    for (field, id, v) in implausible {
        if !already(reader, field) {
            super::devices::implausible(reader, field, format!("field {id} answers {v:?}"));
        }
    }
    for (field, err) in failed {
        if !already(reader, field) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = SampleValue> {
        prop_oneof![
            any::<f64>().prop_map(SampleValue::F64),
            prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(-1.0),
                Just(1.9e19)
            ]
            .prop_map(SampleValue::F64),
            any::<u32>().prop_map(SampleValue::U32),
            any::<u64>().prop_map(SampleValue::U64),
            any::<i64>().prop_map(SampleValue::I64),
        ]
    }

    /// Every figure a batch sets, as floats.
    fn figures(c: &GpuCondition) -> Vec<f64> {
        let t = &c.throttled_time;
        let counts = [
            c.pcie_rx_bytes,
            c.pcie_tx_bytes,
            c.ecc_corrected,
            c.ecc_uncorrected,
            c.remapped_rows_corrected,
            c.remapped_rows_uncorrected,
        ];
        [
            t.power_cap,
            t.sw_thermal,
            t.hw_thermal,
            t.power_brake,
            c.power_limit,
        ]
        .into_iter()
        .flatten()
        .chain(counts.into_iter().flatten().map(|n| n as f64))
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any value in any field's slot sets a finite, non-negative figure, or none (the
        /// value is implausible), never a panic.
        #[test]
        fn any_field_value_sets_a_plausible_figure_or_none(
            k in 0..COUNTERS.len() + HEALTH.len(),
            v in value(),
        ) {
            let (_, _, set) = COUNTERS.iter().chain(HEALTH.iter()).nth(k).copied().unwrap();
            let mut c = GpuCondition::default();
            let set_any = set(&mut c, v.clone()).is_some();
            let got = figures(&c);
            if set_any {
                prop_assert!(got.iter().all(|f| f.is_finite() && *f >= 0.0), "{v:?}: {got:?}");
            } else {
                prop_assert!(got.is_empty(), "{v:?} set {got:?}");
            }
        }
    }

    #[test]
    fn a_negative_count_is_no_figure_never_0() {
        assert_eq!(unsigned(SampleValue::I64(-3)), None);
        assert_eq!(unsigned(SampleValue::F64(f64::NAN)), None);
        assert_eq!(unsigned(SampleValue::F64(2.0e19)), None);
        assert_eq!(unsigned(SampleValue::F64(7.0)), Some(7));
        assert_eq!(amount(SampleValue::F64(-1.0)), None);
        assert_eq!(amount(SampleValue::F64(f64::INFINITY)), None);
    }
}
