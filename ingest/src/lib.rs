//! # hsi-ingest
//!
//! The cloud ingest of the hyperspectral pipeline (DESIGN §7, §9):
//!
//! ```text
//! S3 raw_cubes/… ─ObjectCreated─► SQS ─► dispatch ─manifest─► JobRunner (Batch | local) ─► work
//!                                                                                         │
//! Kafka hsi.silver.v1 ─────────────────────────────► stream ──────────────────────────────┴─► Iceberg
//! ```
//!
//! - [`dispatch`]: long-poll SQS, de-duplicate and bundle S3 events, write content-addressed
//!   manifests, submit one job per manifest, delete messages only after submission; also as
//!   an AWS Lambda handler.
//! - [`worker`]: `work --manifest URI`: each cube into Bronze + Silver exactly once, tag the raw
//!   object, quarantine failures, stop at a cube boundary on SIGTERM, refresh Gold.
//! - [`stream`]: Kafka → Silver, exactly once, with the offsets held in Iceberg snapshots.
//! - [`config`]: the TOML file with `HSI_INGEST__…` environment overrides.
//! - [`metrics`]: metric names and the `/metrics` endpoint; [`shutdown`]: signal handling;
//!   [`aws`]: SDK clients; [`error`]: the crate's error type.
//!
//! ```
//! use hsi_ingest::dispatch::manifest::{Manifest, ManifestCube, manifest_id};
//! let cubes = vec![ManifestCube { bucket: "raw".into(), key: "raw_cubes/a.h5".into(), etag: "e".into() }];
//! assert_eq!(manifest_id(&cubes).len(), 64);
//! # let _ = Manifest::from_json;
//! ```

pub mod aws;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod metrics;
pub mod shutdown;
pub mod stream;
pub mod worker;

pub use config::IngestConfig;
pub use error::{Error, Result};

/// The value written to the Silver `pipeline` column by cloud workers.
pub const PIPELINE_NAME: &str = "batch";
