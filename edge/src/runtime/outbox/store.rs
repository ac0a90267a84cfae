//! The outbox implementation (format and invariants in the [module docs](super)).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::recover::load_ready;
use super::staging::Staging;
use super::syncer::Syncer;
use crate::chunk::ChunkMeta;
use crate::runtime::error::{Error, Result};
use crate::runtime::fsutil::{
    create_dir, file_key, fsync_dir, remove_file, remove_tree, sorted_entries,
};

pub(super) const FORMAT: u32 = 1;
pub(super) const MANIFEST: &str = "cube.json";
const WAIT_STEP: Duration = Duration::from_millis(100);

/// The manifest of a committed cube (`cube.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CubeManifest {
    /// Format version (1).
    pub format: u32,
    /// Cube id: the record key and `hsi-cube-id`.
    pub cube_id: String,
    /// State-store key of the landing file the cube came from.
    pub source: String,
    /// Number of chunks of the cube.
    pub chunk_count: u32,
    /// `hsi-schema` of every chunk.
    pub schema: String,
    /// `hsi-calibration-version` of every chunk.
    pub calibration_version: String,
    /// Rows over all chunks.
    pub rows: u64,
    /// Every chunk's size and CRC-32C, by index.
    pub chunks: Vec<ChunkEntry>,
}

/// One chunk of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkEntry {
    /// Chunk index.
    pub index: u32,
    /// Payload bytes.
    pub bytes: u64,
    /// CRC-32C (Castagnoli) of the payload.
    pub crc32c: u32,
}

/// A ready chunk: `seq` of its cube and its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkId {
    /// Commit sequence number of the cube.
    pub seq: u64,
    /// Chunk index within the cube.
    pub index: u32,
}

/// A chunk waiting to be sent.
#[derive(Debug, Clone)]
pub struct PendingChunk {
    /// Its id.
    pub id: ChunkId,
    /// Key and headers.
    pub meta: ChunkMeta,
    /// The payload file.
    pub path: PathBuf,
    /// Payload bytes.
    pub bytes: u64,
    crc32c: u32,
}

/// A cube whose every chunk has been acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    /// Commit sequence number.
    pub seq: u64,
    /// Cube id.
    pub cube_id: String,
    /// State-store key of its landing file.
    pub source: String,
}

/// What recovery found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Staging directories deleted (cubes whose processing was interrupted).
    pub staging_discarded: usize,
    /// Committed cubes loaded.
    pub cubes_ready: usize,
    /// Chunks waiting for Kafka.
    pub chunks_pending: usize,
    /// Cubes moved to quarantine, with the reason.
    pub quarantined: Vec<(String, String)>,
}

/// A snapshot of the outbox's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Committed cubes with chunks left (or awaiting removal).
    pub cubes_ready: usize,
    /// Chunks waiting for an acknowledgement.
    pub chunks_pending: usize,
    /// Bytes of ready payloads.
    pub ready_bytes: u64,
    /// Bytes of staged payloads (the cube being processed).
    pub staging_bytes: u64,
    /// The cap.
    pub cap_bytes: u64,
    /// Whether processing is paused waiting for space right now.
    pub backpressure: bool,
    /// How many times processing had to wait for space.
    pub backpressure_waits: u64,
}

impl OutboxStats {
    /// Staged plus ready bytes.
    pub fn bytes(&self) -> u64 {
        self.ready_bytes + self.staging_bytes
    }
}

pub(super) struct ReadyCube {
    pub(super) dir: PathBuf,
    pub(super) manifest: CubeManifest,
    /// index -> bytes of the chunks not yet acknowledged.
    pub(super) pending: BTreeMap<u32, u64>,
}

#[derive(Default)]
pub(super) struct Index {
    pub(super) next_seq: u64,
    pub(super) cubes: BTreeMap<u64, ReadyCube>,
    pub(super) ready_bytes: u64,
    pub(super) staging_bytes: u64,
    backpressure: bool,
    backpressure_waits: u64,
    warned_over_cap: bool,
}

