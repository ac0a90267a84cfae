//! The ENVI header's surface syntax: text → `key = value` entries.
//!
//! - The first non-blank line is `ENVI` (case-insensitive; a UTF-8 byte-order mark is skipped).
//! - Every other entry is `key = value`. Keys are case-insensitive and may contain spaces
//!   (`data type`, `wavelength units`); they are normalised to lower case with single spaces.
//! - A value that starts with `{` runs to the next `}`, across lines if need be; the entry's value
//!   is the text between the braces, trimmed (newlines kept). Text after the `}` is ignored.
//!   Only the first `=` of a line splits it, so `{ ..., units=Meters }` is part of a value.
//! - Lines starting with `;` (outside braces) are comments; blank lines are skipped.
//! - A line outside braces without `=` is ignored with a warning (GDAL and spectral-python do
//!   the same; some writers emit stray text).
//! - A key given twice keeps its last value.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Key used in errors about the `ENVI` signature line.
pub(crate) const SIGNATURE_KEY: &str = "ENVI";

/// Split header text into normalised keys and raw values.
pub(crate) fn entries(path: &Path, text: &str) -> Result<BTreeMap<String, String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate();

    let first = lines
        .by_ref()
        .map(|(_, l)| l.trim())
        .find(|l| !l.is_empty());
    match first {
        Some(l) if l.eq_ignore_ascii_case("ENVI") => {}
        Some(l) => {
            return Err(Error::invalid(
                path,
                SIGNATURE_KEY,
                format!(
                    "not an ENVI header: the first line must be `ENVI`, found `{}`",
                    preview(l)
                ),
            ));
        }
        None => {
            return Err(Error::invalid(
                path,
                SIGNATURE_KEY,
                "not an ENVI header: the file is empty",
            ));
        }
    }

    let mut out = BTreeMap::new();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let Some((raw_key, raw_value)) = line.split_once('=') else {
            tracing::warn!(
                path = %path.display(),
                line = n + 1,
                "ENVI header: ignoring a line without `=`"
            );
            continue;
        };
        let key = normalise_key(raw_key);
        if key.is_empty() {
            tracing::warn!(
                path = %path.display(),
                line = n + 1,
                "ENVI header: ignoring an entry with an empty key"
            );
            continue;
        }
        let raw_value = raw_value.trim();
        let value = match raw_value.strip_prefix('{') {
            None => raw_value.to_owned(),
            Some(mut rest) => {
                let mut value = String::new();
                loop {
                    if let Some((inside, _after)) = rest.split_once('}') {
                        value.push_str(inside);
                        break;
                    }
                    value.push_str(rest);
                    value.push('\n');
                    match lines.next() {
                        Some((_, next)) => rest = next,
                        None => {
                            return Err(Error::invalid(
                                path,
                                key,
                                format!("the `{{` opened on line {} is never closed", n + 1),
                            ));
                        }
                    }
                }
                value.trim().to_owned()
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

/// Lower-case, with runs of whitespace collapsed to one space.
fn normalise_key(raw: &str) -> String {
    raw.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// At most 40 characters of a line, for error messages.
fn preview(line: &str) -> String {
    let mut s: String = line.chars().take(40).collect();
    if line.chars().nth(40).is_some() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_span_lines_and_keys_normalise() {
        let text = "ENVI\n; a comment\nDescription = {\n  first = line\n  second}\n\
                    Data   Type = 4\nstray text\nmap info = { UTM , 1 , units=Meters }\n\
                    bands = 3\nbands = 5\n";
        let e = entries(Path::new("a.hdr"), text).unwrap();
        assert_eq!(e["description"], "first = line\n  second");
        assert_eq!(e["data type"], "4");
        assert_eq!(e["map info"], "UTM , 1 , units=Meters");
        assert_eq!(e["bands"], "5");
        assert_eq!(e.len(), 4);
    }

    #[test]
    fn signature_and_unterminated_brace_are_errors() {
        let err = entries(Path::new("a.hdr"), "NOT ENVI\nbands = 3").unwrap_err();
        assert!(err.to_string().contains("a.hdr: invalid `ENVI`"), "{err}");
        let err = entries(Path::new("a.hdr"), "").unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = entries(Path::new("a.hdr"), "\u{feff}envi\nwavelength = { 1,\n 2").unwrap_err();
        assert!(err.to_string().contains("`wavelength`"), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
