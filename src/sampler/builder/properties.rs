//! Property tests of the builder: any value is a setting or an error naming it.

use super::*;
use crate::env::tests::value;
use proptest::prelude::*;
use std::collections::HashMap;

const VARIABLES: [&str; 5] = [
    ENV_INTERVAL_MS,
    ENV_HISTORY,
    ENV_GPU,
    ENV_NVML_LIB,
    ENV_CUDA_VISIBLE_DEVICES,
];

proptest! {
    #[test]
    fn any_environment_resolves_in_range_or_names_a_variable_it_was_given(
        vars in proptest::collection::hash_map(
            proptest::sample::select(VARIABLES.to_vec()),
            value(),
            0..5,
        )
    ) {
        let env: HashMap<&str, String> = vars.clone();
        match SamplerBuilder::default().resolve(|name| env.get(name).cloned()) {
            Ok(s) => {
                prop_assert!(s.interval >= Duration::from_millis(1));
                prop_assert!(s.interval <= Duration::from_secs(3600));
                prop_assert!((1..=1_000_000).contains(&s.history));
                if let Some(lib) = &s.nvml_library {
                    prop_assert!(!lib.as_os_str().to_string_lossy().trim().is_empty());
                }
            }
            Err(Error::InvalidSetting { setting, value, .. }) => {
                prop_assert_eq!(vars.get(setting), Some(&value), "{} was not given", setting);
                prop_assert!(!value.trim().is_empty(), "empty {} counts as unset", setting);
            }
            Err(other) => prop_assert!(false, "not a setting error: {other}"),
        }
    }

    #[test]
    fn any_builder_values_resolve_in_range_or_name_the_method(
        interval_ns in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
        history in prop_oneof![Just(0usize), Just(usize::MAX), any::<usize>()],
    ) {
        let b = SamplerBuilder::default()
            .interval(Duration::from_nanos(interval_ns))
            .history(history);
        match b.resolve(|_| None) {
            Ok(s) => {
                prop_assert_eq!(s.interval, Duration::from_nanos(interval_ns));
                prop_assert_eq!(s.history, history);
            }
            Err(Error::InvalidSetting { setting, .. }) => prop_assert!(
                setting == "SamplerBuilder::interval" || setting == "SamplerBuilder::history",
                "{}", setting
            ),
            Err(other) => prop_assert!(false, "not a setting error: {other}"),
        }
    }
}
