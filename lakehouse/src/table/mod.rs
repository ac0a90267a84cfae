//! Tables: creation from Arrow schemas, the pipeline's namespaces and tables, and appends.
//!
//! # Namespaces and tables (DESIGN §8)
//!
//! | namespace | tables created here | partition spec | sort order |
//! |---|---|---|---|
//! | `bronze` | `cubes` ([`crate::bronze::bronze_schema`]) | `identity(farm_id)`, `day(acquisition_time)` | — |
//! | `silver` | `reflectance` ([`silver_table_def`]) | `identity(farm_id)`, `day(acquisition_time)` | `cube_id, line, sample` |
//! | `gold`, `ref` | created by their modules through [`init_table`] | | |
//! | `ops` | operational tables (later) | | |
//!
//! Tables are Iceberg format v2. [`create_table_if_absent`] converts an Arrow schema into an
//! Iceberg schema, assigning field ids 1..n in column order (non-nullable Arrow fields become
//! `required`); the catalog then re-assigns ids, partition field ids (from 1000) and the sort
//! order id as for any new table. Creation is idempotent and race-safe: if the table exists (or
//! appears while we create it) it is loaded and returned as it is, without comparing schemas —
//! schema changes go through [`crate::silver`]'s evolution or explicit migrations.

mod append;
pub mod commit;

mod guarded;
mod key;
mod order;
mod planned;
mod replace;
pub mod schema;
mod stream;

use std::collections::HashMap;

use arrow_schema::{Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use commit::LakeCatalog;
use iceberg::spec::{
    NullOrder, SortDirection, SortField, SortOrder, Transform, UnboundPartitionSpec,
};
use iceberg::table::Table;
use iceberg::{ErrorKind, NamespaceIdent, TableCreation, TableIdent};

pub use append::{
    AppendOutcome, append_batches, append_batches_once, commit_files_once, delete_orphans,
};
pub use guarded::{Guard, GuardedOutcome, append_batches_guarded};
pub use key::{
    IdempotencyKey, PROP_CALIBRATION_VERSION, PROP_CUBE_ID, PROP_KAFKA_OFFSETS, PROP_MANIFEST_ID,
};
pub use planned::{Plan, Planned, PlannedOutcome, Planner, commit_planned};
pub use replace::{
    Expect, ReplaceOutcome, RowSelector, read_data_file, replace_rows, replace_rows_if,
    rows_to_replace,
};
pub use stream::DataFileStream;

use crate::error::{Error, Result};

/// The pipeline's namespaces, created by [`init`].
pub const NAMESPACES: [&str; 5] = ["bronze", "silver", "gold", "ref", "ops"];

/// `bronze.cubes`.
pub fn bronze_cubes() -> TableIdent {
    ident("bronze", "cubes")
}

/// `silver.reflectance`.
pub fn silver_reflectance() -> TableIdent {
    ident("silver", "reflectance")
}

/// A single-level `namespace.name` identifier.
pub fn ident(namespace: &str, name: &str) -> TableIdent {
    TableIdent::new(NamespaceIdent::new(namespace.to_owned()), name.to_owned())
}

/// A partition transform (the ones the pipeline's tables use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionTransform {
    /// The value itself (`identity`).
    Identity,
    /// Days since epoch of a date/timestamp (`day`).
    Day,
    /// Months since epoch of a date/timestamp (`month`).
    Month,
    /// Years since epoch of a date/timestamp (`year`).
    Year,
}

/// One partition field: a source column and a transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionField {
    /// Source column name.
    pub column: String,
    /// The transform.
    pub transform: PartitionTransform,
}

impl PartitionField {
    /// `identity(column)`.
    pub fn identity(column: &str) -> Self {
        PartitionField {
            column: column.to_owned(),
            transform: PartitionTransform::Identity,
        }
    }

    /// `day(column)`.
    pub fn day(column: &str) -> Self {
        PartitionField {
            column: column.to_owned(),
            transform: PartitionTransform::Day,
        }
    }

    /// `month(column)`.
    pub fn month(column: &str) -> Self {
        PartitionField {
            column: column.to_owned(),
            transform: PartitionTransform::Month,
        }
    }

    /// The partition field name, following pyiceberg/Java: the column for identity,
    /// `{column}_{transform}` otherwise.
    pub fn name(&self) -> String {
        match self.transform {
            PartitionTransform::Identity => self.column.clone(),
            PartitionTransform::Day => format!("{}_day", self.column),
            PartitionTransform::Month => format!("{}_month", self.column),
            PartitionTransform::Year => format!("{}_year", self.column),
        }
    }

