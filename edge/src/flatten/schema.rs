//! The Silver schema contract (DESIGN §6), in one place.
//!
//! One row per pixel (after binning). The identity columns come first, in this order:
//!
//! | column | Arrow type | meaning |
//! |---|---|---|
//! | `cube_id`, `farm_id`, `field_id`, `sensor_id` | Utf8 | identity of the cube |
//! | `acquisition_time` | Timestamp(µs, "UTC") | acquisition time |
//! | `line`, `sample` | Int32 | pixel position in the (binned) output grid |
//! | `x`, `y` | Float64 | map coordinates of the pixel centre in the cube's CRS |
//! | `pipeline` | Utf8 | `edge` or `batch` |
//! | `calibration_version` | Utf8 | name + hash of the calibration inputs |
//!
//! then one `Float32` column per band of the output grid, named `bNNNN` by its centre in whole
//! nanometres, zero-padded to four digits (`b0400`, `b0410`, …, `b2490`). Reflectance is stored as
//! a plain float so Iceberg readers (which have no 16-bit or unsigned types) see a number; the
//! `field` profile quantises the mantissa before encoding (see the `encoding` module).
//!
//! Invariants: band columns are sorted by wavelength and unique; all identity columns are
//! non-nullable; band values are nullable only in the sense that no-data pixels are dropped, not
//! written, so in practice they are never null.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Identity columns, in order, before the band columns.
pub const ID_COLUMNS: [&str; 11] = [
    "cube_id",
    "farm_id",
    "field_id",
    "sensor_id",
    "acquisition_time",
    "line",
    "sample",
    "x",
    "y",
    "pipeline",
    "calibration_version",
];

/// Schema metadata key holding the comma-separated band centres (nm, as written).
pub const META_GRID: &str = "hsi.grid_nm";
/// Schema metadata key holding the schema version of this contract.
pub const META_SCHEMA: &str = "hsi.schema";
/// The version of this contract (goes into the Kafka `hsi-schema` header too).
pub const SCHEMA_VERSION: &str = "silver.v1";

/// Column name for a band centred at `nm`: `b` + whole nanometres zero-padded to 4 digits.
pub fn band_column_name(nm: f32) -> String {
    format!("b{:04}", nm.round().max(0.0) as u32)
}

/// Parse a band column name back to its wavelength; `None` for identity columns.
pub fn band_wavelength(column: &str) -> Option<f32> {
    let digits = column.strip_prefix('b')?;
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().map(|v| v as f32)
}

/// The Arrow schema for a band grid.
pub fn silver_schema(grid_nm: &[f32]) -> SchemaRef {
    let mut fields = vec![
        Field::new("cube_id", DataType::Utf8, false),
        Field::new("farm_id", DataType::Utf8, false),
        Field::new("field_id", DataType::Utf8, false),
        Field::new("sensor_id", DataType::Utf8, false),
        Field::new(
            "acquisition_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("line", DataType::Int32, false),
        Field::new("sample", DataType::Int32, false),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
        Field::new("pipeline", DataType::Utf8, false),
        Field::new("calibration_version", DataType::Utf8, false),
    ];
    fields.extend(
        grid_nm
            .iter()
            .map(|&nm| Field::new(band_column_name(nm), DataType::Float32, true)),
    );
    let grid = grid_nm
        .iter()
        .map(|nm| format!("{nm}"))
        .collect::<Vec<_>>()
        .join(",");
    let metadata = [
        (META_GRID.to_owned(), grid),
        (META_SCHEMA.to_owned(), SCHEMA_VERSION.to_owned()),
    ]
    .into_iter()
    .collect();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_names_are_zero_padded_nm() {
        assert_eq!(band_column_name(400.0), "b0400");
        assert_eq!(band_column_name(799.6), "b0800");
        assert_eq!(band_column_name(2490.0), "b2490");
        assert_eq!(band_wavelength("b0860"), Some(860.0));
        assert_eq!(band_wavelength("cube_id"), None);
        assert_eq!(band_wavelength("b86"), None);
    }

    #[test]
    fn schema_has_ids_then_bands() {
        let s = silver_schema(&[400.0, 410.0]);
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(&names[..ID_COLUMNS.len()], &ID_COLUMNS);
        assert_eq!(&names[ID_COLUMNS.len()..], &["b0400", "b0410"]);
        assert_eq!(s.metadata()[META_GRID], "400,410");
    }
}
