//! `container.id` and `k8s.pod.uid` from the cgroup paths runtimes write, or, inside a
//! cgroup namespace (`0::/`), from the bind mounts docker and the kubelet leave in mountinfo.
//!
//! Patterns: docker `/docker/<64 hex>`, systemd `docker-<id>.scope`, containerd
//! `cri-containerd-<id>.scope` (or `/kubepods/.../<id>` with cgroupfs), cri-o `crio-<id>.scope`
//! (or `crio-<id>`), podman `libpod-<id>.scope`; pods `pod<uid>` (cgroupfs) and
//! `kubepods-<qos>-pod<uid with underscores>.slice` (systemd).

/// Prefixes runtimes put before a container id in a cgroup segment.
const RUNTIME_PREFIXES: [&str; 5] = ["docker-", "cri-containerd-", "crio-", "libpod-", "cri-o-"];

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A container id in one path segment.
fn container_in(segment: &str) -> Option<&str> {
    let segment = segment.strip_suffix(".scope").unwrap_or(segment);
    let id = RUNTIME_PREFIXES
        .iter()
        .find_map(|p| segment.strip_prefix(p))
        .unwrap_or(segment);
    is_hex(id, 64).then_some(id)
}

/// A pod UID (`8-4-4-4-12` hex) in one path segment, with dashes.
fn pod_in(segment: &str) -> Option<String> {
    let segment = segment.strip_suffix(".slice").unwrap_or(segment);
    let at = segment.rfind("pod")?;
    let uid = segment[at + 3..].replace('_', "-");
    let parts: Vec<&str> = uid.split('-').collect();
    let shape = parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| is_hex(p, n));
    shape.then_some(uid)
}

/// The container id and pod UID the cgroup `paths` show, the innermost first.
pub(crate) fn from_paths<'a>(
    paths: impl IntoIterator<Item = &'a str>,
) -> (Option<String>, Option<String>) {
    let (mut container, mut pod) = (None, None);
    for path in paths {
        for segment in path.rsplit('/') {
            if container.is_none() {
                container = container_in(segment).map(str::to_owned);
            }
            if pod.is_none() {
                pod = pod_in(segment);
            }
        }
    }
    (container, pod)
}

/// The container id and pod UID in mountinfo's mount roots: docker's
/// `/var/lib/docker/containers/<id>/hostname` and the kubelet's
/// `/var/lib/kubelet/pods/<uid>/etc-hosts` are bind-mounted into every container.
pub(crate) fn from_mountinfo(mountinfo: &str) -> (Option<String>, Option<String>) {
    let (mut container, mut pod) = (None, None);
    for line in mountinfo.lines() {
        let Some(root) = line.split(' ').nth(3) else {
            continue;
        };
        let segments: Vec<&str> = root.split('/').collect();
        for pair in segments.windows(2) {
            match pair[0] {
                "containers" if container.is_none() && is_hex(pair[1], 64) => {
                    container = Some(pair[1].to_owned());
                }
                "pods" if pod.is_none() => pod = pod_in(&format!("pod{}", pair[1])),
                _ => {}
            }
        }
    }
    (container, pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4a9e1c2b7d8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    const UID: &str = "0c7ae2d5-9b1e-4c2a-8f3e-6d5c4b3a2e1f";

    #[test]
    fn every_runtime_pattern_gives_the_container_id() {
        for path in [
            format!("/docker/{ID}"),
            format!("/system.slice/docker-{ID}.scope"),
            format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{ID}.scope", UID.replace('-', "_")),
            format!("/kubepods.slice/kubepods-pod{}.slice/crio-{ID}.scope", UID.replace('-', "_")),
            format!("/kubepods/burstable/pod{UID}/{ID}"),
            format!("/kubepods/besteffort/pod{UID}/crio-{ID}"),
            format!("/machine.slice/libpod-{ID}.scope"),
        ] {
            let (c, _) = from_paths([path.as_str()]);
            assert_eq!(c.as_deref(), Some(ID), "{path}");
        }
        assert_eq!(
            from_paths(["/user.slice/user-1000.slice/session-2.scope"]).0,
            None
        );
        assert_eq!(from_paths(["/"]), (None, None));
    }

    #[test]
    fn pod_uids_in_both_drivers_forms() {
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{ID}.scope",
            UID.replace('-', "_")
        );
        assert_eq!(from_paths([systemd.as_str()]).1.as_deref(), Some(UID));
        let cgroupfs = format!("/kubepods/burstable/pod{UID}/{ID}");
        assert_eq!(from_paths([cgroupfs.as_str()]).1.as_deref(), Some(UID));
        let guaranteed = format!(
            "/kubepods.slice/kubepods-pod{}.slice/x",
            UID.replace('-', "_")
        );
        assert_eq!(from_paths([guaranteed.as_str()]).1.as_deref(), Some(UID));
    }

    #[test]
    fn a_cgroup_namespace_still_shows_the_ids_in_mountinfo() {
        let mountinfo = format!(
            "812 790 259:1 /var/lib/docker/containers/{ID}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/root rw\n\
             813 790 259:1 /var/lib/kubelet/pods/{UID}/etc-hosts /etc/hosts rw,relatime - ext4 /dev/root rw\n"
        );
        assert_eq!(
            from_mountinfo(&mountinfo),
            (Some(ID.to_owned()), Some(UID.to_owned()))
        );
    }
}