    fn iceberg_transform(&self) -> Transform {
        match self.transform {
            PartitionTransform::Identity => Transform::Identity,
            PartitionTransform::Day => Transform::Day,
            PartitionTransform::Month => Transform::Month,
            PartitionTransform::Year => Transform::Year,
        }
    }
}

/// One sort key: a column, ascending or descending (nulls first when ascending, last when
/// descending, Iceberg's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Column name.
    pub column: String,
    /// Ascending?
    pub ascending: bool,
}

impl SortKey {
    /// Ascending on `column`.
    pub fn asc(column: &str) -> Self {
        SortKey {
            column: column.to_owned(),
            ascending: true,
        }
    }
}

/// Everything needed to create a table.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// Where.
    pub ident: TableIdent,
    /// Columns.
    pub schema: ArrowSchemaRef,
    /// Partition spec, in order.
    pub partition: Vec<PartitionField>,
    /// Sort order, in order.
    pub sort: Vec<SortKey>,
}

/// The `silver.reflectance` definition for a band grid (`[]` = identity columns only; bands
/// are added by schema evolution on first append).
pub fn silver_table_def(grid_nm: &[f32]) -> TableDef {
    TableDef {
        ident: silver_reflectance(),
        schema: hsi_edge::flatten::schema::silver_schema(grid_nm),
        partition: vec![
            PartitionField::identity("farm_id"),
            PartitionField::day("acquisition_time"),
        ],
        sort: vec![
            SortKey::asc("cube_id"),
            SortKey::asc("line"),
            SortKey::asc("sample"),
        ],
    }
}

/// Create the namespaces and the Bronze and Silver tables; a no-op when they exist.
///
/// Silver starts with the default VNIR grid (400–1000 nm every 10 nm); other bands are added
/// by schema evolution when a sensor first delivers them.
pub async fn init(catalog: &dyn LakeCatalog) -> Result<()> {
    for ns in NAMESPACES {
        ensure_namespace(catalog, ns).await?;
    }
    init_table(catalog, &crate::bronze::bronze_table_def()).await?;
    init_table(catalog, &silver_table_def(&default_vnir_grid())).await?;
    Ok(())
}

/// The default Silver grid: 400, 410, …, 1000 nm (61 bands).
pub fn default_vnir_grid() -> Vec<f32> {
    (0..=60).map(|i| 400.0 + 10.0 * i as f32).collect()
}

/// Create `def`'s namespace (if missing) and table (if missing); return the table. A table
/// that exists but lacks optional columns of `def` (added by a later version of this crate)
/// gets them, as optional columns; old rows read them as null.
pub async fn init_table(catalog: &dyn LakeCatalog, def: &TableDef) -> Result<Table> {
    let ns = def.ident.namespace();
    ensure_namespace_ident(catalog, ns).await?;
    let table =
        create_table_if_absent(catalog, &def.ident, &def.schema, &def.partition, &def.sort).await?;
    ensure_columns(catalog, table, &def.schema).await
}

/// Add the nullable columns of `wanted` that `table` lacks (required ones cannot be added to
/// a table with rows; they are left to an explicit migration).
async fn ensure_columns(
    catalog: &dyn LakeCatalog,
    table: Table,
    wanted: &ArrowSchema,
) -> Result<Table> {
    use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
    let name = table.identifier().to_string();
    let current = table.metadata().current_schema().clone();
    let missing: Vec<&arrow_schema::Field> = wanted
        .fields()
        .iter()
        .filter(|f| f.is_nullable() && current.field_by_name(f.name()).is_none())
        .map(|f| f.as_ref())
        .collect();
    if missing.is_empty() {
        return Ok(table);
    }
    let one = ArrowSchema::new(missing.iter().map(|f| (*f).clone()).collect::<Vec<_>>());
    let converted = schema::iceberg_schema(&name, &one)?;
    let tx = Transaction::new(&table);
    let mut action = tx.update_schema();
    for f in converted.as_struct().fields() {
        action = action.add_column(AddColumn::optional(&f.name, (*f.field_type).clone()));
    }
    let committed = match action.apply(tx) {
        Ok(tx) => tx.commit(catalog as &dyn iceberg::Catalog).await,
        Err(e) => Err(e),
    };
    match committed {
        Ok(t) => {
            tracing::info!(table = %name, columns = ?missing.iter().map(|f| f.name()).collect::<Vec<_>>(), "added columns");
            Ok(t)
        }
        // A concurrent initialiser may have added them: use the table as it is now.
        Err(e) => {
            let t = catalog
                .load_table(table.identifier())
                .await
                .map_err(Error::iceberg(format!("reload {name}")))?;
            let schema = t.metadata().current_schema();
            if missing
                .iter()
                .all(|f| schema.field_by_name(f.name()).is_some())
            {
                Ok(t)
            } else {
                Err(Error::iceberg(format!("add columns to {name}"))(e))
            }
        }
    }
}

