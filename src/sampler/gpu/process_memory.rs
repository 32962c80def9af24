//! This process's memory on one GPU, from the driver's compute and graphics process lists,
//! and when that figure cannot be told.

use crate::sampler::pid_namespace::PidNamespace;

/// One entry of a process list: the pid the driver sees and its memory (`None`: the driver
/// gives none, as under WDDM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) pid: u32,
    pub(crate) bytes: Option<u64>,
}

/// What the lists say of this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attribution {
    Bytes(u64),
    /// Listed, without a memory figure.
    NotReported,
    /// The lists cannot be matched to this process: they name host pids this PID namespace
    /// cannot see, or they list it with 0 bytes while the device is in use (a driver that
    /// translates the list but not the memory query; a live context always holds memory).
    Namespace,
    /// This process's entries add up past `u64::MAX` bytes: no figure the driver can mean.
    Overflow,
}

/// This process (`pid`, in `ns`) in the lists the driver has (`None`: it has no such list).
/// A process with both a compute and a graphics context is listed twice with the same
/// figure, so the lists combine with `max`; entries within one list (MIG instances) add up.
/// `visible` says whether a pid exists in this process's `/proc`; `device_used` is the
/// device's memory in use. Any answer of the driver gives an attribution, never a panic.
pub(crate) fn attribute(
    lists: [Option<&[Entry]>; 2],
    pid: u32,
    ns: PidNamespace,
    device_used: Option<u64>,
    visible: impl Fn(u32) -> bool,
) -> Attribution {
    if ns != PidNamespace::Initial {
        // Only a list whose every pid exists here is in this namespace: then, and on the
        // host, "not listed" means 0 bytes.
        let foreign = lists
            .iter()
            .flatten()
            .flat_map(|l| l.iter())
            .any(|e| !visible(e.pid));
        if foreign {
            return Attribution::Namespace;
        }
    }
    // This process's bytes in one list: `Ok(None)` where an entry has no figure, `Err` where
    // they add up past `u64::MAX`.
    let own = |list: &[Entry]| -> Result<Option<u64>, Overflow> {
        let mut sum = 0u64;
        for e in list.iter().filter(|e| e.pid == pid) {
            let Some(bytes) = e.bytes else {
                return Ok(None);
            };
            sum = sum.checked_add(bytes).ok_or(Overflow)?;
        }
        Ok(Some(sum))
    };
    let listed = lists
        .iter()
        .flatten()
        .any(|l| l.iter().any(|e| e.pid == pid));
    let bytes = match lists {
        [Some(c), Some(g)] => own(c).and_then(|c| Ok(c.zip(own(g)?).map(|(c, g)| c.max(g)))),
        [Some(l), None] | [None, Some(l)] => own(l),
        [None, None] => Ok(None),
    };
    match bytes {
        Err(Overflow) => Attribution::Overflow,
        Ok(Some(0))
            if listed && ns != PidNamespace::Initial && device_used.is_some_and(|u| u > 0) =>
        {
            Attribution::Namespace
        }
        Ok(Some(b)) => Attribution::Bytes(b),
        Ok(None) => Attribution::NotReported,
    }
}

/// A sum past `u64::MAX`.
struct Overflow;

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: PidNamespace = PidNamespace::Own(4026532201);

    fn e(pid: u32, bytes: u64) -> Entry {
        Entry {
            pid,
            bytes: Some(bytes),
        }
    }

    #[test]
    fn on_the_host_not_listed_is_zero() {
        let list = [e(4242, 5 << 30)];
        let a = attribute(
            [Some(&list), None],
            7,
            PidNamespace::Initial,
            Some(1),
            |_| true,
        );
        assert_eq!(a, Attribution::Bytes(0));
    }

    #[test]
    fn host_pids_seen_from_a_namespace_are_unknown_never_zero() {
        let list = [e(31337, 3 << 30)];
        // 31337 is the host pid of this very process; in its namespace it is pid 1.
        let a = attribute([Some(&list), None], 1, OWN, Some(3 << 30), |p| p == 1);
        assert_eq!(a, Attribution::Namespace);
    }

    #[test]
    fn translated_lists_give_the_figure_and_an_empty_list_zero() {
        let list = [e(1, 3 << 30), e(2, 1 << 30)];
        let a = attribute([Some(&list), Some(&[])], 1, OWN, Some(4 << 30), |p| p <= 2);
        assert_eq!(a, Attribution::Bytes(3 << 30));
        let a = attribute([Some(&[]), Some(&[])], 1, OWN, Some(0), |_| false);
        assert_eq!(a, Attribution::Bytes(0));
    }

    #[test]
    fn listed_with_zero_bytes_while_the_device_is_in_use_is_unknown() {
        let list = [e(1, 0)];
        let a = attribute([Some(&list), None], 1, OWN, Some(2 << 30), |p| p == 1);
        assert_eq!(a, Attribution::Namespace);
        // An idle device: 0 is what it is.
        let a = attribute([Some(&list), None], 1, OWN, Some(0), |p| p == 1);
        assert_eq!(a, Attribution::Bytes(0));
    }

    #[test]
    fn both_lists_take_the_larger_and_mig_entries_add_up() {
        let compute = [e(9, 1 << 30), e(9, 2 << 30)];
        let graphics = [e(9, 3 << 30)];
        let a = attribute(
            [Some(&compute), Some(&graphics)],
            9,
            PidNamespace::Initial,
            Some(1),
            |_| true,
        );
        assert_eq!(a, Attribution::Bytes(3 << 30));
        let na = [Entry {
            pid: 9,
            bytes: None,
        }];
        let a = attribute([Some(&na), None], 9, PidNamespace::Initial, Some(1), |_| {
            true
        });
        assert_eq!(a, Attribution::NotReported);
    }

    use proptest::prelude::*;

    /// Lists as a driver may give them: this process (7), another, any pid; any bytes, near
    /// `u64::MAX` often, or none.
    fn list() -> impl Strategy<Value = Vec<Entry>> {
        let pid = prop_oneof![Just(7u32), Just(9u32), any::<u32>()];
        let bytes = proptest::option::of(prop_oneof![any::<u64>(), (u64::MAX - 4096)..=u64::MAX]);
        proptest::collection::vec((pid, bytes), 0..8).prop_map(|v| {
            v.into_iter()
                .map(|(pid, bytes)| Entry { pid, bytes })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any lists attribute without a panic: a figure is this process's exact sum in a
        /// list (the larger of two), and a sum past `u64::MAX` is no figure.
        #[test]
        fn any_process_lists_attribute_without_a_panic(
            compute in proptest::option::of(list()),
            graphics in proptest::option::of(list()),
            host in any::<bool>(),
            used in proptest::option::of(any::<u64>()),
        ) {
            let ns = if host { PidNamespace::Initial } else { OWN };
            let a = attribute([compute.as_deref(), graphics.as_deref()], 7, ns, used, |p| p % 2 == 1);
            let lists = [&compute, &graphics];
            // Exact sums of ours in each list, of the entries with a figure.
            let sums = lists.iter().filter_map(|l| l.as_ref()).map(|l| {
                l.iter().filter(|e| e.pid == 7).filter_map(|e| e.bytes).map(u128::from).sum::<u128>()
            });
            match a {
                Attribution::Bytes(b) => {
                    prop_assert_eq!(Some(u128::from(b)), sums.max());
                }
                Attribution::Overflow => {
                    prop_assert!(sums.max().is_some_and(|s| s > u128::from(u64::MAX)));
                }
                Attribution::NotReported | Attribution::Namespace => {}
            }
        }
    }
}
