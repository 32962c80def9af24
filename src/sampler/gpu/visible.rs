//! `CUDA_VISIBLE_DEVICES`: which devices this process sees, and in which order.
//!
//! Follows CUDA's rules: a comma-separated list of ordinals or UUIDs (`GPU-...`, which may be
//! abbreviated to a unique prefix, or `MIG-...`); the list stops at the first entry that names
//! no device (so `-1` hides every device); unset means every device in order.

/// One entry of `CUDA_VISIBLE_DEVICES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    /// A CUDA ordinal among all devices.
    Ordinal(u32),
    /// A full or abbreviated `GPU-` UUID.
    GpuUuid(String),
    /// A MIG instance UUID.
    MigUuid(String),
}

/// Parses the variable's value. Entries after the first unparsable one are dropped, as CUDA
/// does; the second value is that entry, for a warning.
pub(crate) fn parse(value: &str) -> (Vec<Selector>, Option<String>) {
    let mut out = Vec::new();
    if value.trim().is_empty() {
        return (out, None);
    }
    for raw in value.split(',') {
        let entry = raw.trim();
        let selector = if let Ok(n) = entry.parse::<u32>() {
            Selector::Ordinal(n)
        } else if entry.len() > 4 && entry.starts_with("GPU-") {
            Selector::GpuUuid(entry.to_owned())
        } else if entry.len() > 4 && entry.starts_with("MIG-") {
            Selector::MigUuid(entry.to_owned())
        } else {
            return (out, Some(entry.to_owned()));
        };
        out.push(selector);
    }
    (out, None)
}

/// Where a selector points, given the UUIDs of all devices in CUDA order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Position in the list of all devices.
    Device(usize),
    /// A MIG instance, to be looked up by UUID.
    Mig(String),
}

/// Resolves selectors against all devices' UUIDs (CUDA order). Stops at the first selector that
/// names no device, an ambiguous prefix or a repeated device; returns it for a warning.
pub(crate) fn resolve(selectors: &[Selector], uuids: &[&str]) -> (Vec<Resolved>, Option<String>) {
    let mut out = Vec::new();
    for selector in selectors {
        let found = match selector {
            Selector::Ordinal(n) => uuids.get(*n as usize).map(|_| *n as usize),
            Selector::GpuUuid(prefix) => {
                let mut matches = uuids
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.starts_with(prefix.as_str()));
                match (matches.next(), matches.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            }
            Selector::MigUuid(uuid) => {
                out.push(Resolved::Mig(uuid.clone()));
                continue;
            }
        };
        match found {
            Some(i) if !out.contains(&Resolved::Device(i)) => out.push(Resolved::Device(i)),
            _ => return (out, Some(describe(selector))),
        }
    }
    (out, None)
}

fn describe(selector: &Selector) -> String {
    match selector {
        Selector::Ordinal(n) => n.to_string(),
        Selector::GpuUuid(u) | Selector::MigUuid(u) => u.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&str; 3] = ["GPU-aaaa-1111", "GPU-bbbb-2222", "GPU-abcd-3333"];

    fn run(value: &str) -> (Vec<Resolved>, Option<String>) {
        let (selectors, bad) = parse(value);
        let (resolved, unresolved) = resolve(&selectors, &ALL);
        (resolved, bad.or(unresolved))
    }

    #[test]
    fn ordinals_select_and_reorder() {
        assert_eq!(run("2,0").0, vec![Resolved::Device(2), Resolved::Device(0)]);
        assert_eq!(run(" 1 ").0, vec![Resolved::Device(1)]);
    }

    #[test]
    fn uuids_and_unique_prefixes_select() {
        assert_eq!(
            run("GPU-bbbb-2222,GPU-abc").0,
            vec![Resolved::Device(1), Resolved::Device(2)]
        );
    }

    #[test]
    fn list_stops_at_first_invalid_entry() {
        assert_eq!(
            run("1,-1,0"),
            (vec![Resolved::Device(1)], Some("-1".into()))
        );
        assert_eq!(run("0,7,1"), (vec![Resolved::Device(0)], Some("7".into())));
        // "GPU-a" matches two devices: ambiguous, so the list ends there.
        assert_eq!(run("GPU-a,1"), (vec![], Some("GPU-a".into())));
        assert_eq!(run("0,0"), (vec![Resolved::Device(0)], Some("0".into())));
    }

    #[test]
    fn empty_hides_everything() {
        assert_eq!(run(""), (vec![], None));
        assert_eq!(run("-1").0, vec![]);
    }

    #[test]
    fn mig_uuids_are_kept_for_lookup() {
        assert_eq!(
            run("MIG-1234,0").0,
            vec![Resolved::Mig("MIG-1234".into()), Resolved::Device(0)]
        );
    }
}
