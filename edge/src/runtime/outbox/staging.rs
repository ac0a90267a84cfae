//! A cube being staged into the outbox (invariant 1 in the [module docs](super)): chunks are
//! written and fsynced under `staging/`, then the manifest, then the directory is renamed into
//! `ready/`. Dropping a [`Staging`] without committing deletes its directory.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::store::{ChunkEntry, CubeManifest, FORMAT, MANIFEST, Outbox, ReadyCube, chunk_path};
use super::syncer::Syncer;
use crate::runtime::error::{Error, Result};
use crate::runtime::fsutil::{file_key, fsync_dir, remove_tree, write_new, write_synced};

/// A cube being written into `staging/`. Dropping it without [`Staging::commit`] deletes it.
pub struct Staging<'a> {
    outbox: &'a Outbox,
    syncer: Syncer,
    dir: PathBuf,
    cube_id: String,
    source: String,
    chunks: Vec<ChunkEntry>,
    committed: bool,
}

impl<'a> Staging<'a> {
    pub(super) fn new(
        outbox: &'a Outbox,
        syncer: Syncer,
        dir: PathBuf,
        cube_id: &str,
        source: &str,
    ) -> Self {
        Staging {
            outbox,
            syncer,
            dir,
            cube_id: cube_id.to_owned(),
            source: source.to_owned(),
            chunks: Vec::new(),
            committed: false,
        }
    }

    /// Add the next chunk: waits for space under the cap (backpressure), then writes the
    /// payload; its fsync runs in the background and [`Staging::commit`] waits for it.
    pub fn add(&mut self, payload: &[u8], shutdown: &AtomicBool) -> Result<()> {
        let bytes = payload.len() as u64;
        self.outbox.reserve(bytes, shutdown, true, None)?;
        let index = self.chunks.len() as u32;
        let path = chunk_path(&self.dir, index);
        // A failed write (ENOSPC, EIO) leaves no file (`write_new` removes what it wrote) and
        // no entry; a failed fsync fails the commit. The manifest only ever lists chunks fully
        // written and fsynced.
        let file = match write_new(&path, payload) {
            Ok(f) => f,
            Err(e) => {
                self.outbox.release(bytes);
                return Err(e);
            }
        };
        if let Err(e) = self.syncer.sync(path, file) {
            self.outbox.release(bytes);
            return Err(e);
        }
        self.chunks.push(ChunkEntry {
            index,
            bytes,
            crc32c: crc32c::crc32c(payload),
        });
        Ok(())
    }

    /// Chunks staged so far.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Commit the cube (invariant 1). Returns its sequence number.
    pub fn commit(mut self, schema: &str, calibration_version: &str, rows: u64) -> Result<u64> {
        let manifest = CubeManifest {
            format: FORMAT,
            cube_id: self.cube_id.clone(),
            source: self.source.clone(),
            chunk_count: self.chunks.len() as u32,
            schema: schema.to_owned(),
            calibration_version: calibration_version.to_owned(),
            rows,
            chunks: self.chunks.clone(),
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::corrupt(&self.dir, e.to_string()))?;
        // Every chunk is on disk before the manifest that lists it is written.
        self.syncer.finish()?;
        write_synced(&self.dir.join(MANIFEST), &json)?;
        fsync_dir(&self.dir)?;
        let outbox = self.outbox;
        let mut ix = outbox.lock();
        let seq = ix.next_seq;
        let to = outbox
            .ready
            .join(format!("{seq:016}-{}", file_key(&self.cube_id)));
        std::fs::rename(&self.dir, &to).map_err(|e| Error::io(&to, e))?;
        fsync_dir(&outbox.ready)?;
        fsync_dir(&outbox.staging)?;
        self.committed = true;
        let bytes: u64 = manifest.chunks.iter().map(|c| c.bytes).sum();
        ix.next_seq += 1;
        ix.staging_bytes -= bytes;
        ix.ready_bytes += bytes;
        let pending = manifest.chunks.iter().map(|c| (c.index, c.bytes)).collect();
        ix.cubes.insert(
            seq,
            ReadyCube {
                dir: to,
                manifest,
                pending,
            },
        );
        drop(ix);
        outbox.changed.notify_all();
        Ok(seq)
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let bytes: u64 = self.chunks.iter().map(|c| c.bytes).sum();
        self.outbox.lock().staging_bytes -= bytes;
        if let Err(e) = remove_tree(&self.dir) {
            tracing::warn!(error = %e, "cannot remove an abandoned staging directory");
        }
        self.outbox.changed.notify_all();
    }
}
