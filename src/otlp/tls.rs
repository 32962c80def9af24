//! TLS for the exporters, rustls with ring for both protocols: the specification's
//! certificate variables (generic and per signal) or the [`Pipeline`](super::Pipeline)'s
//! settings, read and checked at `init()`, so a missing or malformed file is an error naming
//! its setting instead of a failed export later.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// Where one file comes from: the setting that named it (a variable or a `Pipeline` method)
/// and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    pub(crate) setting: &'static str,
    pub(crate) path: PathBuf,
}

/// The three files of one signal, each from the first setting that names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Files {
    /// The CA that server certificates must chain to; unset: the system's roots.
    pub(crate) certificate: Option<Source>,
    /// The client's certificate chain and key, for servers that ask for one (mutual TLS).
    pub(crate) client_certificate: Option<Source>,
    pub(crate) client_key: Option<Source>,
}

/// The variables for one signal, the signal's own first.
pub(crate) const TRACES: [[&str; 2]; 3] = [
    [
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ],
    [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ],
    [
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    ],
];
/// As [`TRACES`], for metrics.
pub(crate) const METRICS: [[&str; 2]; 3] = [
    [
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
    ],
    [
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ],
    [
        "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
        "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    ],
];

impl Files {
    /// The files `vars` (one of [`TRACES`], [`METRICS`]) name; empty counts as unset.
    pub(crate) fn resolve(
        env: &dyn Fn(&str) -> Option<String>,
        vars: [[&'static str; 2]; 3],
    ) -> Self {
        let pick = |pair: [&'static str; 2]| {
            pair.into_iter().find_map(|setting| {
                crate::env::non_empty(env(setting)).map(|v| Source {
                    setting,
                    path: PathBuf::from(v.trim()),
                })
            })
        };
        let [ca, cert, key] = vars;
        Self {
            certificate: pick(ca),
            client_certificate: pick(cert),
            client_key: pick(key),
        }
    }
}

impl Files {
    /// The first file set, the CA's first.
    fn first(&self) -> Option<&Source> {
        self.certificate
            .as_ref()
            .or(self.client_certificate.as_ref())
            .or(self.client_key.as_ref())
    }

    /// The files are for TLS: with a plain `http://` endpoint the exporter would send in
    /// cleartext what they were set to protect (the specification: a certificate "should only be
    /// used for a secure connection", and the scheme alone says which a URL is).
    ///
    /// # Errors
    /// [`Error::Certificate`] naming the first file's setting and the endpoint (without any
    /// user or password in it).
    pub(crate) fn refuse_cleartext(&self, signal: &str, endpoint: &str) -> Result<(), Error> {
        match self.first() {
            Some(source) if !is_https(endpoint) => Err(refused(
                source,
                format!(
                    "is set, but the OTLP {signal} endpoint {:?} is plain http://, which would \
                     export without TLS: use an https:// endpoint, or unset the certificate \
                     settings for a collector without TLS",
                    without_userinfo(endpoint)
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Whether `endpoint` (a URL checked by the settings) asks for TLS.
pub(crate) fn is_https(endpoint: &str) -> bool {
    endpoint
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// `endpoint` with a `user:password@` in its authority hidden, for messages.
fn without_userinfo(endpoint: &str) -> String {
    let Some((scheme, rest)) = endpoint.split_once("://") else {
        return endpoint.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((_, host)) => format!(
            "{scheme}://{}@{host}{}",
            crate::env::HIDDEN,
            &rest[authority_end..]
        ),
        None => endpoint.to_owned(),
    }
}

fn refused(source: &Source, reason: impl Into<String>) -> Error {
    Error::Certificate {
        setting: source.setting,
        path: source.path.display().to_string(),
        reason: reason.into(),
    }
}

fn read(source: &Source) -> Result<Vec<u8>, Error> {
    std::fs::read(&source.path).map_err(|e| refused(source, format!("cannot be read: {e}")))
}

/// Every certificate in a PEM file; none, or a malformed one, is an error naming the setting.
fn certificates(source: &Source) -> Result<(Vec<u8>, Vec<CertificateDer<'static>>), Error> {
    let pem = read(source)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refused(source, format!("is not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(refused(
            source,
            "holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)",
        ));
    }
    Ok((pem, certs))
}

/// The files read and checked: the PEM text for tonic, the parsed form for rustls.
#[derive(Debug)]
pub(crate) struct Loaded {
    ca: Option<(Vec<u8>, rustls::RootCertStore)>,
    identity: Option<Identity>,
}

#[derive(Debug)]
struct Identity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// The settings, for an error about the pair.
    sources: (Source, Source),
}

/// ring, the provider tonic's `tls-ring` uses for gRPC, so both protocols share one. rustls
/// 0.23.48 deprecates it for lacking post-quantum key exchange; its replacement, aws-lc-rs,
/// builds a C library with cmake, which the crate's users (and `cargo install` without a C
/// toolchain) would then need.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Loaded {
    /// Reads and checks the files.
    ///
    /// # Errors
    /// [`Error::Certificate`] naming the setting of a file that cannot be read or parsed, or of
    /// a client certificate without its key (or the reverse).
    pub(crate) fn load(files: &Files) -> Result<Self, Error> {
        let ca = match &files.certificate {
            Some(source) => {
                let (pem, certs) = certificates(source)?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        refused(
                            source,
                            format!("holds a certificate rustls cannot use: {e}"),
                        )
                    })?;
                }
                Some((pem, roots))
            }
            None => None,
        };
        let identity =
            match (&files.client_certificate, &files.client_key) {
                (None, None) => None,
                (Some(cert), None) => {
                    return Err(refused(
                        cert,
                        "is set but no client key is (OTEL_EXPORTER_OTLP_CLIENT_KEY or \
                     Pipeline::client_key): a client certificate needs its key",
                    ))
                }
                (None, Some(key)) => return Err(refused(
                    key,
                    "is set but no client certificate is (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE \
                     or Pipeline::client_certificate): a client key needs its certificate",
                )),
                (Some(cert), Some(key)) => {
                    let (cert_pem, chain) = certificates(cert)?;
                    let key_pem = read(key)?;
                    let parsed = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                        refused(
                            key,
                            format!("is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
                        )
                    })?;
                    Some(Identity {
                        cert_pem,
                        key_pem,
                        chain,
                        key: parsed,
                        sources: (cert.clone(), key.clone()),
                    })
                }
            };
        let loaded = Self { ca, identity };
        // Builds the rustls configuration once, so a key that does not fit its certificate
        // (or that ring cannot use) fails here, naming both settings.
        loaded.rustls(rustls::RootCertStore::empty())?;
        Ok(loaded)
    }

    /// Whether a CA was given (else the system's roots are trusted).
    pub(crate) fn has_ca(&self) -> bool {
        self.ca.is_some()
    }

    /// The rustls configuration for the HTTP client: the given CA only, else `system_roots`;
    /// the client identity when given. ALPN is left to the connector.
    pub(crate) fn rustls(
        &self,
        system_roots: rustls::RootCertStore,
    ) -> Result<rustls::ClientConfig, Error> {
        let roots = match &self.ca {
            Some((_, roots)) => roots.clone(),
            None => system_roots,
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Exporter(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(id) => builder
                .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                .map_err(|e| {
                    refused(
                        &id.sources.1,
                        format!(
                            "cannot be used with the client certificate {}={:?}: {e}",
                            id.sources.0.setting,
                            id.sources.0.path.display().to_string()
                        ),
                    )
                })?,
        };
        Ok(config)
    }

    /// The tonic configuration: the given CA only, else the system's roots; the identity.
    pub(crate) fn tonic(&self) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
        use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
        let mut config = ClientTlsConfig::new();
        config = match &self.ca {
            Some((pem, _)) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config.with_native_roots(),
        };
        if let Some(id) = &self.identity {
            config = config.identity(Identity::from_pem(&id.cert_pem, &id.key_pem));
        }
        config
    }
}

/// The system's trusted roots (as tonic's `with_native_roots` reads them), for HTTPS
/// endpoints without a CA of their own.
///
/// # Errors
/// [`Error::Exporter`] when the system has none: every export would fail.
pub(crate) fn system_roots(endpoint: &str) -> Result<rustls::RootCertStore, Error> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_owned(), ToString::to_string);
        return Err(Error::Exporter(format!(
            "{endpoint} needs TLS, but the system has no trusted root certificates ({why}): \
             install ca-certificates or set OTEL_EXPORTER_OTLP_CERTIFICATE"
        )));
    }
    Ok(roots)
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;
