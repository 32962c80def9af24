//! Warnings the sampler raises: each one once per sampler, delivered from the sampler thread.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Something the sampler could not read, reported once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// What kind of problem this is.
    pub kind: WarningKind,
    /// The device it concerns (UUID), if any.
    pub device: Option<Arc<str>>,
    /// A sentence for a human.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WarningKind {
    /// There is no GPU data at all; [`GpuStatus`](crate::snapshot::GpuStatus) says why.
    GpuUnavailable,
    /// `CUDA_VISIBLE_DEVICES` has an entry that names no device; later entries are ignored.
    VisibleDevices,
    /// A device fell off the bus or stopped answering.
    DeviceLost,
    /// A device stopped answering for another reason.
    DeviceError,
    /// One GPU figure could not be read (not merely unsupported).
    FieldFailed,
    /// A host or process figure could not be read.
    HostFailed,
    /// A driver call has not returned for longer than three intervals (at least 1 s), or the
    /// GPU thread was
    /// left behind in one at shutdown; the message names the call, its GPU and for how long.
    DriverHung,
    /// A pass (or a GPU read) panicked; it was skipped and the next pass ran.
    Panicked,
    /// This process's GPU memory cannot be told in its PID namespace (see
    /// [`MissingReason::PidNamespace`](crate::snapshot::MissingReason::PidNamespace)).
    PidNamespace,
    /// The visible GPUs differ in model and `CUDA_DEVICE_ORDER` is not `PCI_BUS_ID`: the
    /// ordinals here are PCI order and may not be the application's `cuda:N`.
    CudaDeviceOrder,
}

/// Where warnings go. The default writes to the `tracing` dispatcher when one is installed and
/// to stderr otherwise.
pub type WarningSink = Arc<dyn Fn(&Warning) + Send + Sync>;

pub(crate) fn default_sink() -> WarningSink {
    Arc::new(|warning: &Warning| {
        // Runs on the sampler thread: only a global subscriber can receive it there.
        let global =
            tracing::dispatcher::get_default(|d| !d.is::<tracing_core::subscriber::NoSubscriber>());
        if global {
            tracing::warn!(target: "otel_resmon", kind = ?warning.kind, "{}", warning.message);
        } else {
            eprintln!("otel-resmon: warning: {}", warning.message);
        }
    })
}

/// Collects warnings during a pass, dropping repeats. The pass thread delivers them (the GPU
/// thread's too) after the pass, so no warning is ever emitted from a caller's thread (which may be inside a
/// `tracing` layer callback).
#[derive(Default)]
pub(crate) struct Warnings {
    seen: HashSet<(WarningKind, Option<Arc<str>>, String)>,
    pending: Vec<Warning>,
    /// Every distinct warning so far, oldest first, at most `KEPT`.
    pub(crate) kept: Vec<Warning>,
}

impl Warnings {
    const KEPT: usize = 64;

    /// Raises a warning unless one with the same kind, device and key was raised before.
    pub(crate) fn raise(
        &mut self,
        kind: WarningKind,
        device: Option<&Arc<str>>,
        key: &str,
        message: impl FnOnce() -> String,
    ) {
        let id = (kind, device.cloned(), key.to_owned());
        if self.seen.contains(&id) {
            return;
        }
        self.seen.insert(id);
        let warning = Warning {
            kind,
            device: device.cloned(),
            message: message(),
        };
        if self.kept.len() < Self::KEPT {
            self.kept.push(warning.clone());
        }
        self.pending.push(warning);
    }

    /// Raises what another collector raised (a slow read, the GPU thread), each still once.
    #[cfg(feature = "nvml")]
    pub(crate) fn absorb(&mut self, other: Warnings) {
        self.absorb_list(other.pending);
    }

    /// Raises these warnings, each still once.
    #[cfg(feature = "nvml")]
    pub(crate) fn absorb_list(&mut self, warnings: Vec<Warning>) {
        for w in warnings {
            let message = w.message;
            self.raise(w.kind, w.device.as_ref(), &message.clone(), || message);
        }
    }

    pub(crate) fn take_pending(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.pending)
    }
}

/// The text of a caught panic.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
