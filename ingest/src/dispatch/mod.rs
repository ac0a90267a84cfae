//! The dispatcher (issue 4, part 1): S3 ObjectCreated events in SQS → manifests → one job per
//! manifest (DESIGN §7).
//!
//! - [`event`]: parsing S3 events out of SQS bodies (URL-decoded keys, test events).
//! - [`bundle`]: de-duplication and bundling (pure logic).
//! - [`manifest`]: the manifest file, its content-hash id and its key.
//! - [`runner`]: the [`JobRunner`] seam: AWS Batch and a local process.
//! - [`sqs`]: the long-poll loop; messages are deleted only after submission.
//! - [`lambda`]: the same for one Lambda SQS event batch.

pub mod bundle;
pub mod config;
pub mod event;
pub mod lambda;
pub mod manifest;
pub mod runner;
pub mod sqs;

pub use bundle::{Bundle, BundleLimits, Bundler};
pub use config::{DispatchConfig, RunnerConfig};
pub use event::{CubeRef, KeyFilter, ParsedMessage, decode_key, parse_message};
pub use manifest::{Manifest, ManifestCube};
pub use runner::{BatchRunner, JobRunner, LocalRunner};
pub use sqs::{DispatchStats, Dispatcher, write_manifest};
