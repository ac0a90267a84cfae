//! Every table of DESIGN §8, with its partition spec and sort order.
//!
//! | table | partition | sort |
//! |---|---|---|
//! | `bronze.cubes` | `identity(farm_id)`, `day(acquisition_time)` | — |
//! | `silver.reflectance` | `identity(farm_id)`, `day(acquisition_time)` | `cube_id, line, sample` |
//! | `ref.field_boundaries` | `identity(farm_id)` | `field_id, plot_id` |
//! | `ref.yield_history` | — | `line_id, season` |
//! | `gold.plot_indices` | `identity(farm_id)`, `month(acquisition_date)` | `plot_id, acquisition_date` |
//! | `gold.row_period_indices` | `identity(crop)` | `field_id, row, week_start` |
//! | `gold.breeding_decisions` | `identity(season)` | `trial_id, line_id` |
//!
//! Gold tables carry lineage columns after their computed ones: `silver_snapshot_id` and
//! `computed_at` (`decided_at` for decisions). Tables created by an older version get them
//! added (as optional columns) the next time [`init_all`] runs.

use crate::table::commit::LakeCatalog;
use iceberg::TableIdent;

use crate::error::Result;
use crate::table::{self, PartitionField, SortKey, TableDef};
use crate::{breeding, gold, refdata};

/// `ref.field_boundaries`.
pub fn field_boundaries() -> TableIdent {
    table::ident("ref", "field_boundaries")
}
/// `ref.yield_history`.
pub fn yield_history() -> TableIdent {
    table::ident("ref", "yield_history")
}
/// `gold.plot_indices`.
pub fn plot_indices() -> TableIdent {
    table::ident("gold", "plot_indices")
}
/// `gold.row_period_indices`.
pub fn row_period_indices() -> TableIdent {
    table::ident("gold", "row_period_indices")
}
/// `gold.breeding_decisions`.
pub fn breeding_decisions() -> TableIdent {
    table::ident("gold", "breeding_decisions")
}

/// The Gold and reference table definitions (Bronze and Silver come from [`table::init`]).
pub fn gold_and_ref_defs() -> Vec<TableDef> {
    vec![
        TableDef {
            ident: field_boundaries(),
            schema: refdata::boundaries::arrow_schema(),
            partition: vec![PartitionField::identity("farm_id")],
            sort: vec![SortKey::asc("field_id"), SortKey::asc("plot_id")],
        },
        TableDef {
            ident: yield_history(),
            schema: refdata::yields::arrow_schema(),
            partition: vec![],
            sort: vec![SortKey::asc("line_id"), SortKey::asc("season")],
        },
        TableDef {
            ident: plot_indices(),
            schema: gold_schema(gold::plot_indices::arrow_schema(), "computed_at"),
            partition: vec![
                PartitionField::identity("farm_id"),
                PartitionField::month("acquisition_date"),
            ],
            sort: vec![SortKey::asc("plot_id"), SortKey::asc("acquisition_date")],
        },
        TableDef {
            ident: row_period_indices(),
            schema: gold_schema(gold::row_period::arrow_schema(), "computed_at"),
            partition: vec![PartitionField::identity("crop")],
            sort: vec![
                SortKey::asc("field_id"),
                SortKey::asc("row"),
                SortKey::asc("week_start"),
            ],
        },
        TableDef {
            ident: breeding_decisions(),
            schema: gold_schema(breeding::decide::arrow_schema(), "decided_at"),
            partition: vec![PartitionField::identity("season")],
            sort: vec![SortKey::asc("trial_id"), SortKey::asc("line_id")],
        },
    ]
}

/// A Gold table's columns: the computed ones plus the lineage columns (the Silver snapshot
/// and the time of the refresh that wrote the row).
fn gold_schema(computed: arrow_schema::SchemaRef, time_column: &str) -> arrow_schema::SchemaRef {
    super::gold::with_lineage_schema(&computed, time_column)
}

/// Create every namespace and table; a no-op for those that exist.
pub async fn init_all(catalog: &dyn LakeCatalog) -> Result<()> {
    table::init(catalog).await?;
    for def in gold_and_ref_defs() {
        table::init_table(catalog, &def).await?;
    }
    Ok(())
}
