//! This process's share of a GPU from the driver's per-process utilization samples, by the
//! rules of its process memory (`process_memory.rs`): a sample of another process never
//! counts as ours, and under a PID namespace whose pids the driver does not give, the share
//! cannot be told.

use crate::sampler::pid_namespace::PidNamespace;

/// One per-process sample: SM and memory-controller use, percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) pid: u32,
    pub(crate) sm: u32,
    pub(crate) memory: u32,
}

/// What the samples say of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Share {
    /// Its mean SM and memory-controller shares over its samples in the window, 0..1 (the
    /// driver samples a process in the periods it ran; 0 where only other processes were
    /// sampled).
    Of { sm: f64, memory: f64 },
    /// No sample within 0..100 % (none at all, or only the driver's quirk of values above).
    NoSamples,
    /// The samples name pids this PID namespace cannot see.
    Namespace,
}

/// This process (`pid`, in `ns`) in the samples; `visible` says whether a pid exists in this
/// process's `/proc`. A sample above 100 % (a known driver quirk) is dropped.
pub(crate) fn share(
    samples: &[Sample],
    pid: u32,
    ns: PidNamespace,
    visible: impl Fn(u32) -> bool,
) -> Share {
    let valid = || samples.iter().filter(|s| s.sm <= 100 && s.memory <= 100);
    if valid().next().is_none() {
        return Share::NoSamples;
    }
    if ns != PidNamespace::Initial && valid().any(|s| !visible(s.pid)) {
        return Share::Namespace;
    }
    let (mut n, mut sm, mut memory) = (0u32, 0u64, 0u64);
    for s in valid().filter(|s| s.pid == pid) {
        n += 1;
        sm += u64::from(s.sm);
        memory += u64::from(s.memory);
    }
    if n == 0 && samples.iter().any(|s| s.pid == pid) {
        // Ours were all the driver's quirk: we ran, by how much is unknown.
        return Share::NoSamples;
    }
    if n == 0 {
        return Share::Of {
            sm: 0.0,
            memory: 0.0,
        };
    }
    let mean = |total: u64| total as f64 / f64::from(n) / 100.0;
    Share::Of {
        sm: mean(sm),
        memory: mean(memory),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: PidNamespace = PidNamespace::Own(4026532201);

    fn s(pid: u32, sm: u32, memory: u32) -> Sample {
        Sample { pid, sm, memory }
    }

    #[test]
    fn a_sample_above_100_percent_is_dropped() {
        let got = share(
            &[s(7, 250, 10), s(7, 60, 20)],
            7,
            PidNamespace::Initial,
            |_| true,
        );
        assert_eq!(
            got,
            Share::Of {
                sm: 0.6,
                memory: 0.2
            }
        );
        let only_quirks = share(&[s(7, 101, 0)], 7, PidNamespace::Initial, |_| true);
        assert_eq!(only_quirks, Share::NoSamples);
        // Ours all above 100 % beside another's valid one: unknown, never 0.
        let ours_dropped = share(
            &[s(7, 180, 0), s(9, 30, 0)],
            7,
            PidNamespace::Initial,
            |_| true,
        );
        assert_eq!(ours_dropped, Share::NoSamples);
    }

    #[test]
    fn another_process_share_never_counts_as_ours() {
        let others = [s(4242, 90, 40), s(4243, 10, 5)];
        let got = share(&others, 7, PidNamespace::Initial, |_| true);
        assert_eq!(
            got,
            Share::Of {
                sm: 0.0,
                memory: 0.0
            }
        );
        // In a PID namespace, host pids (not in this /proc) cannot be matched: unknown,
        // even when one of them is numerically our own pid.
        let host = [s(1, 90, 40), s(31337, 50, 5)];
        assert_eq!(share(&host, 1, OWN, |p| p == 1), Share::Namespace);
        // A driver that translates pids into our namespace: ours is told.
        let translated = [s(1, 80, 30), s(2, 10, 5)];
        assert_eq!(
            share(&translated, 1, OWN, |p| p <= 2),
            Share::Of {
                sm: 0.8,
                memory: 0.3
            }
        );
    }

    #[test]
    fn our_samples_average() {
        let got = share(
            &[s(7, 70, 10), s(7, 90, 30)],
            7,
            PidNamespace::Initial,
            |_| true,
        );
        assert_eq!(
            got,
            Share::Of {
                sm: 0.8,
                memory: 0.2
            }
        );
    }
}
