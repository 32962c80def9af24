//! The pipeline's OTel Resource.

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::{Resource, TelemetryResourceDetector};

use crate::error::Error;
use crate::keys::resource as keys;
use crate::sampler::Sampler;

/// The Resource the pipeline exports with, for a tracer or meter provider you build yourself:
/// the SDK's identity, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` from the process
/// environment, `container.id` and `k8s.pod.uid` from the cgroup, `host.name`, and the GPU
/// inventory of `sampler` (model, UUID and memory of each device, the driver and CUDA
/// versions), which spans then need not carry.
///
/// ```no_run
/// # fn main() -> Result<(), otel_resmon::Error> {
/// let sampler = otel_resmon::Sampler::new()?;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_resource(otel_resmon::otlp::resource(&sampler)?)
///     .build();
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::InvalidSetting`] naming `OTEL_RESOURCE_ATTRIBUTES` or `OTEL_SERVICE_NAME` when
/// its value is malformed or not UTF-8.
pub fn resource(sampler: &Sampler) -> Result<Resource, Error> {
    const ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
    const SERVICE: &str = "OTEL_SERVICE_NAME";
    let env = crate::env::read(&[ATTRIBUTES, SERVICE])?;
    let attributes = match crate::env::non_empty(env.get(ATTRIBUTES).cloned()) {
        Some(v) => super::pairs::parse(ATTRIBUTES, &v)?,
        None => Vec::new(),
    };
    let service = crate::env::non_empty(env.get(SERVICE).cloned());
    Ok(build(service.as_deref(), &attributes, sampler))
}

/// The OTel Resource from settings already read (never from the process environment behind
/// [`Pipeline::env`]'s back): as [`resource`].
///
/// [`Pipeline::env`]: super::Pipeline::env
pub(super) fn build(
    service_name: Option<&str>,
    resource_attributes: &[(String, String)],
    sampler: &Sampler,
) -> Resource {
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
        resource_attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    // OTEL_SERVICE_NAME wins over a `service.name` in the attributes; neither: the
    // specification's fallback.
    let service = service_name.map(str::to_owned).or_else(|| {
        resource_attributes
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
