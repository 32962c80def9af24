//! The crate's error type.

use std::io;

/// What can go wrong while building a [`Sampler`](crate::sampler::Sampler).
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
        /// The refused value, as given; for the OTLP header variables, whose values are API
        /// keys, only which entry and its key (`entry 2 of 3: api-key=<hidden>`).
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A certificate or key file named by a setting cannot be read or used.
    #[error("invalid {setting}={path:?}: {reason}")]
    Certificate {
        /// The environment variable or `Pipeline` method that named the file, e.g.
        /// `OTEL_EXPORTER_OTLP_CERTIFICATE`.
        setting: &'static str,
        /// The file's path, as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An OTLP exporter could not be built or shut down cleanly.
    #[error("OTLP: {0}")]
    Exporter(String),
    /// The global tracing subscriber could not be installed (one is already set).
    #[error("cannot install the tracing subscriber: {0}")]
    Subscriber(String),
    /// The sampler thread could not be started.
    #[error("could not start the otel-resmon sampler thread: {0}")]
    Spawn(#[source] io::Error),
}
