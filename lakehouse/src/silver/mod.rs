//! Silver: one row per pixel, one column per band (the contract in
//! `hsi_edge::flatten::schema`), appended exactly once per idempotency key.
//!
//! # Commit protocol
//!
//! [`append_silver`]:
//!
//! 1. checks the batches: every row's `calibration_version` equals the one being committed;
//! 2. **evolves the schema** when a batch carries band columns (`bNNNN`, Float32) the table
//!    lacks — e.g. a SWIR sensor adding `b1250…b2400` to a VNIR table — by adding them as
//!    optional floats (`update_schema().add_column`). Nothing is rewritten: existing data files
//!    simply lack those field ids, so old rows read them as null. Any other unknown column is a
//!    schema error. Concurrent evolutions are retried until the table has the columns;
//! 3. appends through [`crate::table::append_batches_once`] with snapshot properties
//!    `hsi.calibration.version` and the caller's key (e.g. `hsi.manifest.id`, or
//!    `hsi.cube.id` + version). A key already in the table's history means the batch was
//!    committed before: nothing is written and [`AppendOutcome::AlreadyCommitted`] returned.
//!    Batches lacking some of the table's band columns are padded with nulls.
//!
//! [`append_silver`] is a keyed append. Rows of a raw object whose version may supersede, or
//! be superseded by, rows already in the table go through [`current`] instead (the pipeline,
//! the Batch worker and the stream consumer do), which keeps Silver at current rows only.

pub mod current;

use std::collections::{BTreeMap, BTreeSet};

use crate::table::commit::LakeCatalog;
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use hsi_edge::flatten::schema::band_wavelength;
use iceberg::TableIdent;
use iceberg::spec::{PrimitiveType, Type};
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};

use crate::error::{Error, Result};
use crate::table::{AppendOutcome, IdempotencyKey, PROP_CALIBRATION_VERSION, append_batches_once};

/// How often schema evolution retries after losing a race with another writer.
const MAX_EVOLVE_ATTEMPTS: usize = 5;

/// Append Silver `batches` to `ident` once per `key` (see the module docs).
pub async fn append_silver(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    batches: &[RecordBatch],
    calibration_version: &str,
    key: &IdempotencyKey,
) -> Result<AppendOutcome> {
    append_silver_with(
        catalog,
        ident,
        batches,
        calibration_version,
        key,
        BTreeMap::new(),
    )
    .await
}

/// [`append_silver`] with extra snapshot summary properties (e.g. `hsi.manifest.id` as
/// lineage of a Batch worker's commit; they are not part of the idempotency key).
pub async fn append_silver_with(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    batches: &[RecordBatch],
    calibration_version: &str,
    key: &IdempotencyKey,
    extra_properties: BTreeMap<String, String>,
) -> Result<AppendOutcome> {
    if calibration_version.is_empty() {
        return Err(Error::InvalidInput {
            reason: "empty calibration version".into(),
        });
    }
    check_calibration_version(ident, batches, calibration_version)?;
    let table = catalog
        .load_table(ident)
        .await
        .map_err(Error::iceberg(format!("load {ident}")))?;
    if let Some(snapshot_id) = key.find_in(table.metadata()) {
        return Ok(AppendOutcome::AlreadyCommitted { snapshot_id });
    }
    let added = evolve_bands(catalog, ident, batches).await?;
    if !added.is_empty() {
        tracing::info!(table = %ident, columns = ?added, "added band columns");
    }
    let mut props = extra_properties;
    props.insert(
        PROP_CALIBRATION_VERSION.to_owned(),
        calibration_version.to_owned(),
    );
    append_batches_once(catalog, ident, batches, props, key).await
}

