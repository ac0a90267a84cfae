//! # hsi-lakehouse
//!
//! The Iceberg side of the pipeline: Bronze/Silver/Gold tables, Gold indices and breeding
//! decisions. This crate is a placeholder until issue 3 lands; today it only re-exports the
//! Silver schema contract that the edge crate owns, so both sides agree on one definition.
//!
//! ```
//! let name = hsi_lakehouse::band_column_name(800.0);
//! assert_eq!(name, "b0800");
//! ```

pub use hsi_edge::flatten::schema::band_column_name;
