//! The pipeline's OTel Resource.

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};

use super::settings::Settings;
use crate::keys::resource as keys;
use crate::Sampler;

/// The OTel Resource: the SDK's identity, `OTEL_RESOURCE_ATTRIBUTES` and the service name
/// from the settings (never from the process environment behind [`Pipeline::env`]'s back),
/// `container.id` and `k8s.pod.uid` from the cgroup, the host name, and the GPU inventory,
/// once, instead of on every span.
///
/// [`Pipeline::env`]: super::Pipeline::env
pub(super) fn build(settings: &Settings, sampler: &Sampler) -> Resource {
    let mut b = Resource::builder_empty().with_detector(Box::new(TelemetryResourceDetector));
    // The container and pod from the cgroup, before the user's attributes, which win (the
    // downward API's `k8s.pod.name` and `k8s.namespace.name` come that way).
    let id = sampler.container_identity();
    if let Some(c) = &id.container_id {
        b = b.with_attribute(KeyValue::new(keys::CONTAINER_ID.clone(), c.clone()));
    }
    if let Some(p) = &id.pod_uid {
        b = b.with_attribute(KeyValue::new(keys::K8S_POD_UID.clone(), p.clone()));
    }
    b = b.with_attributes(
        settings
            .resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    // OTEL_SERVICE_NAME wins over a `service.name` in the attributes; neither: the
    // specification's fallback.
    let service = settings.service_name.clone().or_else(|| {
        settings
            .resource_attributes
            .iter()
            .rev()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone())
    });
    b = b.with_service_name(service.unwrap_or_else(default_service_name));
    if let Some(host) = sysinfo::System::host_name() {
        b = b.with_attribute(KeyValue::new(keys::HOST_NAME.clone(), host));
    }
    let inv = sampler.inventory();
    if let Some(v) = &inv.driver_version {
        b = b.with_attribute(KeyValue::new(keys::GPU_DRIVER_VERSION.clone(), v.clone()));
    }
    if let Some(v) = &inv.cuda_driver_version {
        b = b.with_attribute(KeyValue::new(keys::GPU_CUDA_VERSION.clone(), v.clone()));
    }
    b = b.with_attribute(KeyValue::new(
        crate::keys::GPU_COUNT.clone(),
        inv.devices.len() as i64,
    ));
    for d in &inv.devices {
        let k = crate::keys::GpuKeys::of(d.index);
        b = b.with_attributes([
            KeyValue::new(k.model.clone(), d.name.to_string()),
            KeyValue::new(k.uuid.clone(), d.uuid.to_string()),
        ]);
        if let Some(total) = d.memory_total {
            b = b.with_attribute(KeyValue::new(
                k.memory_limit.clone(),
                i64::try_from(total).unwrap_or(i64::MAX),
            ));
        }
    }
    b.build()
}

/// `unknown_service:<executable name>`, as the specification says.
fn default_service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| {
            p.file_name()?
                .to_str()
                .map(|n| format!("unknown_service:{n}"))
        })
        .unwrap_or_else(|| "unknown_service".to_owned())
}
