//! Applying a table's sort order to a batch before it is written.
//!
//! Iceberg's sort order is a promise readers may rely on (min/max pruning works far better on
//! sorted files). The writer sorts each incoming batch by the table's default sort order when
//! the batch is not already in that order; edge batches normally arrive in
//! `(cube_id, line, sample)` order, in which case the check is one linear pass and no copy.
//! Only `identity` sort transforms are applied; a sort order with any other transform leaves
//! batches as they are.

use arrow_array::RecordBatch;
use arrow_ord::ord::{DynComparator, make_comparator};
use arrow_ord::sort::{SortColumn, lexsort_to_indices};
use arrow_schema::SortOptions;
use iceberg::spec::{NullOrder, Schema, SortDirection, SortOrder, Transform};

use crate::error::{Error, Result};

/// Sort `batch` by `order` (resolved against `schema`) unless it already is.
pub(crate) fn sort_batch(
    table: &str,
    batch: RecordBatch,
    order: &SortOrder,
    schema: &Schema,
) -> Result<RecordBatch> {
    if order.is_unsorted() || batch.num_rows() < 2 {
        return Ok(batch);
    }
    let mut columns = Vec::with_capacity(order.fields.len());
    for f in &order.fields {
        if f.transform != Transform::Identity {
            return Ok(batch);
        }
        let Some(field) = schema.field_by_id(f.source_id) else {
            return Ok(batch);
        };
        let Some(values) = batch.column_by_name(&field.name) else {
            return Ok(batch);
        };
        let options = SortOptions {
            descending: f.direction == SortDirection::Descending,
            nulls_first: f.null_order == NullOrder::First,
        };
        columns.push(SortColumn {
            values: values.clone(),
            options: Some(options),
        });
    }
    if is_sorted(table, &columns)? {
        return Ok(batch);
    }
    let indices = lexsort_to_indices(&columns, None)
        .map_err(Error::arrow(format!("sort batch for {table}")))?;
    arrow_select::take::take_record_batch(&batch, &indices)
        .map_err(Error::arrow(format!("reorder batch for {table}")))
}

fn is_sorted(table: &str, columns: &[SortColumn]) -> Result<bool> {
    let comparators = columns
        .iter()
        .map(|c| make_comparator(&c.values, &c.values, c.options.unwrap_or_default()))
        .collect::<Result<Vec<DynComparator>, _>>()
        .map_err(Error::arrow(format!("compare sort keys of {table}")))?;
    let rows = columns.first().map_or(0, |c| c.values.len());
    for i in 1..rows {
        for cmp in &comparators {
            match cmp(i - 1, i) {
                std::cmp::Ordering::Less => break,
                std::cmp::Ordering::Equal => continue,
                std::cmp::Ordering::Greater => return Ok(false),
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Int32Array, StringArray};
    use arrow_schema::{DataType, Field, Schema as ArrowSchema};
    use iceberg::spec::SortField;

    use super::*;
    use crate::table::schema::iceberg_schema;

    #[test]
    fn sorts_lexicographically_and_leaves_sorted_batches_alone() {
        let arrow = Arc::new(ArrowSchema::new(vec![
            Field::new("cube_id", DataType::Utf8, false),
            Field::new("line", DataType::Int32, false),
        ]));
        let schema = iceberg_schema("t", &arrow).unwrap();
        let order = SortOrder::builder()
            .with_order_id(1)
            .with_sort_field(
                SortField::builder()
                    .source_id(1)
                    .transform(Transform::Identity)
                    .direction(SortDirection::Ascending)
                    .null_order(NullOrder::First)
                    .build(),
            )
            .with_sort_field(
                SortField::builder()
                    .source_id(2)
                    .transform(Transform::Identity)
                    .direction(SortDirection::Ascending)
                    .null_order(NullOrder::First)
                    .build(),
            )
            .build(&schema)
            .unwrap();
        let batch = RecordBatch::try_new(
            arrow.clone(),
            vec![
                Arc::new(StringArray::from(vec!["b", "a", "a", "b"])),
                Arc::new(Int32Array::from(vec![0, 2, 1, 1])),
            ],
        )
        .unwrap();
        let sorted = sort_batch("t", batch, &order, &schema).unwrap();
        let ids = sorted
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let lines = sorted
            .column(1)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        assert_eq!(
            ids.iter().flatten().collect::<Vec<_>>(),
            ["a", "a", "b", "b"]
        );
        assert_eq!(lines.values(), &[1, 2, 0, 1]);
        let again = sort_batch("t", sorted.clone(), &order, &schema).unwrap();
        assert_eq!(again, sorted);
    }
}
