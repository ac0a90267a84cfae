//! Local retention: when the landing directory grows past `high_water_bytes`, delete raw cubes
//! that are both processed and backhauled, oldest first, until it is under `low_water_bytes`.
//! A cube that is not yet backhauled or not yet processed is never deleted, whatever the disk.

use std::path::Path;
use std::time::Duration;

use crate::runtime::config::RetentionConfig;
use crate::runtime::error::{Error, Result};
use crate::runtime::landing;
use crate::runtime::state::StateStore;

/// Run one retention pass; returns the cubes deleted.
pub fn enforce(landing_dir: &Path, cfg: &RetentionConfig, state: &StateStore) -> Result<u32> {
    if !cfg.enabled {
        return Ok(0);
    }
    let cubes = landing::scan(landing_dir, Duration::ZERO)?;
    let mut total: u64 = cubes.iter().map(|c| c.bytes).sum();
    if total <= cfg.high_water_bytes {
        return Ok(0);
    }
    let mut deleted = 0;
    for cube in cubes {
        if total <= cfg.low_water_bytes {
            break;
        }
        // Only a record of this very capture allows deleting it.
        let fp = crate::runtime::state::fingerprint(&cube.files)?;
        let Some(rec) = state.current(&cube.source, &fp)? else {
            continue;
        };
        if rec.processed.is_none() || rec.backhauled.is_none() {
            continue;
        }
        // Header (or the .h5) first: a half-deleted cube is never seen as complete again.
        for f in &cube.files {
            std::fs::remove_file(f).map_err(|e| Error::io(f, e))?;
        }
        let now = chrono::Utc::now();
        state.update(&cube.source, |r| r.deleted_at = Some(now))?;
        total -= cube.bytes;
        deleted += 1;
        tracing::info!(source = %cube.source, bytes = cube.bytes, "retention deleted a backhauled cube");
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::state::{Backhauled, Processed};

    #[test]
    fn only_processed_and_backhauled_cubes_go_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let landing = dir.path().join("landing");
        std::fs::create_dir(&landing).expect("mkdir");
        let state = StateStore::open(&dir.path().join("state")).expect("state");
        let now = chrono::Utc::now();
        for (i, name) in ["a.h5", "b.h5", "c.h5", "d.h5"].iter().enumerate() {
            let p = landing.join(name);
            std::fs::write(&p, vec![0u8; 100]).expect("write");
            let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .and_then(|f| f.set_modified(t))
                .expect("mtime");
        }
        let processed = Processed {
            at: now,
            rows: 1,
            chunks: 1,
            calibration_version: "v".into(),
            calibrator: "cpu".into(),
            profile: "full".into(),
        };
        let backhauled = Backhauled {
            at: now,
            bucket: "b".into(),
            keys: vec![],
            sha256: vec![],
        };
        // a: processed only; b, c, d: processed and backhauled.
        state
            .update("a.h5", |r| r.processed = Some(processed.clone()))
            .expect("a");
        for s in ["b.h5", "c.h5", "d.h5"] {
            state
                .update(s, |r| {
                    r.processed = Some(processed.clone());
                    r.backhauled = Some(backhauled.clone());
                })
                .expect("update");
        }
        let cfg = RetentionConfig {
            enabled: true,
            high_water_bytes: 350,
            low_water_bytes: 200,
        };
        assert_eq!(enforce(&landing, &cfg, &state).expect("enforce"), 2);
        let left: Vec<bool> = ["a.h5", "b.h5", "c.h5", "d.h5"]
            .iter()
            .map(|n| landing.join(n).exists())
            .collect();
        assert_eq!(left, vec![true, false, false, true]);
        assert!(
            state
                .get("b.h5")
                .expect("get")
                .expect("b")
                .deleted_at
                .is_some()
        );
        // Under the high-water mark nothing more happens.
        assert_eq!(enforce(&landing, &cfg, &state).expect("enforce"), 0);
    }
}
