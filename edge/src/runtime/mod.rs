//! The edge daemon (feature `runtime`): landing directory → calibration → durable outbox →
//! Kafka, raw-cube backhaul to S3, health and metrics. See `docs/edge-runtime.md`.
//!
//! ## Table of contents
//! - [`config`]: `edge.toml` ([`config::EdgeConfig`]) with environment overrides.
//! - [`landing`]: which landing files are complete cubes (the rename-on-close convention).
//! - [`pipeline`]: one cube → Parquet chunks in the outbox.
//! - [`outbox`]: the durable outbox (on-disk format and crash invariants in its docs).
//! - [`state`]: per-cube state (processed, sent, backhauled, failed, deleted).
//! - [`kafka`]: the idempotent producer draining the outbox.
//! - [`backhaul`]: resumable multipart uploads of raw cubes, triggers, retention.
//! - [`metrics`] and [`http`]: Prometheus metrics, `/healthz`, `/metrics`.
//! - [`daemon`]: the threads and the main loop of `hsi-edge run`.
//! - [`error`]: the runtime's errors (the crate's one [`crate::Error`]), with [`crate::Error::retryable`].
//! - [`fsutil`]: atomic, durable file primitives.

pub mod backhaul;
pub mod config;
pub mod daemon;
pub mod error;
pub mod fsutil;
pub mod http;
pub mod kafka;
pub mod landing;
pub mod metrics;
pub mod outbox;
pub mod pipeline;
pub mod state;

pub use config::EdgeConfig;
pub use daemon::Daemon;
