//! TLS settings: the files, their errors, and endpoints that cannot take them.

use super::*;
use std::path::Path;

fn source(setting: &'static str, path: &std::path::Path) -> Source {
    Source {
        setting,
        path: path.to_owned(),
    }
}

#[test]
fn the_signal_variable_wins_over_the_generic_one() {
    let env = |k: &str| match k {
        "OTEL_EXPORTER_OTLP_CERTIFICATE" => Some("/generic.pem".to_owned()),
        "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE" => Some("/metrics.pem".to_owned()),
        "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY" => Some(" ".to_owned()),
        _ => None,
    };
    let t = Files::resolve(&env, TRACES);
    let m = Files::resolve(&env, METRICS);
    assert_eq!(
        t.certificate.unwrap().setting,
        "OTEL_EXPORTER_OTLP_CERTIFICATE"
    );
    let m_ca = m.certificate.unwrap();
    assert_eq!(m_ca.setting, "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE");
    assert_eq!(m_ca.path, PathBuf::from("/metrics.pem"));
    assert!(t.client_key.is_none(), "blank counts as unset");
}

#[test]
fn unreadable_empty_and_malformed_files_name_their_setting() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    for (path, says) in [
        (&missing, "cannot be read"),
        (&empty, "holds no PEM certificate"),
        (&broken, "not a PEM certificate file"),
    ] {
        let files = Files {
            certificate: Some(source("OTEL_EXPORTER_OTLP_CERTIFICATE", path)),
            ..Files::default()
        };
        let e = Loaded::load(&files).unwrap_err().to_string();
        assert!(
            e.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && e.contains(says),
            "{e}"
        );
    }
}

#[test]
fn files_with_a_plain_http_endpoint_are_refused_naming_both() {
    let ca = source(
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        Path::new("/ca.pem"),
    );
    let key = source("Pipeline::client_key", Path::new("/k.pem"));
    let endpoint = "http://user:pw@collector:4318/v1/traces";
    for (files, setting) in [
        (
            Files {
                certificate: Some(ca.clone()),
                client_key: Some(key.clone()),
                ..Files::default()
            },
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
        ),
        (
            Files {
                client_key: Some(key),
                ..Files::default()
            },
            "Pipeline::client_key",
        ),
    ] {
        let e = files
            .refuse_cleartext("traces", endpoint)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(setting)
                && e.contains("http://<hidden>@collector:4318/v1/traces")
                && !e.contains("pw"),
            "{e}"
        );
        assert!(files
            .refuse_cleartext("traces", "HTTPS://collector:4318")
            .is_ok());
    }
    assert!(Files::default()
        .refuse_cleartext("traces", endpoint)
        .is_ok());
    assert_eq!(without_userinfo("http://h:1/p@q"), "http://h:1/p@q");
}

#[test]
fn a_client_certificate_without_its_key_is_refused() {
    let files = Files {
        client_certificate: Some(source(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            std::path::Path::new("/c.pem"),
        )),
        ..Files::default()
    };
    let e = Loaded::load(&files).unwrap_err().to_string();
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE") && e.contains("CLIENT_KEY"),
        "{e}"
    );
}
