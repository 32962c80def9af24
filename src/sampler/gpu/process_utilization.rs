//! This process's share of a GPU from the driver's per-process utilization samples, by the
//! rules of its process memory (`process_memory.rs`): a sample of another process never
//! counts as ours, and under a PID namespace whose pids the driver does not give, the share
//! cannot be told.

use crate::sampler::pid_namespace::PidNamespace;

/// One per-process sample: SM and memory-controller use, percent, and when the driver
/// stamped it (microseconds of the wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) pid: u32,
    pub(crate) sm: u32,
    pub(crate) memory: u32,
    pub(crate) at: u64,
}

/// What the samples say of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Share {
    /// Its mean SM and memory-controller shares over its samples in the window, 0..1 (the
    /// driver samples a process in the periods it ran; 0 where only other processes were
    /// sampled).
    Of { sm: f64, memory: f64 },
    /// No sample that counts (none at all, only the driver's quirk of values above 100 %, or
    /// only samples stamped after `until`).
    NoSamples,
    /// The samples name pids this PID namespace cannot see.
    Namespace,
}

/// This process (`pid`, in `ns`) in the samples; `visible` says whether a pid exists in this
/// process's `/proc`. A sample above 100 % (a known driver quirk) is dropped, and so is one
/// stamped after `until` (ahead of the wall clock: see `activity::STAMP_SLACK_US`). Any
/// samples give a share, never a panic.
pub(crate) fn share(
    samples: &[Sample],
    until: u64,
    pid: u32,
    ns: PidNamespace,
    visible: impl Fn(u32) -> bool,
) -> Share {
    let valid = || {
        samples
            .iter()
            .filter(move |s| s.sm <= 100 && s.memory <= 100 && s.at <= until)
    };
    if valid().next().is_none() {
        return Share::NoSamples;
    }
    if ns != PidNamespace::Initial && valid().any(|s| !visible(s.pid)) {
        return Share::Namespace;
    }
    let (mut n, mut sm, mut memory) = (0u64, 0u64, 0u64);
    for s in valid().filter(|s| s.pid == pid) {
        n += 1;
        sm += u64::from(s.sm);
        memory += u64::from(s.memory);
    }
    if n == 0 && samples.iter().any(|s| s.pid == pid) {
        // Ours were all dropped: we ran, by how much is unknown.
        return Share::NoSamples;
    }
    if n == 0 {
        return Share::Of {
            sm: 0.0,
            memory: 0.0,
        };
    }
    let mean = |total: u64| total as f64 / n as f64 / 100.0;
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
        Sample {
            pid,
            sm,
            memory,
            at: 0,
        }
    }

    /// The share with every sample stamped in time.
    fn share(
        samples: &[Sample],
        pid: u32,
        ns: PidNamespace,
        visible: impl Fn(u32) -> bool,
    ) -> Share {
        super::share(samples, u64::MAX, pid, ns, visible)
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

    use proptest::prelude::*;

    fn sample() -> impl Strategy<Value = Sample> {
        let pid = prop_oneof![Just(7u32), Just(9u32), any::<u32>()];
        let percent = prop_oneof![0u32..=100, any::<u32>()];
        (pid, percent.clone(), percent, any::<u64>()).prop_map(|(pid, sm, memory, at)| Sample {
            pid,
            sm,
            memory,
            at,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any samples give a share without a panic, within 0..1, from our samples stamped
        /// until `until` only.
        #[test]
        fn any_samples_give_a_share_within_0_and_1(
            samples in proptest::collection::vec(sample(), 0..12),
            until in any::<u64>(),
            host in any::<bool>(),
        ) {
            let ns = if host { PidNamespace::Initial } else { OWN };
            let got = super::share(&samples, until, 7, ns, |p| p % 2 == 1);
            let counted = samples
                .iter()
                .filter(|s| s.pid == 7 && s.sm <= 100 && s.memory <= 100 && s.at <= until)
                .count();
            if let Share::Of { sm, memory } = got {
                prop_assert!((0.0..=1.0).contains(&sm) && (0.0..=1.0).contains(&memory));
                if counted == 0 {
                    prop_assert!(!samples.iter().any(|s| s.pid == 7), "ours dropped, yet 0");
                }
            }
        }
    }

    #[test]
    fn a_sample_stamped_after_until_counts_in_no_window() {
        let mut future = s(7, 90, 40);
        future.at = 2_000;
        let mut now = s(7, 30, 10);
        now.at = 1_000;
        let got = super::share(&[future, now], 1_500, 7, PidNamespace::Initial, |_| true);
        assert_eq!(
            got,
            Share::Of {
                sm: 0.3,
                memory: 0.1
            }
        );
        // Ours only stamped ahead, beside another's: unknown, never 0.
        let mut other = s(9, 50, 5);
        other.at = 1_000;
        let got = super::share(&[future, other], 1_500, 7, PidNamespace::Initial, |_| true);
        assert_eq!(got, Share::NoSamples);
    }
}
