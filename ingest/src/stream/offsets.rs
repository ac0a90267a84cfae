//! `hsi.kafka.offsets`: the consumer group's progress, held in Silver's snapshot summaries.
//!
//! Value: `{"topic":"hsi.silver.v1","group":"hsi-silver-ingest","partitions":{"0":1234,...}}`
//! — the **next** offset to consume per partition. Every stream commit writes the full map
//! (the map of the state it committed on, merged with its own ends), so the newest snapshot in
//! `main`'s ancestry that carries this topic and group is the whole truth.

use std::collections::BTreeMap;

use hsi_lakehouse::table::PROP_KAFKA_OFFSETS;
use iceberg::spec::TableMetadata;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The value of `hsi.kafka.offsets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaOffsets {
    /// Topic.
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// Next offset per partition.
    pub partitions: BTreeMap<i32, i64>,
}

/// The progress of `group` on `topic` in `metadata`'s `main` ancestry (empty when none), with
/// the snapshot that carries it.
pub fn table_offsets(
    metadata: &TableMetadata,
    table: &str,
    topic: &str,
    group: &str,
) -> Result<(BTreeMap<i32, i64>, Option<i64>)> {
    let mut next = metadata.current_snapshot_id();
    let mut remaining = metadata.snapshots().len();
    while let (Some(id), true) = (next, remaining > 0) {
        remaining -= 1;
        let Some(snapshot) = metadata.snapshot_by_id(id) else {
            break;
        };
        if let Some(text) = snapshot
            .summary()
            .additional_properties
            .get(PROP_KAFKA_OFFSETS)
        {
            let parsed: KafkaOffsets = serde_json::from_str(text).map_err(|e| Error::Offsets {
                table: table.to_owned(),
                snapshot_id: id,
                reason: e.to_string(),
            })?;
            if parsed.topic == topic && parsed.group == group {
                return Ok((parsed.partitions, Some(id)));
            }
        }
        next = snapshot.parent_snapshot_id();
    }
    Ok((BTreeMap::new(), None))
}

/// The fence: a batch read partition `p` from `starts[p]` (`None` = from the beginning, when
/// the table had no offset for it). It may commit only if the table still says exactly that.
/// Returns `Err(reason)` when another writer moved a partition since.
pub fn check_fence(
    table: &BTreeMap<i32, i64>,
    starts: &BTreeMap<i32, Option<i64>>,
) -> std::result::Result<(), String> {
    for (p, start) in starts {
        let now = table.get(p).copied();
        if now != *start {
            return Err(format!(
                "partition {p}: batch starts at {start:?} but the table is at {now:?}"
            ));
        }
    }
    Ok(())
}

/// `table` with `ends` applied (the value written by a commit).
pub fn merged(table: &BTreeMap<i32, i64>, ends: &BTreeMap<i32, i64>) -> BTreeMap<i32, i64> {
    let mut out = table.clone();
    out.extend(ends.iter().map(|(p, o)| (*p, *o)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_round_trips() {
        let o = KafkaOffsets {
            topic: "t".into(),
            group: "g".into(),
            partitions: BTreeMap::from([(0, 10), (2, 7)]),
        };
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(
            text,
            r#"{"topic":"t","group":"g","partitions":{"0":10,"2":7}}"#
        );
        assert_eq!(serde_json::from_str::<KafkaOffsets>(&text).unwrap(), o);
    }

    #[test]
    fn fence_needs_exact_starts() {
        let table = BTreeMap::from([(0, 10), (1, 20)]);
        assert!(check_fence(&table, &BTreeMap::from([(0, Some(10))])).is_ok());
        // Another writer committed past the start (a zombie after a rebalance).
        let e = check_fence(&table, &BTreeMap::from([(1, Some(15))])).unwrap_err();
        assert!(e.contains("partition 1"), "{e}");
        // No table offset yet: only a batch from the beginning may commit.
        assert!(check_fence(&table, &BTreeMap::from([(2, None)])).is_ok());
        assert!(check_fence(&table, &BTreeMap::from([(2, Some(0))])).is_err());
        assert_eq!(
            merged(&table, &BTreeMap::from([(1, 25), (2, 3)])),
            BTreeMap::from([(0, 10), (1, 25), (2, 3)])
        );
    }
}
