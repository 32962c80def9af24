//! The crate's error type.

use std::io;

/// What can go wrong while building a [`Sampler`](crate::Sampler).
///
/// Every configuration error names the setting (builder method or environment variable) and
/// the value it refused, so it can be fixed without reading the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting has a value the crate cannot use.
    #[error("invalid {setting}={value:?}: {reason}")]
    InvalidSetting {
        /// The builder method or environment variable, e.g. `RESMON_INTERVAL_MS`.
        setting: &'static str,
        /// The refused value, as given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The sampler thread could not be started.
    #[error("could not start the otel-resmon sampler thread: {0}")]
    Spawn(#[source] io::Error),
}
