//! Yield history: CSV in, [`YieldRow`]s and `ref.yield_history` batches out.
//!
//! ## Input format
//!
//! A CSV file with a header line naming at least these columns, in any order (other columns
//! are ignored):
//!
//! | column | type | constraint |
//! |---|---|---|
//! | `farm_id`, `field_id`, `line_id` | text | non-empty |
//! | `season` | integer | a year, 1000–9999 |
//! | `yield_t_ha` | decimal | finite, ≥ 0 (tonnes per hectare) |
//!
//! Quoting follows RFC 4180 (see the private `csv` module); blank lines are skipped. A file
//! with only a header is a valid empty history; an empty file is an error (the header is
//! required). Every rejection is an [`Error::InvalidInput`] naming the file, the line number
//! and the column.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow_array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::csv;
use crate::error::{Error, Result};
use crate::gold::columns::{
    f64_column, i32_column, make_batch, required, required_str, str_column,
};

/// The Iceberg table these rows go to.
pub const TABLE: &str = "ref.yield_history";

/// The columns the header must name.
pub const COLUMNS: [&str; 5] = ["farm_id", "field_id", "line_id", "season", "yield_t_ha"];

/// One harvested yield of a line in a field and season.
#[derive(Debug, Clone, PartialEq)]
pub struct YieldRow {
    /// Farm identifier.
    pub farm_id: String,
    /// Field identifier.
    pub field_id: String,
    /// Breeding line.
    pub line_id: String,
    /// Season (harvest year).
    pub season: i32,
    /// Yield in tonnes per hectare.
    pub yield_t_ha: f64,
}

/// The Arrow schema of `ref.yield_history`.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("farm_id", DataType::Utf8, false),
            Field::new("field_id", DataType::Utf8, false),
            Field::new("line_id", DataType::Utf8, false),
            Field::new("season", DataType::Int32, false),
            Field::new("yield_t_ha", DataType::Float64, false),
        ]))
    });
    SCHEMA.clone()
}

/// Read and parse a yield-history CSV file.
pub fn read_yields(path: &Path) -> Result<Vec<YieldRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_yields(&text, &path.display().to_string())
}

/// Parse yield-history CSV text; `origin` names the file in errors.
pub fn parse_yields(text: &str, origin: &str) -> Result<Vec<YieldRow>> {
    let records = csv::records(text)
        .map_err(|(line, reason)| Error::invalid_input(origin, format!("line {line}"), reason))?;
    let Some((header, body)) = records.split_first() else {
        return Err(Error::invalid_input(
            origin,
            "line 1",
            format!(
                "empty file: a header line naming {} is required",
                COLUMNS.join(",")
            ),
        ));
    };
    let mut index = [0usize; COLUMNS.len()];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        let mut found = header.fields.iter().enumerate().filter(|(_, f)| *f == name);
        *slot = match (found.next(), found.next()) {
            (Some((i, _)), None) => i,
            (None, _) => {
                return Err(Error::invalid_input(
                    origin,
                    format!("line {}, column {name}", header.line),
                    format!(
                        "missing column `{name}` in header {:?}",
                        header.fields.join(",")
                    ),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Error::invalid_input(
                    origin,
                    format!("line {}, column {name}", header.line),
                    format!("column `{name}` appears more than once in the header"),
                ));
            }
        };
    }
    let width = header.fields.len();
    body.iter()
        .map(|rec| {
            if rec.fields.len() != width {
                return Err(Error::invalid_input(
                    origin,
                    format!("line {}", rec.line),
                    format!(
                        "expected {width} fields like the header, found {}",
                        rec.fields.len()
                    ),
                ));
            }
            let at = |k: usize| (&rec.fields[index[k]], COLUMNS[k]);
            let bad = |col: &str, reason: String| {
                Error::invalid_input(origin, format!("line {}, column {col}", rec.line), reason)
            };
            let text = |k: usize| {
                let (v, col) = at(k);
                if v.is_empty() {
                    Err(bad(col, "value must not be empty".into()))
                } else {
                    Ok(v.clone())
                }
            };
            let (farm_id, field_id, line_id) = (text(0)?, text(1)?, text(2)?);
            let (season_text, season_col) = at(3);
            let season: i32 = season_text
                .parse()
                .ok()
                .filter(|y| (1000..=9999).contains(y))
                .ok_or_else(|| {
                    bad(
                        season_col,
                        format!("`{season_text}` is not a year (1000-9999)"),
                    )
                })?;
            let (yield_text, yield_col) = at(4);
            let yield_t_ha: f64 = yield_text
                .parse()
                .ok()
                .filter(|y: &f64| y.is_finite() && *y >= 0.0)
                .ok_or_else(|| {
                    bad(
                        yield_col,
                        format!("`{yield_text}` is not a finite number ≥ 0"),
                    )
                })?;
            Ok(YieldRow {
                farm_id,
                field_id,
                line_id,
                season,
                yield_t_ha,
            })
        })
        .collect()
}

/// Build a `ref.yield_history` batch (schema [`arrow_schema()`]).
pub fn to_record_batch(rows: &[YieldRow]) -> Result<RecordBatch> {
    let strings = |f: fn(&YieldRow) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.farm_id),
        strings(|r| &r.field_id),
        strings(|r| &r.line_id),
        Arc::new(rows.iter().map(|r| r.season).collect::<Int32Array>()),
        Arc::new(rows.iter().map(|r| r.yield_t_ha).collect::<Float64Array>()),
    ];
    make_batch(TABLE, arrow_schema(), columns)
}

/// Read rows back from a `ref.yield_history` batch.
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<YieldRow>> {
    let farm = str_column(batch, TABLE, "farm_id")?;
    let field = str_column(batch, TABLE, "field_id")?;
    let line = str_column(batch, TABLE, "line_id")?;
    let season = i32_column(batch, TABLE, "season")?;
    let yields = f64_column(batch, TABLE, "yield_t_ha")?;
    (0..batch.num_rows())
        .map(|i| {
            Ok(YieldRow {
                farm_id: required_str(&farm, TABLE, "farm_id", i)?.to_owned(),
                field_id: required_str(&field, TABLE, "field_id", i)?.to_owned(),
                line_id: required_str(&line, TABLE, "line_id", i)?.to_owned(),
                season: required(season, TABLE, "season", i)?,
                yield_t_ha: required(yields, TABLE, "yield_t_ha", i)?,
            })
        })
        .collect()
}
