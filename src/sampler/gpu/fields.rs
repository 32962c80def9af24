//! Reading one device's figures: each field's result is a value, or why it is missing.

use nvml_wrapper::error::NvmlError;

use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{GpuField, GpuSample, MissingField, MissingReason};

/// Records each field's result on the sample: a value, or why it is missing.
pub(super) struct FieldReader<'a> {
    pub(super) sample: &'a mut GpuSample,
    pub(super) warnings: &'a mut Warnings,
    pub(super) lost: bool,
}

impl FieldReader<'_> {
    pub(super) fn read<T>(&mut self, field: GpuField, result: Result<T, NvmlError>) -> Option<T> {
        let err = match result {
            Ok(value) => return Some(value),
            Err(err) => err,
        };
        if let Some(reason) = self.reason(err) {
            if let MissingReason::NoPermission = reason {
                self.warn(field, "no permission");
            } else if let MissingReason::Failed(text) = &reason {
                let text = text.clone();
                self.warn(field, &text);
            }
            self.missing(field, reason);
        }
        None
    }

    /// Why a figure is missing after this error; `None` when the device is lost (then the
    /// whole sample is the lost device's).
    pub(super) fn reason(&mut self, err: NvmlError) -> Option<MissingReason> {
        Some(match err {
            NvmlError::GpuLost => {
                self.lost = true;
                return None;
            }
            NvmlError::NotSupported
            | NvmlError::FunctionNotFound
            | NvmlError::FailedToLoadSymbol(_) => MissingReason::NotSupported,
            NvmlError::NoPermission => MissingReason::NoPermission,
            err => MissingReason::Failed(err.to_string().into()),
        })
    }

    /// Records why `field` is missing; a group of figures read by several calls (the
    /// clocks, the thresholds) is recorded once, with its first reason.
    pub(super) fn missing(&mut self, field: GpuField, reason: MissingReason) {
        if !self.sample.missing.iter().any(|m| m.field == field) {
            self.sample.missing.push(MissingField { field, reason });
        }
    }

    fn warn(&mut self, field: GpuField, why: &str) {
        let uuid = self.sample.uuid.clone();
        self.warnings.raise(
            WarningKind::FieldFailed,
            Some(&uuid),
            field.as_str(),
            || format!("GPU {uuid}: cannot read {}: {why}", field.as_str()),
        );
    }
}
