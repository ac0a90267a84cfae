//! Manifests: the unit of work of one Batch job.
//!
//! A manifest lists cube references, sorted, and its id is the SHA-256 of that sorted list
//! (`bucket \t key \t etag \n` per cube), so the same set of objects always makes the same
//! manifest — a replayed or redelivered bundle writes the same file and its commits carry the
//! same `hsi.manifest.id`. The file lives at
//! `{prefix}manifests/{yyyy}/{mm}/{dd}/{id}.json`, dated by the earliest event in it (not
//! the wall clock, so a replay lands on the same key).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::event::CubeRef;
use crate::error::{Error, Result};

/// Manifest format version.
pub const MANIFEST_VERSION: u32 = 1;

/// One cube in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestCube {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// ETag at event time (empty when the event had none).
    #[serde(default)]
    pub etag: String,
}

/// A manifest (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// SHA-256 (hex) of the sorted cube list.
    pub id: String,
    /// The day used in the key.
    pub date: NaiveDate,
    /// Cubes, sorted and unique.
    pub cubes: Vec<ManifestCube>,
}

impl Manifest {
    /// Build a manifest from references (any order, duplicates allowed). `fallback_date` is
    /// used when no reference carries an event time.
    pub fn build(refs: &[CubeRef], fallback_date: NaiveDate) -> Result<Manifest> {
        let mut cubes: Vec<ManifestCube> = refs
            .iter()
            .map(|r| ManifestCube {
                bucket: r.bucket.clone(),
                key: r.key.clone(),
                etag: r.etag.clone().unwrap_or_default(),
            })
            .collect();
        cubes.sort();
        cubes.dedup();
        if cubes.is_empty() {
            return Err(Error::Manifest {
                uri: "(new)".into(),
                reason: "no cubes".into(),
            });
        }
        let date = refs
            .iter()
            .filter_map(|r| r.event_time)
            .min()
            .map(|t: DateTime<Utc>| t.date_naive())
            .unwrap_or(fallback_date);
        Ok(Manifest {
            version: MANIFEST_VERSION,
            id: manifest_id(&cubes),
            date,
            cubes,
        })
    }

    /// `{prefix}manifests/{yyyy}/{mm}/{dd}/{id}.json`.
    pub fn key(&self, prefix: &str) -> String {
        format!(
            "{prefix}manifests/{:04}/{:02}/{:02}/{}.json",
            self.date.year(),
            self.date.month(),
            self.date.day(),
            self.id
        )
    }

    /// The JSON text (stable: same manifest, same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parse and verify a manifest read from `uri`: the id must match the contents.
    pub fn from_json(uri: &str, text: &str) -> Result<Manifest> {
        let err = |reason: String| Error::Manifest {
            uri: uri.to_owned(),
            reason,
        };
        let m: Manifest = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        if m.version != MANIFEST_VERSION {
            return Err(err(format!("unsupported version {}", m.version)));
        }
        let mut sorted = m.cubes.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != m.cubes || m.cubes.is_empty() {
            return Err(err("cubes are empty, unsorted or repeated".into()));
        }
        let id = manifest_id(&m.cubes);
        if id != m.id {
            return Err(err(format!(
                "id {} does not match its contents ({id})",
                m.id
            )));
        }
        Ok(m)
    }
}

/// SHA-256 hex of `bucket \t key \t etag \n` over the (sorted) cubes.
pub fn manifest_id(sorted: &[ManifestCube]) -> String {
    let mut h = Sha256::new();
    for c in sorted {
        h.update(c.bucket.as_bytes());
        h.update(b"\t");
        h.update(c.key.as_bytes());
        h.update(b"\t");
        h.update(c.etag.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(key: &str, etag: &str, t: &str) -> CubeRef {
        CubeRef {
            bucket: "raw".into(),
            key: key.into(),
            etag: Some(etag.into()),
            size: None,
            sequencer: None,
            event_time: Some(t.parse().unwrap()),
        }
    }

    #[test]
    fn id_is_the_sha256_of_the_sorted_list_and_order_free() {
        let a = r(
            "raw_cubes/r/F/2026/07/02/B.h5",
            "e2",
            "2026-07-02T10:00:00Z",
        );
        let b = r(
            "raw_cubes/r/F/2026/07/01/A.h5",
            "e1",
            "2026-07-01T23:59:59Z",
        );
        let fallback = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let m1 = Manifest::build(&[a.clone(), b.clone()], fallback).unwrap();
        let m2 = Manifest::build(&[b.clone(), a.clone(), b.clone()], fallback).unwrap();
        assert_eq!(m1, m2);
        // Independently: sha256 of the canonical text, computed by hand here.
        let text =
            "raw\traw_cubes/r/F/2026/07/01/A.h5\te1\nraw\traw_cubes/r/F/2026/07/02/B.h5\te2\n";
        assert_eq!(m1.id, hex::encode(Sha256::digest(text.as_bytes())));
        assert_eq!(m1.key(""), format!("manifests/2026/07/01/{}.json", m1.id));
        assert_eq!(
            m1.key("ops/"),
            format!("ops/manifests/2026/07/01/{}.json", m1.id)
        );
        let back = Manifest::from_json("mem", &m1.to_json()).unwrap();
        assert_eq!(back, m1);
    }

    #[test]
    fn a_tampered_manifest_is_rejected() {
        let m = Manifest::build(
            &[r("raw_cubes/a.h5", "e", "2026-07-01T00:00:00Z")],
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap();
        let text = m.to_json().replace("raw_cubes/a.h5", "raw_cubes/b.h5");
        let e = Manifest::from_json("s3://m/x.json", &text).unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        assert!(Manifest::build(&[], NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).is_err());
    }
}
