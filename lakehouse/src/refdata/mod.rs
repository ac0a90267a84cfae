//! Reference data: plot boundaries and yield history (DESIGN §8, `ref.*` tables).
//!
//! - [`boundaries`]: GeoJSON plot polygons with trial metadata → [`boundaries::Plot`] and
//!   `ref.field_boundaries` (geometry as WKT).
//! - [`yields`]: yield-history CSV → [`yields::YieldRow`] and `ref.yield_history`.
//!
//! Both parsers validate everything up front and name the file, the feature or line, and the
//! reason on rejection, so a bad upload is fixed at the source rather than discovered in Gold.

pub mod boundaries;
mod csv;
pub mod wkt;
pub mod yields;

pub use boundaries::{Plot, parse_boundaries, read_boundaries};
pub use yields::{YieldRow, parse_yields, read_yields};