/// Add the band columns that `batches` carry and `ident` lacks; return their names (sorted by
/// wavelength). Unknown non-band columns are a schema error.
pub async fn evolve_bands(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    batches: &[RecordBatch],
) -> Result<Vec<String>> {
    let mut added = Vec::new();
    for attempt in 1..=MAX_EVOLVE_ATTEMPTS {
        let table = catalog
            .load_table(ident)
            .await
            .map_err(Error::iceberg(format!("load {ident}")))?;
        let schema = table.metadata().current_schema();
        let missing = missing_bands(ident, batches, |name| schema.field_by_name(name).is_some())?;
        if missing.is_empty() {
            return Ok(added);
        }
        let tx = Transaction::new(&table);
        let mut action = tx.update_schema();
        for name in &missing {
            action = action.add_column(AddColumn::optional(
                name,
                Type::Primitive(PrimitiveType::Float),
            ));
        }
        let result = match action.apply(tx) {
            Ok(tx) => tx.commit(catalog).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                added.extend(missing);
                return Ok(added);
            }
            // Another writer may have added some of the same columns: reload and recompute.
            Err(e) if attempt < MAX_EVOLVE_ATTEMPTS => {
                tracing::debug!(table = %ident, attempt, error = %e, "schema update failed, retrying");
            }
            Err(e) => {
                return Err(Error::iceberg(format!(
                    "add band columns {missing:?} to {ident}"
                ))(e));
            }
        }
    }
    Err(Error::Conflict {
        table: ident.to_string(),
        reason: format!("schema evolution did not settle after {MAX_EVOLVE_ATTEMPTS} attempts"),
    })
}

/// Band columns in `batches` for which `has_column` is false, sorted by wavelength.
fn missing_bands(
    ident: &TableIdent,
    batches: &[RecordBatch],
    has_column: impl Fn(&str) -> bool,
) -> Result<Vec<String>> {
    let mut missing = BTreeSet::new();
    for batch in batches {
        for field in batch.schema().fields() {
            let name = field.name();
            if has_column(name) {
                continue;
            }
            match band_wavelength(name) {
                Some(nm) if field.data_type() == &DataType::Float32 => {
                    missing.insert((nm as u32, name.clone()));
                }
                _ => {
                    return Err(Error::Schema {
                        table: ident.to_string(),
                        column: name.clone(),
                        reason: format!(
                            "not in the table and not a Float32 band column ({})",
                            field.data_type()
                        ),
                    });
                }
            }
        }
    }
    Ok(missing.into_iter().map(|(_, name)| name).collect())
}

fn check_calibration_version(
    ident: &TableIdent,
    batches: &[RecordBatch],
    expected: &str,
) -> Result<()> {
    for batch in batches {
        let Some(column) = batch.column_by_name("calibration_version") else {
            continue;
        };
        let Some(values) = column.as_any().downcast_ref::<StringArray>() else {
            return Err(Error::Schema {
                table: ident.to_string(),
                column: "calibration_version".into(),
                reason: format!("expected Utf8, got {}", column.data_type()),
            });
        };
        if let Some(bad) =
            (0..values.len()).find(|&i| values.is_null(i) || values.value(i) != expected)
        {
            let found = if values.is_null(bad) {
                "null"
            } else {
                values.value(bad)
            };
            return Err(Error::InvalidInput {
                reason: format!(
                    "{ident}: row {bad} has calibration_version {found:?}, committing {expected:?}"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float32Array, Int32Array};
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn missing_bands_are_sorted_by_wavelength_and_others_rejected() {
        let ident = crate::table::silver_reflectance();
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("b2400", DataType::Float32, true),
                Field::new("b0400", DataType::Float32, true),
                Field::new("b1250", DataType::Float32, true),
            ])),
            vec![
                Arc::new(Float32Array::from(vec![1.0])),
                Arc::new(Float32Array::from(vec![1.0])),
                Arc::new(Float32Array::from(vec![1.0])),
            ],
        )
        .unwrap();
        let got = missing_bands(&ident, &[batch], |n| n == "b0400").unwrap();
        assert_eq!(got, ["b1250", "b2400"]);

        let odd = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "b1250",
                DataType::Int32,
                true,
            )])),
            vec![Arc::new(Int32Array::from(vec![1]))],
        )
        .unwrap();
        assert!(matches!(
            missing_bands(&ident, &[odd], |_| false),
            Err(Error::Schema { .. })
        ));
    }
}
