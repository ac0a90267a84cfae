//! # hsi-edge
//!
//! The processing core shared by the edge container and the cloud Batch workers: read a raw
//! hyperspectral cube in line blocks, calibrate it, and flatten it to Arrow/Parquet, one row per
//! pixel and one column per band of a standard grid (DESIGN §4–§6).
//!
//! ## Table of contents
//! - [`cube`]: the cube model ([`cube::CubeInfo`], [`cube::LineBlock`], [`cube::CubeReader`]).
//! - [`read`]: readers for the HDF5 layout of DESIGN §4 and for ENVI (`.hdr` + binary).
//! - [`calib`]: calibration plans and the [`calib::Calibrator`] trait, with a CPU implementation.
//! - [`flatten`]: the Silver schema contract, profiles (`full`, `field`) and the Parquet writer.
//! - [`chunk`]: the Kafka chunk contract (headers, Parquet payloads under a size cap).
//! - [`process`]: the block pipeline tying reader → calibrator → sink together.
//! - [`synth`]: the synthetic field-trial generator built from real USGS spectra.
//! - [`testkit`]: real protocol servers (moto, rdkafka's mock brokers, tansu) for integration
//!   tests.
//! - `logging` (feature `logging`): the logging convention of every binary (`RUST_LOG`).
//! - `msk_iam` (feature `msk-iam`): the MSK IAM (SASL/OAUTHBEARER) token.
//! - `runtime` (feature `runtime`): the edge daemon — durable outbox, Kafka producer, S3
//!   backhaul, health and metrics.
//! - [`error`]: the crate's one error type.
//!
//! ## Example
//!
//! ```no_run
//! use std::path::Path;
//! use hsi_edge::{calib::CpuCalibrator, flatten::Profile, process};
//!
//! # fn main() -> hsi_edge::Result<()> {
//! let stats = process::process_file(
//!     Path::new("cube.h5"),
//!     Path::new("out/"),
//!     &Profile::full(),
//!     &Default::default(),
//!     &mut CpuCalibrator::default(),
//!     &mut process::NoProgress,
//! )?;
//! println!("{} rows, {:.1}x smaller", stats.rows, stats.size_ratio());
//! # Ok(()) }
//! ```

pub mod calib;
pub mod chunk;
pub mod cube;
pub mod error;
pub mod flatten;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "msk-iam")]
pub mod msk_iam;
pub mod process;
pub mod read;
#[cfg(feature = "runtime")]
pub mod runtime;
pub mod synth;
pub mod testdata;
pub mod testkit;

pub use error::{Error, Result};
