//! Loading a committed cube at start-up (invariant 3 of the [module docs](super)).

use std::collections::BTreeMap;
use std::path::Path;

use super::store::{CubeManifest, FORMAT, MANIFEST, ReadyCube};
use crate::runtime::error::{Error, Result};
use crate::runtime::fsutil::{remove_file, sorted_entries};

/// Load a committed cube directory, checking the remaining payloads against the manifest.
pub(super) fn load_ready(dir: &Path) -> Result<ReadyCube> {
    let mpath = dir.join(MANIFEST);
    let text = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
    let manifest: CubeManifest =
        serde_json::from_slice(&text).map_err(|e| Error::corrupt(&mpath, e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(Error::corrupt(
            &mpath,
            format!("format {} (this build reads {FORMAT})", manifest.format),
        ));
    }
    let consistent = manifest.chunk_count as usize == manifest.chunks.len()
        && manifest
            .chunks
            .iter()
            .enumerate()
            .all(|(i, c)| c.index as usize == i);
    if !consistent {
        return Err(Error::corrupt(
            &mpath,
            "chunk list does not match chunk_count",
        ));
    }
    let mut pending = BTreeMap::new();
    for path in sorted_entries(dir)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == MANIFEST {
            continue;
        }
        let index = name
            .strip_suffix(".parquet")
            .and_then(|s| s.parse::<u32>().ok());
        let Some(entry) = index.and_then(|i| manifest.chunks.get(i as usize)) else {
            // `*.tmp` and other leftovers: never part of a committed cube.
            remove_file(&path)?;
            continue;
        };
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        if len != entry.bytes {
            return Err(Error::corrupt(
                &path,
                format!("{len} bytes, the manifest says {}", entry.bytes),
            ));
        }
        pending.insert(entry.index, entry.bytes);
    }
    Ok(ReadyCube {
        dir: dir.to_path_buf(),
        manifest,
        pending,
    })
}
