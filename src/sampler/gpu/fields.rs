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
        let reason = match result {
            Ok(value) => return Some(value),
            Err(NvmlError::GpuLost) => {
                self.lost = true;
                return None;
            }
            Err(
                NvmlError::NotSupported
                | NvmlError::FunctionNotFound
                | NvmlError::FailedToLoadSymbol(_),
            ) => MissingReason::NotSupported,
            Err(NvmlError::NoPermission) => {
                self.warn(field, "no permission");
                MissingReason::NoPermission
            }
            Err(err) => {
                let text = err.to_string();
                self.warn(field, &text);
                MissingReason::Failed(text.into())
            }
        };
        self.missing(field, reason);
        None
    }

    pub(super) fn missing(&mut self, field: GpuField, reason: MissingReason) {
        self.sample.missing.push(MissingField { field, reason });
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
