//! Well-Known Text for the two geometry types plot boundaries use: `POLYGON` and
//! `MULTIPOLYGON`.
//!
//! Coordinates are written with Rust's shortest round-trip formatting of `f64`, so
//! `parse(write(g)) == g` exactly. The parser accepts what this module writes and the usual
//! variations (any case, any whitespace, a third ordinate which is ignored); it rejects other
//! geometry types and `EMPTY`.

use std::fmt::Write as _;

/// A ring: a closed sequence of `(x, y)` positions, first == last.
pub type Ring = Vec<(f64, f64)>;
/// A polygon: the outer ring, then its holes.
pub type Polygon = Vec<Ring>;

/// Write a multi-part geometry: one part is a `POLYGON`, more are a `MULTIPOLYGON`.
pub fn write(parts: &[Polygon]) -> String {
    let mut out = String::new();
    match parts {
        [single] => {
            out.push_str("POLYGON ");
            write_polygon(&mut out, single);
        }
        _ => {
            out.push_str("MULTIPOLYGON (");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_polygon(&mut out, part);
            }
            out.push(')');
        }
    }
    out
}

fn write_polygon(out: &mut String, rings: &[Ring]) {
    out.push('(');
    for (i, ring) in rings.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (j, (x, y)) in ring.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "{x} {y}");
        }
        out.push(')');
    }
    out.push(')');
}

/// Parse a `POLYGON` or `MULTIPOLYGON` into its parts. The error is a human-readable reason.
pub fn parse(text: &str) -> Result<Vec<Polygon>, String> {
    let mut p = Parser {
        tokens: tokenize(text)?,
        pos: 0,
    };
    let kind = match p.next() {
        Some(Token::Word(w)) => w.to_ascii_uppercase(),
        other => {
            return Err(format!(
                "expected a geometry type, found {}",
                show(other.as_ref())
            ));
        }
    };
    // Optional dimension marker (`POLYGON Z (...)`).
    if let Some(Token::Word(w)) = p.peek() {
        if matches!(w.to_ascii_uppercase().as_str(), "Z" | "M" | "ZM") {
            p.pos += 1;
        } else {
            return Err(format!("`{w}` geometries are not supported"));
        }
    }
    let parts = match kind.as_str() {
        "POLYGON" => vec![p.polygon()?],
        "MULTIPOLYGON" => p.list(Parser::polygon)?,
        other => {
            return Err(format!(
                "geometry type {other} is not supported (expected POLYGON or MULTIPOLYGON)"
            ));
        }
    };
    if let Some(t) = p.next() {
        return Err(format!("unexpected {} after the geometry", show(Some(&t))));
    }
    Ok(parts)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Number(f64),
    Open,
    Close,
    Comma,
}

fn show(t: Option<&Token>) -> String {
    match t {
        None => "end of text".into(),
        Some(Token::Word(w)) => format!("`{w}`"),
        Some(Token::Number(n)) => format!("number {n}"),
        Some(Token::Open) => "`(`".into(),
        Some(Token::Close) => "`)`".into(),
        Some(Token::Comma) => "`,`".into(),
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Comma,
                });
            }
            _ => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | ',') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let word = &text[start..end];
                if word.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    tokens.push(Token::Word(word.to_owned()));
                } else {
                    let n: f64 = word
                        .parse()
                        .map_err(|_| format!("`{word}` is not a number"))?;
                    if !n.is_finite() {
                        return Err(format!("`{word}` is not a finite number"));
                    }
                    tokens.push(Token::Number(n));
                }
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, want: &Token) -> Result<(), String> {
        match self.next() {
            Some(ref t) if t == want => Ok(()),
            other => Err(format!(
                "expected {}, found {}",
                show(Some(want)),
                show(other.as_ref())
            )),
        }
    }

    /// `( item, item, ... )`
    fn list<T>(&mut self, item: fn(&mut Self) -> Result<T, String>) -> Result<Vec<T>, String> {
        if let Some(Token::Word(w)) = self.peek() {
            return Err(format!("`{w}` is not supported here"));
        }
        self.expect(&Token::Open)?;
        let mut items = vec![item(self)?];
        loop {
            match self.next() {
                Some(Token::Comma) => items.push(item(self)?),
                Some(Token::Close) => return Ok(items),
                other => {
                    return Err(format!(
                        "expected `,` or `)`, found {}",
                        show(other.as_ref())
                    ));
                }
            }
        }
    }

    fn polygon(&mut self) -> Result<Polygon, String> {
        self.list(Parser::ring)
    }

    fn ring(&mut self) -> Result<Ring, String> {
        self.list(Parser::position)
    }

    fn position(&mut self) -> Result<(f64, f64), String> {
        let mut ordinates = Vec::with_capacity(3);
        while let Some(Token::Number(n)) = self.peek() {
            ordinates.push(*n);
            self.pos += 1;
        }
        match ordinates[..] {
            [x, y] | [x, y, _] | [x, y, _, _] => Ok((x, y)),
            _ if ordinates.len() < 2 => Err(format!(
                "a position needs 2 to 4 numbers, found {} then {}",
                ordinates.len(),
                show(self.peek())
            )),
            _ => Err(format!(
                "a position needs 2 to 4 numbers, found {}",
                ordinates.len()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_with_hole_round_trips() {
        let outer = vec![
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (0.0, 0.0),
        ];
        let hole = vec![(2.5, 2.5), (2.5, 7.5), (7.5, 7.5), (7.5, 2.5), (2.5, 2.5)];
        let parts = vec![vec![outer, hole]];
        let text = write(&parts);
        assert_eq!(
            text,
            "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2.5 2.5, 2.5 7.5, 7.5 7.5, 7.5 2.5, 2.5 2.5))"
        );
        assert_eq!(parse(&text).unwrap(), parts);
    }

    #[test]
    fn multipolygon_round_trips_exactly() {
        let a = vec![
            (500000.1, 4100000.3),
            (500001.0, 4100000.3),
            (500001.0, 4100001.7),
            (500000.1, 4100000.3),
        ];
        let b = vec![(1e-7, 0.1), (0.2, 0.1), (0.2, 0.3), (1e-7, 0.1)];
        let parts = vec![vec![a], vec![b]];
        let text = write(&parts);
        assert!(text.starts_with("MULTIPOLYGON (((500000.1 4100000.3, "));
        assert_eq!(parse(&text).unwrap(), parts);
    }

    #[test]
    fn parser_accepts_variants_and_rejects_others() {
        let p = parse("polygon Z((0 0 1,1 0 1,1 1 1,0 0 1))").unwrap();
        assert_eq!(
            p,
            vec![vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]]]
        );
        assert!(parse("POINT (1 2)").unwrap_err().contains("POINT"));
        assert!(parse("POLYGON EMPTY").unwrap_err().contains("EMPTY"));
        assert!(parse("POLYGON ((0 0, 1 x))").unwrap_err().contains("`x`"));
        assert!(
            parse("POLYGON ((0 0, 1))")
                .unwrap_err()
                .contains("2 to 4 numbers")
        );
        assert!(
            parse("POLYGON ((0 0, 1 1)) junk")
                .unwrap_err()
                .contains("after")
        );
    }
}
