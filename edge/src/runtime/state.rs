//! The per-cube state store: what happened to each landing file, durably.
//!
//! One JSON file per landing cube, `STATE/cubes/{key}.json` (key: the landing file name made
//! file-name safe), replaced atomically ([`write_atomic`]) on every change. Updates are
//! read-modify-write under an in-process mutex and an exclusive lock on `STATE/.lock`
//! (`flock`), so the daemon and an operator's `hsi-edge backhaul` can update the same record.
//!
//! A record moves through `processed` (its chunks are committed to the outbox), `sent` (Kafka
//! acknowledged every chunk), `backhauled` (the raw files are in S3) and, with retention,
//! `deleted`; `failed` marks a cube that cannot be processed (bad input; delete the record to
//! retry it), `backhaul_failed` one whose upload can never succeed (its raw object key holds a
//! different capture).
//!
//! ## A record belongs to one capture, not to a name
//!
//! A name can be reused: a new capture may land as `a.h5` after the first `a.h5` was processed,
//! backhauled and deleted, or be renamed over it. Each record carries the **fingerprint** of
//! the files it describes ([`fingerprint`]: size, modification time and inode of each file;
//! a rename-on-close always makes a new inode). [`StateStore::current`] returns a record only
//! for the capture now in the landing directory; a record of an earlier capture with the same
//! name is moved to `STATE/cubes/history/` and the new capture starts a fresh record, so it is
//! processed, uploaded and only then deleted like any other. The content itself (SHA-256) is
//! recorded by the backhaul, and the raw object upload is conditional (`If-None-Match: *`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::fsutil::{create_dir, file_key, sorted_entries, write_atomic};

/// Everything known about one landing cube.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CubeRecord {
    /// The landing file name (the `.h5`, or the ENVI `.hdr`): the record's key.
    pub source: String,
    /// Every landing file of the cube (ENVI: header and binary).
    #[serde(default)]
    pub files: Vec<String>,
    /// The cube id, once read.
    #[serde(default)]
    pub cube_id: Option<String>,
    /// Processing result.
    #[serde(default)]
    pub processed: Option<Processed>,
    /// When Kafka had acknowledged every chunk.
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// Backhaul result.
    #[serde(default)]
    pub backhauled: Option<Backhauled>,
    /// Why the cube could not be processed.
    #[serde(default)]
    pub failed: Option<Failed>,
    /// When retention deleted the raw files.
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// Which capture this record describes ([`fingerprint`]); absent in records written
    /// before fingerprints (taken to match).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Why the backhaul can never succeed (not retried).
    #[serde(default)]
    pub backhaul_failed: Option<Failed>,
}

/// The identity of the files of one capture in the landing directory: size, modification time
/// (ns) and inode of each, in order.
pub fn fingerprint(files: &[PathBuf]) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let mut parts = Vec::with_capacity(files.len());
    for f in files {
        let m = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
        parts.push(format!("{}:{}:{}", m.len(), mtime, m.ino()));
    }
    Ok(parts.join(";"))
}

/// `processed` of a [`CubeRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Processed {
    /// When the chunks were committed to the outbox.
    pub at: DateTime<Utc>,
    /// Rows written.
    pub rows: u64,
    /// Chunks written.
    pub chunks: u32,
    /// The rows' calibration version.
    pub calibration_version: String,
    /// Calibrator used.
    pub calibrator: String,
    /// Profile used.
    pub profile: String,
}

/// `backhauled` of a [`CubeRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backhauled {
    /// When the last upload completed.
    pub at: DateTime<Utc>,
    /// Bucket.
    pub bucket: String,
    /// Object keys, one per landing file.
    pub keys: Vec<String>,
    /// Hex SHA-256 of each file, same order.
    pub sha256: Vec<String>,
}

/// `failed` of a [`CubeRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    /// When.
    pub at: DateTime<Utc>,
    /// The error.
    pub reason: String,
}

/// The state directory.
pub struct StateStore {
    cubes: PathBuf,
    lock: PathBuf,
    mutex: Mutex<()>,
}

