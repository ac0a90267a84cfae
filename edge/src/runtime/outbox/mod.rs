//! The durable outbox: Parquet chunks waiting for Kafka's acknowledgement.
//!
//! ## On-disk format (version 1)
//!
//! ```text
//! OUTBOX/
//!   staging/{key}/                      a cube being processed (never sent; deleted on start)
//!     {index:06}.parquet                chunk payloads written so far
//!   ready/{seq:016}-{key}/              a committed cube, oldest first by seq
//!     cube.json                         the manifest (below)
//!     {index:06}.parquet                chunks not yet acknowledged by Kafka
//!   quarantine/{seq:016}-{key}/         committed cubes whose files failed validation
//! ```
//!
//! `key` is the cube id made file-name safe ([`super::fsutil::file_key`]). `cube.json` holds
//! `format` (1), `cube_id`, `source` (the landing file's state key), `chunk_count`, `schema`,
//! `calibration_version`, `rows` and, per chunk, `index`, `bytes` and `crc32c` (CRC-32C,
//! hardware-accelerated: a SHA-256 here cost a third of the processing time). Each payload
//! file is exactly the Kafka record value (a self-contained Parquet file); the key and headers
//! are derived from the manifest ([`crate::chunk::ChunkMeta`]).
//!
//! ## Invariants
//!
//! 1. **Commit is atomic.** Every chunk file and `cube.json` are written and fsynced inside
//!    `staging/{key}` (chunk fsyncs run on a background thread while the next chunk is
//!    encoded; `cube.json` is written only after every one of them succeeded), the staging
//!    directory is fsynced, then renamed to `ready/{seq}-{key}` and `ready/` is fsynced. A crash before the rename leaves only a staging directory, which
//!    recovery deletes (the cube is processed again: its landing file is not marked processed
//!    until after the commit). A crash after it leaves a complete ready cube.
//! 2. **A chunk leaves only after Kafka acknowledged it.** [`Outbox::ack`] unlinks the payload
//!    file; nothing else deletes a ready chunk (quarantine moves it aside, it is not deleted).
//!    When the last chunk is gone the caller records the cube as sent in the state store, and
//!    only then [`Outbox::remove_drained`] removes `cube.json` and the directory.
//! 3. **Recovery** ([`Outbox::open`]) deletes `staging/` and stray `*.tmp` files, loads every
//!    ready cube, checks that each remaining payload has the size its manifest records, and
//!    moves a cube that fails the check to `quarantine/` (reported, never silently dropped).
//!    Payload CRC-32Cs are checked before each send ([`Outbox::read`]).
//! 4. **No loss, bounded duplicates.** A chunk acknowledged by Kafka whose unlink was not yet
//!    durable (kill -9 or power loss right after the ack) is sent again after the restart: the
//!    duplicate carries the same `(cube_id, chunk_index)` and the consumer drops it (DESIGN §9).
//!    Within one producer session Kafka's idempotence removes retry duplicates.
//! 5. **Size cap and backpressure.** The bytes of staged and ready payloads never grow past
//!    `cap_bytes` while there are ready bytes that can drain: [`Staging::add`] and
//!    [`Outbox::wait_below_cap`] block (processing pauses, [`OutboxStats::backpressure`] is
//!    set) until acknowledgements free space. Nothing is ever dropped to make room. A single cube
//!    whose own output exceeds the cap still completes (there is nothing else to wait for),
//!    with a warning: size the cap above the largest cube's output.
//! 6. **A full disk** (`ENOSPC`, or a failed fsync) is not the cap: the write that fails
//!    removes its partial file, the chunk is not recorded, and the error (retryable,
//!    [`crate::Error::is_disk_full`]) abandons the staging cube, whose directory is deleted. The
//!    daemon counts it (`hsi_edge_outbox_disk_full_total`) and retries the cube once
//!    acknowledgements have freed space. Committed cubes are never touched.

mod recover;
mod staging;
mod store;
mod syncer;

#[cfg(test)]
mod tests;

pub use staging::Staging;
pub use store::{ChunkId, CubeManifest, Drained, Outbox, OutboxStats, PendingChunk, Recovery};
