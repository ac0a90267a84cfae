//! Idempotency keys: snapshot summary properties that identify one logical commit.
//!
//! A key is one or more `property = value` pairs (e.g. `hsi.manifest.id = m-3f2a…`, or
//! `hsi.cube.id = C1` + `hsi.calibration.version = v2`). Appending with a key writes the pairs
//! into the new snapshot's summary; a later append with the same key finds a snapshot whose
//! summary holds **all** the pairs and commits nothing.
//!
//! The search walks the ancestry of the table's current snapshot (`main`), newest first:
//! data that was rolled back is not "committed" any more, so replaying its key after a
//! rollback writes it again. The window is the retained snapshot history — expiring snapshots
//! forgets their keys, so snapshot expiry must keep more history than any replay can reach
//! back (for the pipeline: longer than SQS message retention and Kafka topic retention).

use std::collections::BTreeMap;

use iceberg::spec::TableMetadata;

use crate::error::{Error, Result};

/// Snapshot summary property: the calibration version of the committed data.
pub const PROP_CALIBRATION_VERSION: &str = "hsi.calibration.version";
/// Snapshot summary property: the Batch manifest id the commit came from.
pub const PROP_MANIFEST_ID: &str = "hsi.manifest.id";
/// Snapshot summary property: the cube whose rows the commit holds.
pub const PROP_CUBE_ID: &str = "hsi.cube.id";
/// Snapshot summary property: Kafka offsets (JSON) consumed up to this commit.
pub const PROP_KAFKA_OFFSETS: &str = "hsi.kafka.offsets";

/// One or more summary properties that identify a logical commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pairs: BTreeMap<String, String>,
}

impl IdempotencyKey {
    /// A key from `(property, value)` pairs; at least one, with non-empty names and values.
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self> {
        let pairs: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if pairs.is_empty() {
            return Err(Error::InvalidInput {
                reason: "idempotency key has no properties".into(),
            });
        }
        if let Some((k, _)) = pairs.iter().find(|(k, v)| k.is_empty() || v.is_empty()) {
            return Err(Error::InvalidInput {
                reason: format!("idempotency key property {k:?} has an empty name or value"),
            });
        }
        Ok(IdempotencyKey { pairs })
    }

    /// `hsi.manifest.id = id` (Batch workers).
    pub fn manifest(manifest_id: &str) -> Result<Self> {
        Self::new([(PROP_MANIFEST_ID, manifest_id)])
    }

    /// `hsi.cube.id = cube_id` + `hsi.calibration.version = version` (one cube, one version).
    pub fn cube(cube_id: &str, calibration_version: &str) -> Result<Self> {
        Self::new([
            (PROP_CUBE_ID, cube_id),
            (PROP_CALIBRATION_VERSION, calibration_version),
        ])
    }

    /// The pairs, sorted by property name.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.pairs
    }

    /// Whether a snapshot summary carries every pair of this key.
    pub fn matches<'a>(&self, mut lookup: impl FnMut(&str) -> Option<&'a str>) -> bool {
        self.pairs
            .iter()
            .all(|(k, v)| lookup(k) == Some(v.as_str()))
    }

    /// The newest snapshot in `main`'s ancestry that carries this key.
    pub fn find_in(&self, metadata: &TableMetadata) -> Option<i64> {
        ancestry(metadata).find_map(|s| {
            let props = &s.summary().additional_properties;
            self.matches(|k| props.get(k).map(String::as_str))
                .then_some(s.snapshot_id())
        })
    }
}

impl std::fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (k, v) in &self.pairs {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

/// Snapshots from `main` back to the first retained ancestor, newest first. Stops at a missing
/// (expired) parent and never loops, even on corrupt metadata with a parent cycle.
pub(crate) fn ancestry(
    metadata: &TableMetadata,
) -> impl Iterator<Item = &iceberg::spec::SnapshotRef> + '_ {
    let mut next = metadata.current_snapshot_id();
    let mut remaining = metadata.snapshots().len();
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        remaining -= 1;
        let snapshot = metadata.snapshot_by_id(next?)?;
        next = snapshot.parent_snapshot_id();
        Some(snapshot)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_need_all_pairs() {
        let k = IdempotencyKey::cube("C1", "v2").unwrap();
        let props = [
            (PROP_CUBE_ID, "C1"),
            (PROP_CALIBRATION_VERSION, "v2"),
            ("other", "x"),
        ];
        let get = |name: &str| props.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        assert!(k.matches(get));
        let k2 = IdempotencyKey::cube("C1", "v3").unwrap();
        assert!(!k2.matches(get));
        assert_eq!(k.to_string(), "hsi.calibration.version=v2, hsi.cube.id=C1");
        assert!(IdempotencyKey::manifest("").is_err());
        assert!(IdempotencyKey::new(Vec::<(String, String)>::new()).is_err());
    }
}
