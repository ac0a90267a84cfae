//! Flattening calibrated blocks to Arrow record batches and Parquet (DESIGN §6).
//!
//! - [`schema`]: the Silver schema contract (column names, types, order) — the one place it lives.
//! - [`batch`]: [`Flattener`] turns a calibrated block into a record batch.
//! - [`encoding`]: Parquet encodings chosen by measurement, and mantissa quantisation.
//! - [`profile`]: the `full` and `field` output profiles.
//! - [`writer`]: [`SilverWriter`], batches → one Parquet file, band columns through
//!   `pages` (a purpose-built page encoder for dense float columns, framing its pages with
//!   `frame`), per-cube constant strings through `constant` and the numeric identity
//!   columns (time, line, sample, x, y) through `dictionary`.
//! - [`parquet`]: [`ParquetFileSink`], an atomically-renamed Parquet file, written through
//!   [`output`] ([`OutputFile`]: direct I/O where the filesystem takes it).

pub mod batch;
mod constant;
mod dictionary;
pub mod encoding;
mod frame;
pub mod output;
mod pages;
pub mod parquet;
pub mod profile;
pub mod schema;
mod segments;
pub mod writer;

pub use batch::{Flattened, Flattener, Pipeline};
pub use encoding::{BandEncoding, EncodingOptions};
pub use output::{OutputFile, OutputIo};
pub use parquet::{BatchSink, ParquetFileSink};
pub use profile::Profile;
pub use writer::SilverWriter;
