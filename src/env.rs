//! Reading the process environment once, for the variables the crate handles: a value that is
//! not UTF-8 is an error naming the variable, never a silent "unset".

use std::collections::HashMap;

use crate::Error;

/// The values of `names` in the process environment (absent ones left out).
///
/// # Errors
/// [`Error::InvalidSetting`] naming the first variable whose value is not UTF-8.
pub(crate) fn read(names: &[&'static str]) -> Result<HashMap<&'static str, String>, Error> {
    let mut found = HashMap::new();
    for &name in names {
        if let Some(value) = std::env::var_os(name) {
            let value = value.into_string().map_err(|raw| Error::InvalidSetting {
                setting: name,
                value: raw.to_string_lossy().into_owned(),
                reason: "is not valid UTF-8",
            })?;
            found.insert(name, value);
        }
    }
    Ok(found)
}

/// A setting's value with "empty means unset" applied, as the OpenTelemetry specification
/// says of its variables; the crate's own `RESMON_*` variables follow the same rule.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// A switch: `1`/`true`/`on`/`yes` or `0`/`false`/`off`/`no`, any case; `None` for anything
/// else.
pub(crate) fn switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    /// Values a person or a template might leave in a variable, for the property tests of
    /// every parser: empty, blank, negative, zero, huge, fractional, words, URLs of every
    /// shape, and any Unicode text.
    pub(crate) fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("  ".to_owned()),
            Just("-1".to_owned()),
            Just("0".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1.5".to_owned()),
            Just("1e309".to_owned()),
            Just("NaN".to_owned()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "(http|https|grpc|)(://)?[a-z0-9.\\[\\]:]{0,20}(/[a-z0-9/]{0,10})?",
            "[a-zA-Z0-9:/._,= -]{0,40}",
            any::<String>(),
        ]
    }

    #[test]
    fn switches_take_the_usual_spellings_only() {
        for on in ["1", "true", "ON", " yes "] {
            assert_eq!(super::switch(on), Some(true), "{on}");
        }
        for off in ["0", "False", "off", "no"] {
            assert_eq!(super::switch(off), Some(false), "{off}");
        }
        for neither in ["", "2", "enabled", "-1"] {
            assert_eq!(super::switch(neither), None, "{neither}");
        }
    }
}
