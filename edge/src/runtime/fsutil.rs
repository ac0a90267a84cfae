//! Durable file primitives: atomic replace, fsync of directories, file-name-safe keys.
//!
//! POSIX gives atomic `rename(2)` within a file system; durability of a rename (or of a new
//! or deleted directory entry) needs an `fsync` of the directory. [`write_atomic`] does both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::{Error, Result};

/// Characters kept as they are in file-name keys: ASCII letters, digits, `-`, `_` and `.`.
const KEY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// A file-name-safe, reversible key for an arbitrary id (percent-encoding; `..` and a leading
/// `.` are escaped too, so a key is never a hidden or parent directory).
pub fn file_key(id: &str) -> String {
    let s = utf8_percent_encode(id, KEY_ESCAPE).to_string();
    match s.strip_prefix('.') {
        Some(rest) => format!("%2E{rest}"),
        None if s.is_empty() => "%00".to_owned(),
        None => s,
    }
}

/// `fsync` a directory so that entries created, renamed or removed in it are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Create a file with `bytes`, fsync it (no rename: for files inside a staging directory that is
/// itself renamed into place). When writing or syncing fails (a full disk: `ENOSPC`), the
/// partial file is removed before the error is returned.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let f = write_new(path, bytes)?;
    f.sync_all().map_err(|e| {
        remove_partial(path);
        Error::io(path, e)
    })
}

/// Create a file with `bytes`, not yet fsynced (the caller syncs the returned file). When
/// writing fails (`ENOSPC`), the partial file is removed before the error is returned.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<File> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match f.write_all(bytes) {
        Ok(()) => Ok(f),
        Err(e) => {
            drop(f);
            remove_partial(path);
            Err(Error::io(path, e))
        }
    }
}

/// Best-effort removal of a file whose write failed.
pub fn remove_partial(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove a partial file");
    }
}

/// Replace `path` with `bytes` atomically and durably: write `path.tmp`, fsync, rename, fsync
/// the directory. After a crash `path` holds either the old or the new content, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_path(path);
    write_synced(&tmp, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// `path` with `.tmp` appended (leftovers are removed by recovery).
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Create a directory (and parents).
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// Remove a directory tree; a missing one is fine.
pub fn remove_tree(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Remove a file; a missing one is fine.
pub fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Entries of a directory, sorted by name.
pub fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_and_distinct() {
        assert_eq!(file_key("cube-2026_06.01"), "cube-2026_06.01");
        assert_eq!(file_key("a/b"), "a%2Fb");
        assert_eq!(file_key(".."), "%2E.");
        assert_eq!(file_key(""), "%00");
        assert_ne!(file_key("a b"), file_key("a_b"));
    }

    #[test]
    fn a_failed_write_leaves_no_partial_file() {
        // `/dev/full` answers every write with ENOSPC; the name is a symlink to it.
        if !Path::new("/dev/full").exists() {
            eprintln!("SKIPPED: no /dev/full");
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("000000.parquet");
        std::os::unix::fs::symlink("/dev/full", &p).expect("symlink");
        let e = write_synced(&p, b"payload").expect_err("ENOSPC");
        assert!(e.retryable(), "{e}");
        assert!(
            matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull),
            "{e}"
        );
        assert!(
            std::fs::symlink_metadata(&p).is_err(),
            "the partial file is removed"
        );
    }

    #[test]
    fn atomic_write_replaces_whole_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two two").expect("rewrite");
        assert_eq!(std::fs::read(&p).expect("read"), b"two two");
        assert!(!tmp_path(&p).exists());
    }
}
