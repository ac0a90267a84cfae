//! Finding finished raw cubes in the landing directory.
//!
//! ## The convention: a cube is complete when its final name appears
//!
//! - **HDF5**: the writer writes `NAME.h5.partial` (or any name ending in `.partial` or `.tmp`,
//!   or starting with `.`), closes it, then renames it to `NAME.h5` (`.hdf5`, `.he5`).
//!   `rename(2)` is atomic, so `NAME.h5` is never half-written.
//! - **ENVI**: the writer renames the binary (`NAME.img`, `.raw`, `.bin`, `.dat` or no
//!   extension) into place first and the header `NAME.hdr` **last**. A cube is taken when its
//!   `.hdr` exists and its binary is found beside it; a binary without a header is left alone.
//!
//! As a guard for writers that copy in place instead of renaming, every file of a cube must
//! also be unmodified for `landing.settle` (default 2 s). Names that are hidden, end in
//! `.partial`/`.tmp`, or are directories are never taken. The directory is not scanned
//! recursively. A cube's state is keyed by its landing file name (the `.h5` or the `.hdr`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::error::{Error, Result};
use crate::read::envi;

/// A complete cube in the landing directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandingCube {
    /// The state key: the `.h5` or `.hdr` file name.
    pub source: String,
    /// The file to open with [`crate::read::open`].
    pub open_path: PathBuf,
    /// Every file of the cube (ENVI: header, then binary).
    pub files: Vec<PathBuf>,
    /// Total bytes of those files.
    pub bytes: u64,
    /// The newest modification time among them.
    pub modified: SystemTime,
}

impl LandingCube {
    /// Whether this is an ENVI cube (header + binary).
    pub fn is_envi(&self) -> bool {
        self.files.len() > 1
    }
}

/// Complete cubes in `dir` unmodified for `settle`, oldest first (then by name).
pub fn scan(dir: &Path, settle: Duration) -> Result<Vec<LandingCube>> {
    let now = SystemTime::now();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".partial") || name.ends_with(".tmp") {
            continue;
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let files = match ext.as_str() {
            "h5" | "hdf5" | "he5" => vec![path.clone()],
            "hdr" => match envi::binary_path_for(&path) {
                Some(bin) => vec![path.clone(), bin],
                None => continue,
            },
            _ => continue,
        };
        let mut bytes = 0;
        let mut modified = SystemTime::UNIX_EPOCH;
        let mut ok = true;
        for f in &files {
            match std::fs::metadata(f) {
                Ok(m) if m.is_file() => {
                    bytes += m.len();
                    let t = m.modified().unwrap_or(now);
                    modified = modified.max(t);
                }
                _ => ok = false,
            }
        }
        let settled = now.duration_since(modified).unwrap_or_default() >= settle;
        if ok && settled {
            out.push(LandingCube {
                source: name,
                open_path: path,
                files,
                bytes,
                modified,
            });
        }
    }
    out.sort_by(|a, b| (a.modified, &a.source).cmp(&(b.modified, &b.source)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_settled_cubes_are_taken() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for f in [
            "a.h5",
            "b.h5.partial",
            ".c.h5",
            "d.tmp",
            "e.img",
            "f.img",
            "f.hdr",
            "g.hdr",
            "notes.txt",
        ] {
            std::fs::write(d.join(f), b"x").expect("write");
        }
        std::fs::create_dir(d.join("sub.h5")).expect("dir");
        let found = scan(d, Duration::ZERO).expect("scan");
        let mut names: Vec<_> = found.iter().map(|c| c.source.as_str()).collect();
        names.sort();
        // e.img has no header yet; g.hdr has no binary yet.
        assert_eq!(names, vec!["a.h5", "f.hdr"]);
        let f = found.iter().find(|c| c.source == "f.hdr").expect("f");
        assert!(f.is_envi());
        assert_eq!(f.files, vec![d.join("f.hdr"), d.join("f.img")]);
        assert_eq!(f.bytes, 2);
        // Nothing has settled for an hour.
        assert!(scan(d, Duration::from_secs(3600)).expect("scan").is_empty());
    }
}
