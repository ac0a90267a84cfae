//! Gold: vegetation indices per plot and per field row (DESIGN §8).
//!
//! The pipeline, all pure computation over Arrow:
//!
//! 1. [`indices`]: per-pixel NDVI, NDWI (Gao), NDRE, CIred-edge and MCARI from the Silver band
//!    columns, by nearest band within a tolerance.
//! 2. [`assign`]: each pixel's plot, by even-odd point-in-polygon behind a uniform-grid index.
//! 3. [`plot_indices`]: streaming per-plot, per-day statistics → `gold.plot_indices`.
//! 4. [`row_period`]: pixel-weighted aggregates per crop, field row and ISO week →
//!    `gold.row_period_indices`, computed from the plot rows.
//! 5. [`partitions`]: the `(farm_id, date)` partitions a Silver delta touches, so a refresh
//!    recomputes only those.
//!
//! [`stats`] holds the streaming moments and the percentile definition.

pub(crate) mod columns;

pub mod assign;
pub mod indices;
pub mod partitions;
pub mod plot_indices;
pub mod row_period;
pub mod stats;

pub use assign::{PlotIndex, point_in_rings};
pub use indices::{
    BandSet, DEFAULT_BAND_TOLERANCE_NM, IndexBands, PixelIndices, VegetationIndex, compute_indices,
};
pub use partitions::touched_partitions;
pub use plot_indices::{PlotIndicesBuilder, PlotIndicesRow, compute_plot_indices};
pub use row_period::{RowPeriodRow, compute_row_period};