impl StateStore {
    /// Open (creating) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let cubes = dir.join("cubes");
        create_dir(&cubes)?;
        Ok(StateStore {
            cubes,
            lock: dir.join(".lock"),
            mutex: Mutex::new(()),
        })
    }

    fn path(&self, source: &str) -> PathBuf {
        self.cubes.join(format!("{}.json", file_key(source)))
    }

    /// The exclusive lock on `STATE/.lock` (released when dropped).
    fn lock_file(&self) -> Result<File> {
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(|e| Error::io(&self.lock, e))?;
        lock.lock().map_err(|e| Error::io(&self.lock, e))?;
        Ok(lock)
    }

    /// The record of `source`, if any.
    pub fn get(&self, source: &str) -> Result<Option<CubeRecord>> {
        read_record(&self.path(source))
    }

    /// The record of `source` if it describes the capture with `fingerprint`. A record of an
    /// earlier capture with the same name is moved to `cubes/history/` (see the module docs)
    /// and `None` returned.
    pub fn current(&self, source: &str, fingerprint: &str) -> Result<Option<CubeRecord>> {
        let _guard = self.mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.lock_file()?;
        let path = self.path(source);
        let Some(rec) = read_record(&path)? else {
            return Ok(None);
        };
        match &rec.fingerprint {
            Some(f) if f != fingerprint => {
                let history = self.cubes.join("history");
                create_dir(&history)?;
                let stamp = Utc::now().format("%Y%m%dT%H%M%S%.9fZ");
                let to = history.join(format!("{}.{stamp}.json", file_key(source)));
                std::fs::rename(&path, &to).map_err(|e| Error::io(&path, e))?;
                if rec.backhauled.is_none() {
                    tracing::error!(
                        source,
                        cube_id = ?rec.cube_id,
                        "a new capture replaced a landing file that was never backhauled: the \
                         earlier capture is no longer on this device"
                    );
                } else {
                    tracing::warn!(source, archived = %to.display(), "landing name reused by a new capture; earlier record archived");
                }
                Ok(None)
            }
            _ => Ok(Some(rec)),
        }
    }

    /// Every record, sorted by source.
    pub fn all(&self) -> Result<Vec<CubeRecord>> {
        let mut out = Vec::new();
        for p in sorted_entries(&self.cubes)? {
            if p.extension().is_some_and(|e| e == "json")
                && let Some(r) = read_record(&p)?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Apply `change` to the record of `source` (a new one when absent) and store it durably.
    pub fn update(&self, source: &str, change: impl FnOnce(&mut CubeRecord)) -> Result<CubeRecord> {
        let _guard = self.mutex.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = self.lock_file()?;
        let path = self.path(source);
        let mut rec = read_record(&path)?.unwrap_or_else(|| CubeRecord {
            source: source.to_owned(),
            ..CubeRecord::default()
        });
        change(&mut rec);
        let json =
            serde_json::to_vec_pretty(&rec).map_err(|e| Error::corrupt(&path, e.to_string()))?;
        write_atomic(&path, &json)?;
        Ok(rec)
    }
}

fn read_record(path: &Path) -> Result<Option<CubeRecord>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::corrupt(path, e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_updates_merge() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        assert_eq!(store.get("a.h5").expect("get"), None);
        store
            .update("a.h5", |r| r.cube_id = Some("c-a".into()))
            .expect("update");
        let at = Utc::now();
        store
            .update("a.h5", |r| r.sent_at = Some(at))
            .expect("update");
        store.update("b/c.hdr", |_| {}).expect("update");
        let store = StateStore::open(dir.path()).expect("reopen");
        let a = store.get("a.h5").expect("get").expect("present");
        assert_eq!(a.cube_id.as_deref(), Some("c-a"));
        assert_eq!(a.sent_at, Some(at));
        let all: Vec<_> = store
            .all()
            .expect("all")
            .into_iter()
            .map(|r| r.source)
            .collect();
        assert_eq!(all, vec!["a.h5", "b/c.hdr"]);
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        std::fs::write(dir.path().join("cubes/x.h5.json"), b"{not json").expect("write");
        let e = store.get("x.h5").expect_err("corrupt");
        assert!(e.to_string().contains("x.h5.json"), "{e}");
        assert!(!e.retryable());
    }
}