/// Create the table unless it exists; return it either way (see the module docs).
pub async fn create_table_if_absent(
    catalog: &dyn LakeCatalog,
    ident: &TableIdent,
    arrow_schema: &ArrowSchema,
    partition: &[PartitionField],
    sort: &[SortKey],
) -> Result<Table> {
    let name = ident.to_string();
    if catalog
        .table_exists(ident)
        .await
        .map_err(Error::iceberg(format!("check {name}")))?
    {
        return catalog
            .load_table(ident)
            .await
            .map_err(Error::iceberg(format!("load {name}")));
    }
    let schema = schema::iceberg_schema(&name, arrow_schema)?;
    let field_id = |column: &str| -> Result<i32> {
        schema
            .field_by_name(column)
            .map(|f| f.id)
            .ok_or_else(|| Error::Schema {
                table: name.clone(),
                column: column.to_owned(),
                reason: "partition/sort column is not in the schema".into(),
            })
    };
    let mut spec = UnboundPartitionSpec::builder();
    for p in partition {
        spec = spec
            .add_partition_field(field_id(&p.column)?, p.name(), p.iceberg_transform())
            .map_err(Error::iceberg(format!("partition spec of {name}")))?;
    }
    let mut order = SortOrder::builder();
    order.with_order_id(if sort.is_empty() { 0 } else { 1 });
    for k in sort {
        order.with_sort_field(
            SortField::builder()
                .source_id(field_id(&k.column)?)
                .transform(Transform::Identity)
                .direction(if k.ascending {
                    SortDirection::Ascending
                } else {
                    SortDirection::Descending
                })
                .null_order(if k.ascending {
                    NullOrder::First
                } else {
                    NullOrder::Last
                })
                .build(),
        );
    }
    let order = order
        .build(&schema)
        .map_err(Error::iceberg(format!("sort order of {name}")))?;
    let creation = TableCreation::builder()
        .name(ident.name().to_owned())
        .schema(schema)
        .partition_spec(spec.build())
        .sort_order(order)
        .properties(HashMap::from([
            ("write.format.default".to_owned(), "parquet".to_owned()),
            (
                "write.parquet.compression-codec".to_owned(),
                "zstd".to_owned(),
            ),
        ]))
        .build();
    match catalog.create_table(ident.namespace(), creation).await {
        Ok(table) => {
            tracing::info!(table = %name, "created table");
            Ok(table)
        }
        Err(e) if e.kind() == ErrorKind::TableAlreadyExists => catalog
            .load_table(ident)
            .await
            .map_err(Error::iceberg(format!("load {name}"))),
        // A concurrent creator won the race: the SQL catalog reports its unique-key violation
        // as `Unexpected`, not `TableAlreadyExists`. If the table is there now, use it.
        Err(e) => match catalog.load_table(ident).await {
            Ok(table) => {
                tracing::debug!(table = %name, error = %e, "created concurrently by another writer");
                Ok(table)
            }
            Err(_) => Err(Error::iceberg(format!("create {name}"))(e)),
        },
    }
}

async fn ensure_namespace(catalog: &dyn LakeCatalog, ns: &str) -> Result<()> {
    ensure_namespace_ident(catalog, &NamespaceIdent::new(ns.to_owned())).await
}

async fn ensure_namespace_ident(catalog: &dyn LakeCatalog, ns: &NamespaceIdent) -> Result<()> {
    let label = ns.join(".");
    if catalog
        .namespace_exists(ns)
        .await
        .map_err(Error::iceberg(format!("check namespace {label}")))?
    {
        return Ok(());
    }
    match catalog.create_namespace(ns, HashMap::new()).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NamespaceAlreadyExists => Ok(()),
        // Same race as for tables (see `create_table_if_absent`).
        Err(e) => match catalog.namespace_exists(ns).await {
            Ok(true) => Ok(()),
            _ => Err(Error::iceberg(format!("create namespace {label}"))(e)),
        },
    }
}
