//! Which PID namespace this process runs in. NVML lists processes by the pids its driver
//! sees, which on drivers without PID-namespace translation are the host's: inside a
//! container's own namespace those name nobody we can see, and "not listed" then means
//! "unknown", never 0 bytes.

use crate::snapshot::{GpuField, MissingReason, Snapshot};

/// The inode of the kernel's initial PID namespace (`PROC_PID_INIT_INO`), as systemd and
/// bpftrace compare it.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// The PID namespace of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PidNamespace {
    /// The kernel's initial namespace (the host's, or a container with `hostPID: true` /
    /// `--pid=host`): NVML's pids are this process's own.
    Initial,
    /// A namespace of its own (a container), with the inode of `/proc/self/ns/pid`.
    Own(u64),
    /// Not known: `/proc/self/ns/pid` cannot be read (not Linux, or no `/proc`).
    Unknown,
}

impl PidNamespace {
    /// This process's namespace, from the inode of `/proc/self/ns/pid`.
    pub fn of_this_process() -> Self {
        std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .and_then(|target| inode(&target.to_string_lossy()))
            .map_or(Self::Unknown, |ino| {
                if ino == PROC_PID_INIT_INO {
                    Self::Initial
                } else {
                    Self::Own(ino)
                }
            })
    }

    /// `initial`, `own` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Own(_) => "own",
            Self::Unknown => "unknown",
        }
    }

    /// What this namespace means for the GPU process memory figures of `snapshot`, in one
    /// sentence for people (the status JSON and the doctor print it).
    pub fn gpu_process_memory(self, snapshot: &Snapshot) -> &'static str {
        let unattributed = snapshot.gpus.iter().any(|g| {
            g.missing_reason(GpuField::ProcessMemory) == Some(&MissingReason::PidNamespace)
        });
        match (self, unattributed) {
            (Self::Initial, _) => {
                "exact: this process is in the host's PID namespace, where NVML lists processes"
            }
            (_, true) => {
                "unknown: the driver lists processes by host pid, which this PID namespace \
                 cannot see; run with hostPID: true (Kubernetes), --pid=host (docker), or a \
                 driver that translates pids"
            }
            (Self::Own(_), false) => {
                "exact: the driver's process lists name pids of this PID namespace"
            }
            (Self::Unknown, false) => "as the driver lists it: the PID namespace could not be read",
        }
    }
}

/// The inode in a namespace link's target, `pid:[4026531836]`.
fn inode(target: &str) -> Option<u64> {
    target
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether `pid` names a process in this process's `/proc`.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
pub(crate) fn visible(pid: u32) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_give_their_inode() {
        assert_eq!(inode("pid:[4026531836]"), Some(PROC_PID_INIT_INO));
        assert_eq!(inode("pid:[4026532201]"), Some(4026532201));
        assert_eq!(inode("net:[4026531840]"), None);
        assert_eq!(inode("pid:[x]"), None);
    }

    #[test]
    fn this_machine_is_in_the_initial_namespace_or_says_which() {
        // The test machine is the host: /proc/self/ns/pid is 4026531836 there. Under
        // `unshare --pid` it is another inode; tests/pid_namespace.rs covers that case.
        let ns = PidNamespace::of_this_process();
        let target = std::fs::read_link("/proc/self/ns/pid").unwrap();
        let expected = inode(&target.to_string_lossy()).unwrap();
        match ns {
            PidNamespace::Initial => assert_eq!(expected, PROC_PID_INIT_INO),
            PidNamespace::Own(ino) => assert_eq!(ino, expected),
            PidNamespace::Unknown => panic!("/proc/self/ns/pid was readable"),
        }
        assert!(visible(std::process::id()));
    }
}
