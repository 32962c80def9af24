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
