//! Arrow ⇄ Iceberg schemas, and fitting incoming batches to a table's current schema.
//!
//! Incoming batches (from the edge flattening, the Gold computation, …) are matched to the
//! table **by column name**:
//!
//! - columns are reordered to the table's order and cast to the table's Arrow type where the
//!   two differ only in representation (`Timestamp(µs, "UTC")` → `Timestamp(µs, "+00:00")`,
//!   list element names, `LargeUtf8` → `Utf8`);
//! - a table column the batch lacks is filled with nulls if it is optional, and is an error if
//!   it is required;
//! - a batch column the table lacks is an error (evolve the schema first, as
//!   [`crate::silver`] does for new band columns);
//! - the resulting batch carries the table's Arrow schema, including the `PARQUET:field_id`
//!   metadata the Parquet writer needs to stamp Iceberg field ids.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use iceberg::arrow::{arrow_schema_to_schema_auto_assign_ids, schema_to_arrow_schema};
use iceberg::spec::Schema as IcebergSchema;

use crate::error::{Error, Result};

/// Convert an Arrow schema to an Iceberg schema, assigning field ids 1, 2, … in order.
///
/// Non-nullable Arrow fields become `required` Iceberg fields. Arrow field-id metadata, if
/// any, is ignored (a new table always gets fresh ids).
pub fn iceberg_schema(table: &str, arrow: &ArrowSchema) -> Result<IcebergSchema> {
    let stripped = ArrowSchema::new(
        arrow
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_metadata(Default::default()))
            .collect::<Vec<Field>>(),
    );
    arrow_schema_to_schema_auto_assign_ids(&stripped)
        .map_err(Error::iceberg(format!("convert Arrow schema of {table}")))
}

/// The Arrow schema of an Iceberg schema (with `PARQUET:field_id` metadata).
pub fn arrow_schema(table: &str, schema: &IcebergSchema) -> Result<ArrowSchemaRef> {
    schema_to_arrow_schema(schema)
        .map(Arc::new)
        .map_err(Error::iceberg(format!("Arrow schema of {table}")))
}

/// Reorder, cast and null-pad `batch` to `target` (see the module docs).
pub fn conform_batch(
    table: &str,
    target: &ArrowSchemaRef,
    batch: &RecordBatch,
) -> Result<RecordBatch> {
    let source = batch.schema();
    for f in source.fields() {
        if target.field_with_name(f.name()).is_err() {
            return Err(Error::Schema {
                table: table.to_owned(),
                column: f.name().clone(),
                reason: "column is not in the table schema".into(),
            });
        }
    }
    let rows = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let column = match source.index_of(field.name()) {
            Ok(i) => cast_column(table, field, batch.column(i))?,
            Err(_) if field.is_nullable() => new_null_array(field.data_type(), rows),
            Err(_) => {
                return Err(Error::Schema {
                    table: table.to_owned(),
                    column: field.name().clone(),
                    reason: "required column is missing from the batch".into(),
                });
            }
        };
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(Error::Schema {
                table: table.to_owned(),
                column: field.name().clone(),
                reason: format!("{} nulls in a required column", column.null_count()),
            });
        }
        columns.push(column);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(target.clone(), columns, &options)
        .map_err(Error::arrow(format!("assemble batch for {table}")))
}

fn cast_column(table: &str, field: &Field, column: &ArrayRef) -> Result<ArrayRef> {
    if column.data_type() == field.data_type() {
        return Ok(column.clone());
    }
    if !representation_only(column.data_type(), field.data_type()) {
        return Err(Error::Schema {
            table: table.to_owned(),
            column: field.name().clone(),
            reason: format!(
                "batch has {}, table has {}",
                column.data_type(),
                field.data_type()
            ),
        });
    }
    arrow_cast::cast(column, field.data_type()).map_err(Error::arrow(format!(
        "cast column {} of {table}",
        field.name()
    )))
}

/// Whether two Arrow types map to the same Iceberg type (so a cast is lossless).
fn representation_only(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    match (from, to) {
        (Timestamp(u1, z1), Timestamp(u2, z2)) => u1 == u2 && z1.is_some() == z2.is_some(),
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (Binary | LargeBinary | BinaryView, Binary | LargeBinary | BinaryView) => true,
        (List(a) | LargeList(a), List(b) | LargeList(b)) => {
            a.data_type() == b.data_type() || representation_only(a.data_type(), b.data_type())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::{Float32Array, Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow_schema::TimeUnit;

    use super::*;

    fn table_schema() -> ArrowSchemaRef {
        let src = ArrowSchema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new(
                "t",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("b0400", DataType::Float32, true),
            Field::new("b0410", DataType::Float32, true),
        ]);
        arrow_schema("t", &iceberg_schema("t", &src).unwrap()).unwrap()
    }

    #[test]
    fn reorders_casts_and_pads() {
        let target = table_schema();
        let batch = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(vec![
                Field::new("b0410", DataType::Float32, true),
                Field::new(
                    "t",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    false,
                ),
                Field::new("id", DataType::Utf8, false),
            ])),
            vec![
                Arc::new(Float32Array::from(vec![0.25, 0.5])),
                Arc::new(TimestampMicrosecondArray::from(vec![1, 2]).with_timezone("UTC")),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let out = conform_batch("t", &target, &batch).unwrap();
        assert_eq!(out.schema(), target);
        let names: Vec<_> = out
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["id", "t", "b0400", "b0410"]);
        assert_eq!(out.column(2).null_count(), 2, "missing band is all null");
        let b410 = out
            .column(3)
            .as_any()
            .downcast_ref::<Float32Array>()
            .unwrap();
        assert_eq!(b410.values(), &[0.25, 0.5]);
    }

    #[test]
    fn rejects_unknown_missing_required_and_wrong_type() {
        let target = table_schema();
        let extra = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(vec![Field::new(
                "zzz",
                DataType::Int32,
                false,
            )])),
            vec![Arc::new(Int32Array::from(vec![1]))],
        )
        .unwrap();
        let e = conform_batch("t", &target, &extra).unwrap_err();
        assert!(
            matches!(e, Error::Schema { ref column, .. } if column == "zzz"),
            "{e}"
        );

        let missing_id = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(vec![Field::new(
                "b0400",
                DataType::Float32,
                true,
            )])),
            vec![Arc::new(Float32Array::from(vec![1.0]))],
        )
        .unwrap();
        let e = conform_batch("t", &target, &missing_id).unwrap_err();
        assert!(
            matches!(e, Error::Schema { ref column, .. } if column == "id"),
            "{e}"
        );

        let wrong = RecordBatch::try_new(
            Arc::new(ArrowSchema::new(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new(
                    "t",
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                    false,
                ),
                Field::new("b0400", DataType::Int32, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(TimestampMicrosecondArray::from(vec![1]).with_timezone("UTC")),
                Arc::new(Int32Array::from(vec![1])),
            ],
        )
        .unwrap();
        let e = conform_batch("t", &target, &wrong).unwrap_err();
        assert!(
            matches!(e, Error::Schema { ref column, .. } if column == "b0400"),
            "{e}"
        );
    }
}
