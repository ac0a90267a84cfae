//! Flattening calibrated blocks to Arrow record batches and Parquet (DESIGN §6).

pub mod schema;
