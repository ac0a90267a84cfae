//! Stream ingest (issue 4, part 3): Kafka chunks of Silver rows → `silver.reflectance`,
//! exactly once (DESIGN §9).
//!
//! - The Iceberg snapshot property `hsi.kafka.offsets` ([`offsets`]) is the source of truth
//!   for the group's progress. On every assignment the consumer positions each partition at
//!   the table's offset ([`context`]).
//! - Chunks are decoded and validated with `hsi_edge::chunk`; a chunk that is not valid Silver
//!   Parquet, or whose headers do not match it, goes to the dead-letter topic with the reason
//!   (`hsi-dlq-reason`, `hsi-dlq-origin` headers), and the stream goes on.
//! - Rows are committed every `commit_interval` or `commit_rows`, whichever first, through a
//!   planned commit ([`planner`]): the commit lands only on a table state whose offsets equal
//!   the batch's start offsets; if another writer (a zombie after a rebalance, a second
//!   process) committed past them, the batch is dropped and the partitions re-seek to the
//!   table (no blind retry).
//! - Re-sent chunks (new offsets, same rows, possibly cut differently) add nothing: each
//!   object version's committed rows are a prefix in `(line, sample)` order, tracked in
//!   `hsi.stream.progress` and re-derived from Silver when not tracked; rows of objects that
//!   already have a batch version are dropped, and a newer edge version replaces an older one
//!   ([`planner`], rules in `hsi_lakehouse::identity`).
//! - Kafka group offsets are committed afterwards, for lag dashboards only.

pub mod config;
pub mod consumer;
pub mod context;
pub mod offsets;
pub mod planner;

pub use config::{Assignment, StreamConfig};
pub use consumer::{DLQ_ORIGIN_HEADER, DLQ_REASON_HEADER, StreamIngest, StreamStats};
pub use offsets::{KafkaOffsets, table_offsets};