/// The durable outbox. Shared between the processing thread (stage, commit) and the sender
/// (read, ack) behind an `Arc`.
pub struct Outbox {
    pub(super) staging: PathBuf,
    pub(super) ready: PathBuf,
    quarantine: PathBuf,
    cap_bytes: u64,
    index: Mutex<Index>,
    pub(super) changed: Condvar,
}

impl Outbox {
    /// Open (creating) the outbox in `dir` and recover it (invariant 3).
    pub fn open(dir: &Path, cap_bytes: u64) -> Result<(Outbox, Recovery)> {
        let outbox = Outbox {
            staging: dir.join("staging"),
            ready: dir.join("ready"),
            quarantine: dir.join("quarantine"),
            cap_bytes,
            index: Mutex::new(Index {
                next_seq: 1,
                ..Index::default()
            }),
            changed: Condvar::new(),
        };
        for d in [&outbox.staging, &outbox.ready, &outbox.quarantine] {
            create_dir(d)?;
        }
        let mut recovery = Recovery::default();
        for entry in sorted_entries(&outbox.staging)? {
            remove_tree(&entry)?;
            recovery.staging_discarded += 1;
        }
        let mut index = Index {
            next_seq: 1,
            ..Index::default()
        };
        for dir in sorted_entries(&outbox.ready)? {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            let seq = name
                .as_deref()
                .and_then(|n| n.split_once('-'))
                .and_then(|(s, _)| s.parse::<u64>().ok());
            let Some(seq) = seq.filter(|_| dir.is_dir()) else {
                // A stray file or a directory not made by `commit` (e.g. `x.tmp`).
                if dir.is_dir() {
                    outbox.move_to_quarantine(&dir)?;
                    recovery
                        .quarantined
                        .push((dir.display().to_string(), "not a ready cube".into()));
                } else {
                    remove_file(&dir)?;
                }
                continue;
            };
            index.next_seq = index.next_seq.max(seq + 1);
            match load_ready(&dir) {
                Ok(cube) => {
                    index.ready_bytes += cube.pending.values().sum::<u64>();
                    recovery.chunks_pending += cube.pending.len();
                    recovery.cubes_ready += 1;
                    index.cubes.insert(seq, cube);
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), error = %e, "outbox cube quarantined");
                    outbox.move_to_quarantine(&dir)?;
                    recovery
                        .quarantined
                        .push((dir.display().to_string(), e.to_string()));
                }
            }
        }
        *outbox.lock() = index;
        fsync_dir(&outbox.ready)?;
        fsync_dir(&outbox.staging)?;
        Ok((outbox, recovery))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock cannot leave the index inconsistent with the disk in a
        // way recovery does not already handle, so poisoning is ignored.
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cap in bytes.
    pub fn cap_bytes(&self) -> u64 {
        self.cap_bytes
    }

    /// Current sizes.
    pub fn stats(&self) -> OutboxStats {
        let ix = self.lock();
        OutboxStats {
            cubes_ready: ix.cubes.len(),
            chunks_pending: ix.cubes.values().map(|c| c.pending.len()).sum(),
            ready_bytes: ix.ready_bytes,
            staging_bytes: ix.staging_bytes,
            cap_bytes: self.cap_bytes,
            backpressure: ix.backpressure,
            backpressure_waits: ix.backpressure_waits,
        }
    }

    /// Block until the outbox is below its cap (or nothing can drain), or `shutdown` is set.
    pub fn wait_below_cap(&self, shutdown: &AtomicBool) -> Result<()> {
        self.reserve(0, shutdown, false, None).map(|_| ())
    }

    /// Like [`Outbox::wait_below_cap`] for at most `max`; `Ok(false)` when still full.
    pub fn wait_below_cap_for(&self, shutdown: &AtomicBool, max: Duration) -> Result<bool> {
        self.reserve(0, shutdown, false, Some(Instant::now() + max))
    }

    /// Reserve `bytes` of staging space (invariant 5); `Ok(false)` when `deadline` passed first.
    pub(super) fn reserve(
        &self,
        bytes: u64,
        shutdown: &AtomicBool,
        take: bool,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        let mut ix = self.lock();
        let mut waited = false;
        loop {
            let used = ix.ready_bytes + ix.staging_bytes;
            let fits = if take {
                used + bytes <= self.cap_bytes
            } else {
                used < self.cap_bytes
            };
            if fits || ix.ready_bytes == 0 {
                if !fits && !ix.warned_over_cap {
                    ix.warned_over_cap = true;
                    tracing::warn!(
                        cap_bytes = self.cap_bytes,
                        staging_bytes = ix.staging_bytes,
                        "one cube's output exceeds the outbox cap; raise outbox.cap_bytes"
                    );
                }
                if take {
                    ix.staging_bytes += bytes;
                }
                ix.backpressure = false;
                return Ok(true);
            }
            if shutdown.load(Ordering::Relaxed) {
                ix.backpressure = false;
                return Err(Error::Shutdown);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // Still paused: the flag stays set for the caller's next wait.
                ix.backpressure = true;
                return Ok(false);
            }
            if !waited {
                waited = true;
                ix.backpressure_waits += 1;
                tracing::warn!(
                    used_bytes = used,
                    cap_bytes = self.cap_bytes,
                    "outbox full: processing paused until Kafka acknowledges chunks"
                );
            }
            ix.backpressure = true;
            ix = self
                .changed
                .wait_timeout(ix, WAIT_STEP)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Give back staging space reserved for a chunk that was not written.
    pub(super) fn release(&self, bytes: u64) {
        let mut ix = self.lock();
        ix.staging_bytes = ix.staging_bytes.saturating_sub(bytes);
        drop(ix);
        self.changed.notify_all();
    }

    /// Start staging a cube.
    pub fn begin(&self, cube_id: &str, source: &str) -> Result<Staging<'_>> {
        let dir = self.staging.join(file_key(cube_id));
        remove_tree(&dir)?;
        create_dir(&dir)?;
        Ok(Staging::new(self, Syncer::start()?, dir, cube_id, source))
    }

    /// Up to `limit` pending chunks not in `skip`, oldest cube first, in index order.
    pub fn next_pending(&self, skip: &HashSet<ChunkId>, limit: usize) -> Vec<PendingChunk> {
        let ix = self.lock();
        let mut out = Vec::new();
        for (&seq, cube) in &ix.cubes {
            for (&index, &bytes) in &cube.pending {
                if out.len() >= limit {
                    return out;
                }
                let id = ChunkId { seq, index };
                if skip.contains(&id) {
                    continue;
                }
                let m = &cube.manifest;
                let crc32c = m
                    .chunks
                    .get(index as usize)
                    .map(|c| c.crc32c)
                    .unwrap_or_default();
                out.push(PendingChunk {
                    id,
                    meta: ChunkMeta {
                        cube_id: m.cube_id.clone(),
                        chunk_index: index,
                        chunk_count: m.chunk_count,
                        schema: m.schema.clone(),
                        calibration_version: m.calibration_version.clone(),
                    },
                    path: chunk_path(&cube.dir, index),
                    bytes,
                    crc32c,
                });
            }
        }
        out
    }

    /// The payload of a pending chunk, checked against its manifest CRC-32C.
    pub fn read(&self, chunk: &PendingChunk) -> Result<Vec<u8>> {
        let bytes = std::fs::read(&chunk.path).map_err(|e| Error::io(&chunk.path, e))?;
        let crc = crc32c::crc32c(&bytes);
        if crc != chunk.crc32c {
            return Err(Error::corrupt(
                &chunk.path,
                format!(
                    "CRC-32C {crc:08x} differs from the manifest's {:08x}",
                    chunk.crc32c
                ),
            ));
        }
        Ok(bytes)
    }

    /// Kafka acknowledged `id`: delete its payload (invariant 2). Returns the cube when this was
    /// its last pending chunk; the caller records it as sent, then calls
    /// [`Outbox::remove_drained`]. Acknowledging an unknown chunk is a no-op.
    pub fn ack(&self, id: ChunkId) -> Result<Option<Drained>> {
        let mut ix = self.lock();
        let Some(cube) = ix.cubes.get_mut(&id.seq) else {
            return Ok(None);
        };
        let Some(bytes) = cube.pending.remove(&id.index) else {
            return Ok(None);
        };
        remove_file(&chunk_path(&cube.dir, id.index))?;
        let drained = cube.pending.is_empty().then(|| Drained {
            seq: id.seq,
            cube_id: cube.manifest.cube_id.clone(),
            source: cube.manifest.source.clone(),
        });
        if drained.is_some() {
            fsync_dir(&cube.dir)?;
        }
        ix.ready_bytes -= bytes;
        drop(ix);
        self.changed.notify_all();
        Ok(drained)
    }

    /// Cubes with no pending chunk left (after recovery, or acked before a crash).
    pub fn drained(&self) -> Vec<Drained> {
        let ix = self.lock();
        ix.cubes
            .iter()
            .filter(|(_, c)| c.pending.is_empty())
            .map(|(&seq, c)| Drained {
                seq,
                cube_id: c.manifest.cube_id.clone(),
                source: c.manifest.source.clone(),
            })
            .collect()
    }

    /// The manifests of every ready cube, oldest first.
    pub fn manifests(&self) -> Vec<CubeManifest> {
        self.lock()
            .cubes
            .values()
            .map(|c| c.manifest.clone())
            .collect()
    }

    /// Remove a drained cube's manifest and directory (after the state store recorded it sent).
    pub fn remove_drained(&self, seq: u64) -> Result<()> {
        let mut ix = self.lock();
        let Some(cube) = ix.cubes.get(&seq) else {
            return Ok(());
        };
        if !cube.pending.is_empty() {
            return Ok(());
        }
        let dir = cube.dir.clone();
        remove_tree(&dir)?;
        fsync_dir(&self.ready)?;
        ix.cubes.remove(&seq);
        Ok(())
    }

    /// Move a ready cube aside (a payload failed its checksum); it is reported, not deleted.
    pub fn quarantine(&self, seq: u64, reason: &str) -> Result<()> {
        let mut ix = self.lock();
        let Some(cube) = ix.cubes.remove(&seq) else {
            return Ok(());
        };
        ix.ready_bytes -= cube.pending.values().sum::<u64>();
        tracing::error!(cube_id = %cube.manifest.cube_id, reason, "outbox cube quarantined");
        self.move_to_quarantine(&cube.dir)?;
        drop(ix);
        self.changed.notify_all();
        Ok(())
    }

    fn move_to_quarantine(&self, dir: &Path) -> Result<()> {
        let name = dir.file_name().unwrap_or_default();
        let to = self.quarantine.join(name);
        remove_tree(&to)?;
        std::fs::rename(dir, &to).map_err(|e| Error::io(dir, e))?;
        fsync_dir(&self.quarantine)?;
        fsync_dir(&self.ready)
    }

    /// Wait up to `timeout` for a change (a commit, an ack).
    pub fn wait_for_change(&self, timeout: Duration) {
        let ix = self.lock();
        let _ = self.changed.wait_timeout(ix, timeout);
    }

    /// Chunks waiting for Kafka.
    pub fn pending_chunks(&self) -> usize {
        self.lock().cubes.values().map(|c| c.pending.len()).sum()
    }
}

pub(super) fn chunk_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:06}.parquet"))
}
