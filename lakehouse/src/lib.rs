//! # hsi-lakehouse
//!
//! The Iceberg side of the pipeline (DESIGN §8): an Iceberg v2 lakehouse on iceberg-rust 0.10.
//!
//! - [`catalog`]: the SQL catalog (SQLite embedded, PostgreSQL) over a local or S3 warehouse,
//!   chosen by URL ([`LakehouseConfig`], [`open_catalog`]).
//! - [`table`]: tables from Arrow schemas, the pipeline's namespaces and tables ([`init`]),
//!   the one commit primitive ([`table::commit`]: replace these files by those, fenced, on
//!   any catalog), exactly-once appends keyed by snapshot summary properties, planned commits
//!   and row replacement.
//! - [`identity`]: the identity and version model: what a raw object is, which version of its
//!   rows is current (the contract).
//! - [`silver`]: the per-pixel reflectance table, with band-column schema evolution, holding
//!   current versions only ([`silver::current`]).
//! - [`bronze`]: calibrated cubes as Zarr v3 and the `bronze.cubes` ledger.
//! - [`snapshots`]: listing, time travel, rollback.
//! - [`refdata`]: plot boundaries (GeoJSON) and yield history (CSV), validated.
//! - [`gold`]: vegetation indices per pixel, plot and row × week, with a spatial index.
//! - [`breeding`]: versioned Advance/Discard rules and decisions.
//! - [`pipeline`]: the local end-to-end run (the README's main job).
//!
//! Every function that touches a table takes `&dyn LakeCatalog` (a catalog plus the pointer
//! swap of [`table::commit`]), so the same code runs against the embedded SQLite catalog and,
//! later, REST or Glue.
//!
//! ```no_run
//! # async fn demo() -> hsi_lakehouse::Result<()> {
//! use hsi_lakehouse::{LakehouseConfig, open_catalog, table};
//! let catalog = open_catalog(&LakehouseConfig::local("/var/lib/hsi/warehouse")).await?;
//! table::init(catalog.as_ref()).await?;
//! # Ok(()) }
//! ```

pub mod breeding;
pub mod bronze;
pub mod catalog;
pub mod error;
pub mod gold;
pub mod identity;
pub mod pipeline;
pub mod refdata;
pub mod silver;
pub mod snapshots;
pub mod table;

pub use catalog::{LakehouseConfig, MetadataPointers, S3Config, open_catalog};
pub use error::{Error, Result};
pub use hsi_edge::flatten::schema::band_column_name;
pub use table::commit::LakeCatalog;
pub use table::{AppendOutcome, IdempotencyKey, init};
