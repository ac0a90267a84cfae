//! Reading and validating a chunk on the consumer side.

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{ChunkMeta, invalid, schema_id};
use crate::error::Result;
use crate::flatten::schema::{ID_COLUMNS, band_wavelength, silver_schema};

/// A validated chunk: its headers, schema and rows.
#[derive(Debug, Clone)]
pub struct DecodedChunk {
    /// What the headers said (checked against the payload).
    pub meta: ChunkMeta,
    /// The payload's Arrow schema (a valid Silver schema).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// Total rows.
    pub rows: usize,
}

/// Decode and validate one chunk. `origin` names the record in errors
/// (e.g. `hsi.silver.v1/2@1234`). Errors are never retryable: the chunk is bad.
pub fn decode(origin: &str, meta: ChunkMeta, payload: &[u8]) -> Result<DecodedChunk> {
    let bytes = Bytes::copy_from_slice(payload);
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(|e| invalid(origin, "value", &format!("not a Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    check_silver_schema(origin, &schema)?;
    let id = schema_id(&schema);
    if id != meta.schema {
        return Err(invalid(
            origin,
            super::header::SCHEMA,
            &format!(
                "header says `{}` but the payload's schema is `{id}`",
                meta.schema
            ),
        ));
    }
    let reader = builder
        .build()
        .map_err(|e| invalid(origin, "value", &format!("unreadable Parquet: {e}")))?;
    let mut batches = Vec::new();
    let mut rows = 0;
    for batch in reader {
        let batch =
            batch.map_err(|e| invalid(origin, "value", &format!("unreadable Parquet: {e}")))?;
        for (column, expected) in [
            ("cube_id", &meta.cube_id),
            ("calibration_version", &meta.calibration_version),
        ] {
            let values = batch
                .column_by_name(column)
                .and_then(|c| c.as_string_opt::<i32>())
                .ok_or_else(|| invalid(origin, column, "missing or not a string column"))?;
            if values.null_count() > 0 || values.iter().any(|v| v != Some(expected.as_str())) {
                return Err(invalid(
                    origin,
                    column,
                    &format!("rows do not all carry the header value `{expected}`"),
                ));
            }
        }
        rows += batch.num_rows();
        batches.push(batch);
    }
    Ok(DecodedChunk {
        meta,
        schema,
        batches,
        rows,
    })
}

/// Check that `schema` follows the Silver contract: the identity columns in order with their
/// types, then `Float32` band columns named `bNNNN` with strictly increasing wavelengths.
pub fn check_silver_schema(origin: &str, schema: &Schema) -> Result<()> {
    let contract = silver_schema(&[]);
    let fields = schema.fields();
    if fields.len() <= ID_COLUMNS.len() {
        return Err(invalid(
            origin,
            "schema",
            &format!("{} columns: no band columns", fields.len()),
        ));
    }
    for (want, got) in contract.fields().iter().zip(fields.iter()) {
        if want.name() != got.name() || !types_match(want.data_type(), got.data_type()) {
            return Err(invalid(
                origin,
                got.name(),
                &format!(
                    "expected column `{}` of type {}, found `{}` of type {}",
                    want.name(),
                    want.data_type(),
                    got.name(),
                    got.data_type()
                ),
            ));
        }
    }
    let mut last = f32::NEG_INFINITY;
    for f in &fields[ID_COLUMNS.len()..] {
        let nm = band_wavelength(f.name())
            .ok_or_else(|| invalid(origin, f.name(), "not a band column (bNNNN)"))?;
        if f.data_type() != &DataType::Float32 {
            return Err(invalid(
                origin,
                f.name(),
                &format!("band columns are Float32, found {}", f.data_type()),
            ));
        }
        if nm <= last {
            return Err(invalid(
                origin,
                f.name(),
                "band columns must be sorted by wavelength and unique",
            ));
        }
        last = nm;
    }
    Ok(())
}

/// Timestamps match on unit; the zone must be UTC however it is spelled.
fn types_match(want: &DataType, got: &DataType) -> bool {
    match (want, got) {
        (DataType::Timestamp(u1, _), DataType::Timestamp(u2, Some(tz))) => {
            u1 == u2 && matches!(tz.as_ref(), "UTC" | "+00:00" | "Z" | "Etc/UTC")
        }
        _ => want == got,
    }
}
