//! The specification's `key=value,key=value` lists with percent-encoded values
//! (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`), and
//! `OTEL_EXPORTER_OTLP_COMPRESSION`: read by the pipeline from whatever environment it is
//! given, and handed to the SDK explicitly.

use crate::error::Error;

/// `value` as (key, decoded value) pairs; empty entries are skipped.
///
/// # Errors
/// [`Error::InvalidSetting`] naming `var` for an entry without `=` or with an empty key.
pub(crate) fn parse(var: &'static str, value: &str) -> Result<Vec<(String, String)>, Error> {
    split(value).map_err(|_| Error::InvalidSetting {
        setting: var,
        value: value.to_owned(),
        reason: "must be key=value pairs separated by commas",
    })
}

/// An entry that is not `key=value`: its place in the list (from 1), and the list's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadEntry {
    pub(crate) number: usize,
    pub(crate) of: usize,
}

/// As [`parse`], saying only which entry is wrong (for lists whose values are secrets).
///
/// # Errors
/// The first entry without `=` or with an empty key.
pub(crate) fn split(value: &str) -> Result<Vec<(String, String)>, BadEntry> {
    let entries: Vec<&str> = value.split(',').filter(|p| !p.trim().is_empty()).collect();
    let of = entries.len();
    let mut pairs = Vec::with_capacity(of);
    for (i, entry) in entries.into_iter().enumerate() {
        match entry.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                pairs.push((k.trim().to_owned(), percent_decode(v.trim())));
            }
            _ => return Err(BadEntry { number: i + 1, of }),
        }
    }
    Ok(pairs)
}

/// `%XX` sequences decoded; anything else (a lone `%`, bytes that are not UTF-8) kept as is.
fn percent_decode(v: &str) -> String {
    if !v.contains('%') {
        return v.to_owned();
    }
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| v.to_owned())
}

/// `gzip` or `none`; unset is none.
///
/// # Errors
/// [`Error::InvalidSetting`] naming `var` for anything else (`zstd` is not compiled in).
pub(crate) fn compression(
    var: &'static str,
    value: &str,
) -> Result<Option<opentelemetry_otlp::Compression>, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Some(opentelemetry_otlp::Compression::Gzip)),
        "none" => Ok(None),
        _ => Err(Error::InvalidSetting {
            setting: var,
            value: value.to_owned(),
            reason: "must be gzip or none",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_trimmed_and_decoded() {
        let p = parse("V", "a=1, b = x%20y ,,c=%zz%4").unwrap();
        assert_eq!(
            p,
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned()),
                ("c".to_owned(), "%zz%4".to_owned())
            ]
        );
        assert!(parse("V", "team").is_err());
        assert_eq!(split("a=1,,b"), Err(BadEntry { number: 2, of: 2 }));
        assert!(parse("V", "=x").is_err());
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("%FF"), "%FF");
    }

    #[test]
    fn compression_values() {
        assert_eq!(
            compression("V", "GZIP").unwrap(),
            Some(opentelemetry_otlp::Compression::Gzip)
        );
        assert_eq!(compression("V", "none").unwrap(), None);
        assert!(compression("V", "zstd").is_err());
    }
}
