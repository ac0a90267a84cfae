//! # hsi-lakehouse
//!
//! The Iceberg side of the pipeline: Bronze/Silver/Gold tables, Gold indices and breeding
//! decisions (DESIGN §8).
//!
//! ## Table of contents
//! - [`refdata`]: reference data — plot boundaries (GeoJSON → `ref.field_boundaries`) and the
//!   yield history (CSV → `ref.yield_history`).
//! - [`gold`]: per-pixel vegetation indices, pixel → plot assignment, per-plot statistics
//!   (`gold.plot_indices`), per crop/row/week aggregates (`gold.row_period_indices`) and the
//!   partitions an incremental refresh must recompute.
//! - [`breeding`]: versioned Advance/Discard rules and `gold.breeding_decisions`.
//! - [`error`]: the crate's one error type.
//!
//! The modules above are pure computation: they take and return Arrow
//! [`RecordBatch`](arrow_array::RecordBatch)es or plain structs, so they are testable without a
//! catalog. Writing them to Iceberg is the table layer's job.
//!
//! ```
//! let name = hsi_lakehouse::band_column_name(800.0);
//! assert_eq!(name, "b0800");
//! ```

pub mod breeding;
pub mod error;
pub mod gold;
pub mod refdata;

pub use error::{Error, Result};
pub use hsi_edge::flatten::schema::band_column_name;
