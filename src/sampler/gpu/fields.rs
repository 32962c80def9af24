//! Reading one device's figures: each driver call timed, and each field's result a value or
//! why it is missing.

use std::time::Instant;

use nvml_wrapper::error::NvmlError;

use crate::sampler::costs::Costs;
use crate::sampler::warning::{WarningKind, Warnings};
use crate::snapshot::{GpuField, GpuSample, GpuTier, MissingField, MissingReason};

/// Records each field's result on the sample: a value, or why it is missing.
pub(super) struct FieldReader<'a> {
    pub(super) sample: &'a mut GpuSample,
    pub(super) warnings: &'a mut Warnings,
    pub(super) costs: &'a mut Costs,
    /// The tier being read, for the cost of its calls.
    pub(super) tier: GpuTier,
    pub(super) lost: bool,
}

impl FieldReader<'_> {
    /// Makes one driver call, timed.
    pub(super) fn call<T>(
        &mut self,
        function: &'static str,
        call: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Result<T, NvmlError> {
        let started = Instant::now();
        let result = crate::sampler::in_flight::call(function, Some(self.sample.index), call);
        self.costs.call(function, self.tier, started.elapsed());
        result
    }

    /// Makes one driver call, timed, and records its result for `field`.
    pub(super) fn get<T>(
        &mut self,
        field: GpuField,
        function: &'static str,
        call: impl FnOnce() -> Result<T, NvmlError>,
    ) -> Option<T> {
        let result = self.call(function, call);
        self.read(field, result)
    }

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
