//! Reading the process environment once, for the variables the crate handles: a value that is
//! not UTF-8 is an error naming the variable, never a silent "unset".

use std::collections::HashMap;

use crate::error::Error;

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
                value: if holds_secrets(name) {
                    HIDDEN.to_owned()
                } else {
                    raw.to_string_lossy().into_owned()
                },
                reason: "is not valid UTF-8",
            })?;
            found.insert(name, value);
        }
    }
    Ok(found)
}

/// What an error shows instead of a value that may hold a secret.
pub(crate) const HIDDEN: &str = "<hidden>";

/// Whether a variable's values may hold secrets, never to be shown: the OTLP header lists
/// (`OTEL_EXPORTER_OTLP_HEADERS` and its per-signal forms), whose values are API keys.
pub(crate) fn holds_secrets(name: &str) -> bool {
    name.starts_with("OTEL_EXPORTER_OTLP_") && name.ends_with("_HEADERS")
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

/// The specification's limit on attribute value length; the crate applies it to every
/// request-derived value it puts on a span (user agent, path, host, RPC names).
#[cfg_attr(not(any(feature = "tower", feature = "otlp")), allow(dead_code))]
pub(crate) const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Characters kept of a request-derived value when the variable is unset: headers can be as
/// large as the server allows, and the SDK's queue holds 2048 spans.
#[cfg_attr(not(any(feature = "tower", feature = "otlp")), allow(dead_code))]
pub(crate) const DEFAULT_VALUE_LENGTH_LIMIT: usize = 1024;

/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: a whole number of characters, at least 1; unset or
/// empty is [`DEFAULT_VALUE_LENGTH_LIMIT`].
///
/// # Errors
/// [`Error::InvalidSetting`] naming the variable.
#[cfg_attr(not(any(feature = "tower", feature = "otlp")), allow(dead_code))]
pub(crate) fn value_length_limit(value: Option<&str>) -> Result<usize, Error> {
    let Some(v) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(DEFAULT_VALUE_LENGTH_LIMIT);
    };
    match v.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n as usize),
        _ => Err(Error::InvalidSetting {
            setting: OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            value: v.to_owned(),
            reason: "must be a whole number of characters from 1 to 4294967295",
        }),
    }
}

/// `value` cut to at most `limit` characters (at a character boundary).
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn truncate(value: &str, limit: usize) -> &str {
    if value.len() <= limit {
        return value;
    }
    value
        .char_indices()
        .nth(limit)
        .map_or(value, |(i, _)| &value[..i])
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
    fn value_length_limit_and_truncation() {
        assert_eq!(super::value_length_limit(None).unwrap(), 1024);
        assert_eq!(super::value_length_limit(Some(" ")).unwrap(), 1024);
        assert_eq!(super::value_length_limit(Some("64")).unwrap(), 64);
        for bad in ["0", "-1", "ten", "1.5", "99999999999"] {
            let err = super::value_length_limit(Some(bad))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
                "{bad}: {err}"
            );
        }
        assert_eq!(super::truncate("abcdef", 3), "abc");
        assert_eq!(super::truncate("abc", 3), "abc");
        assert_eq!(super::truncate("ééé", 2), "éé");
        assert_eq!(super::truncate("", 2), "");
    }

    proptest! {
        #[test]
        fn truncation_keeps_a_prefix_of_at_most_limit_chars(s in any::<String>(), n in 1usize..50) {
            let t = super::truncate(&s, n);
            prop_assert!(s.starts_with(t));
            prop_assert!(t.chars().count() <= n);
            prop_assert_eq!(t.chars().count(), s.chars().count().min(n));
        }
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
