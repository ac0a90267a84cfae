//! A deliberately small CSV reader: RFC 4180 fields, one record per line.
//!
//! Supported: `,` separators, `"quoted"` fields with `""` escapes, `\n` or `\r\n` line ends,
//! blank lines (skipped), surrounding whitespace on unquoted fields (trimmed). Not supported:
//! line breaks inside quoted fields (reported as an unterminated quote). Line numbers are
//! 1-based physical lines, so errors point where an editor would.

/// One record and the physical line it came from.
pub(crate) struct Record {
    /// 1-based line number.
    pub(crate) line: usize,
    /// The fields, unquoted.
    pub(crate) fields: Vec<String>,
}

/// Split `text` into records. The error is `(line, reason)`.
pub(crate) fn records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            split_line(l)
                .map(|fields| Record {
                    line: i + 1,
                    fields,
                })
                .map_err(|reason| (i + 1, reason))
        })
        .collect()
}

fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        // Skip leading whitespace of the field.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(format!("unterminated quote in field {}", fields.len() + 1));
                    }
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}` after the closing quote of field {}",
                        fields.len() + 1
                    ));
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim_end().to_owned());
                        return Ok(fields);
                    }
                    Some(',') => {
                        fields.push(field.trim_end().to_owned());
                        break;
                    }
                    Some('"') => {
                        return Err(format!(
                            "stray quote inside unquoted field {}",
                            fields.len() + 1
                        ));
                    }
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(line: &str) -> Vec<String> {
        split_line(line).unwrap()
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(fields("a,b,,c"), ["a", "b", "", "c"]);
        assert_eq!(fields(" a , b "), ["a", "b"]);
        assert_eq!(
            fields(r#""x, y","say ""hi""",z"#),
            ["x, y", r#"say "hi""#, "z"]
        );
        assert_eq!(fields(r#"a,"""#), ["a", ""]);
    }

    #[test]
    fn reports_quote_errors() {
        assert!(
            split_line(r#"a,"b"#)
                .unwrap_err()
                .contains("unterminated quote in field 2")
        );
        assert!(
            split_line(r#"a,"b"c"#)
                .unwrap_err()
                .contains("after the closing quote")
        );
        assert!(split_line(r#"a,b"c"#).unwrap_err().contains("stray quote"));
    }

    #[test]
    fn numbers_physical_lines_and_skips_blank_ones() {
        let r = records("\u{feff}h1,h2\r\n\r\n1,2\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].line, r[1].line), (1, 3));
        assert_eq!(r[0].fields, ["h1", "h2"]);
        assert_eq!(r[1].fields, ["1", "2"]);
    }
}
