//! Where this process's cgroup files are: its entries in `/proc/self/cgroup`, matched with the
//! cgroup mounts in `/proc/self/mountinfo`. Handles v2 (one `0::` entry), v1 (one entry per
//! controller set) and hybrid hosts (v1 controllers beside a v2 `unified` mount).

use std::path::{Path, PathBuf};

/// The directories of this process's cgroup, per hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Located {
    /// The v2 cgroup directory, when a cgroup2 filesystem is mounted.
    pub(crate) v2: Option<PathBuf>,
    /// The v1 `memory` controller's directory.
    pub(crate) v1_memory: Option<PathBuf>,
    /// The v1 `cpu` controller's directory (CFS quota and throttling).
    pub(crate) v1_cpu: Option<PathBuf>,
    /// The v1 `cpuacct` controller's directory (usage).
    pub(crate) v1_cpuacct: Option<PathBuf>,
    /// The cgroup paths as `/proc/self/cgroup` names them (for the container id).
    pub(crate) paths: Vec<String>,
}

/// One cgroup mount: its root within the hierarchy, where it is mounted, and for v1 its
/// controllers (empty for cgroup2).
struct Mount {
    root: String,
    point: String,
    v2: bool,
    controllers: Vec<String>,
}

/// The cgroup mounts of a mountinfo text.
fn mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            // `id parent major:minor root point options [optional...] - fstype source super`
            let (left, right) = line.split_once(" - ")?;
            let left: Vec<&str> = left.split(' ').collect();
            let mut right = right.split(' ');
            let fstype = right.next()?;
            let _source = right.next();
            let super_options = right.next().unwrap_or("");
            let (root, point) = (unescape(left.get(3)?), unescape(left.get(4)?));
            match fstype {
                "cgroup2" => Some(Mount {
                    root,
                    point,
                    v2: true,
                    controllers: Vec::new(),
                }),
                "cgroup" => Some(Mount {
                    root,
                    point,
                    v2: false,
                    controllers: super_options
                        .split(',')
                        .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('='))
                        .map(str::to_owned)
                        .collect(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    field
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// The directory of cgroup `path` under `mount`, if the mount shows it (its root is `path` or
/// an ancestor of it). `prefix` is prepended (a fixture's root; `/` on a real system).
fn directory(prefix: &Path, mount: &Mount, path: &str) -> Option<PathBuf> {
    let rest = if mount.root == "/" {
        path
    } else {
        path.strip_prefix(mount.root.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))?
    };
    let mut dir = prefix.join(mount.point.trim_start_matches('/'));
    for part in rest.split('/').filter(|p| !p.is_empty()) {
        dir.push(part);
    }
    Some(dir)
}

/// This process's cgroup directories, from the texts of `/proc/self/cgroup` and
/// `/proc/self/mountinfo`, under `prefix`.
pub(crate) fn locate(prefix: &Path, cgroup: &str, mountinfo: &str) -> Located {
    let mounts = mounts(mountinfo);
    let mut located = Located::default();
    for line in cgroup.lines() {
        // `hierarchy-id:controller-list:path`
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        located.paths.push(path.to_owned());
        if id == "0" && controllers.is_empty() {
            located.v2 = mounts
                .iter()
                .filter(|m| m.v2)
                .find_map(|m| directory(prefix, m, path));
            continue;
        }
        let names: Vec<&str> = controllers.split(',').collect();
        let find = |controller: &str| {
            mounts
                .iter()
                .filter(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))
                .find_map(|m| directory(prefix, m, path))
        };
        for (controller, slot) in [
            ("memory", &mut located.v1_memory),
            ("cpu", &mut located.v1_cpu),
            ("cpuacct", &mut located.v1_cpuacct),
        ] {
            if names.contains(&controller) && slot.is_none() {
                *slot = find(controller);
            }
        }
    }
    located
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_controllers_mounted_together_and_apart_are_found() {
        let mountinfo = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let cgroup = "4:memory:/kubepods/burstable/podX/abc\n2:cpu,cpuacct:/kubepods/burstable/podX/abc\n0::/\n";
        let l = locate(Path::new("/"), cgroup, mountinfo);
        assert_eq!(
            l.v1_memory.unwrap(),
            Path::new("/sys/fs/cgroup/memory/kubepods/burstable/podX/abc")
        );
        assert_eq!(
            l.v1_cpu.unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/kubepods/burstable/podX/abc")
        );
        assert_eq!(l.v2.unwrap(), Path::new("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn a_namespaced_mount_shows_its_own_root() {
        // Inside a container with a cgroup namespace, or with the cgroup bind-mounted: the
        // mount's root is the container's cgroup.
        let mountinfo = "600 590 0:30 /kubepods.slice/pod.slice/cri-containerd-1.scope /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n";
        let cgroup = "0::/kubepods.slice/pod.slice/cri-containerd-1.scope\n";
        let l = locate(Path::new("/fixture"), cgroup, mountinfo);
        assert_eq!(l.v2.unwrap(), Path::new("/fixture/sys/fs/cgroup"));
        // A path the mount does not show is not guessed.
        let l = locate(Path::new("/"), "0::/elsewhere\n", mountinfo);
        assert_eq!(l.v2, None);
    }
}
