//! Building one snapshot: manifests, manifest list, summary (format v2).
//!
//! - Manifests of the base snapshot that hold none of the removed files are carried over as
//!   they are (like a fast append). Manifests whose entries are all deleted are dropped.
//! - A manifest holding a removed file is rewritten: its removed entries as `DELETED` (with
//!   their original sequence numbers), the others as `EXISTING`.
//! - The added files go into one new manifest (`ADDED`, the new sequence number).
//! - The summary holds the caller's properties, then the standard `added-*`/`deleted-*`
//!   counts and `total-*` running totals, computed last so a caller cannot shadow them.
//!
//! File names: `{table}/metadata/{uuid}-m{n}.avro` and `snap-{id}-0-{uuid}.avro`, the
//! names iceberg-rust and Java use, with a fresh UUID per attempt.

use std::collections::{HashMap, HashSet};

use iceberg::spec::{
    DataFile, FormatVersion, Literal, ManifestContentType, ManifestFile, ManifestListWriter,
    ManifestWriter, ManifestWriterBuilder, PrimitiveLiteral, Snapshot, SnapshotSummaryCollector,
    Summary, TableMetadata,
};
use iceberg::table::Table;
use uuid::Uuid;

use super::Change;
use crate::error::{Error, Result};

/// A snapshot ready to be added to the metadata, and the files written for it.
pub(super) struct Built {
    pub(super) snapshot: Snapshot,
    /// Manifests and the manifest list (deleted again if the commit provably fails).
    pub(super) written: Vec<String>,
}

pub(super) async fn build(base: &Table, change: &Change) -> Result<Built> {
    let name = base.identifier().to_string();
    let metadata = base.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(Error::Unsupported {
            what: format!(
                "commits to {name}: format {:?} (this writer builds v2 snapshots)",
                metadata.format_version()
            ),
        });
    }
    let ierr = |what: &str| Error::iceberg(format!("{what} of {name}"));
    let snapshot_id = unique_snapshot_id(metadata);
    let sequence_number = metadata.next_sequence_number();
    let uuid = Uuid::new_v4();
    let meta_dir = format!("{}/metadata", metadata.location());
    let mut written = Vec::new();
    let mut counter = 0usize;
    let mut next_manifest = || {
        counter += 1;
        format!("{meta_dir}/{uuid}-m{counter}.avro")
    };

    let removed: HashSet<&str> = change.removed.iter().map(|f| f.file_path()).collect();
    let mut found: HashSet<String> = HashSet::new();
    let mut manifests: Vec<ManifestFile> = Vec::new();
    if let Some(current) = metadata.current_snapshot() {
        let list = base
            .manifest_list_reader(current)
            .load()
            .await
            .map_err(ierr("read manifest list"))?;
        for mf in list.entries() {
            if mf.content != ManifestContentType::Data {
                manifests.push(mf.clone());
                continue;
            }
            if !mf.has_added_files() && !mf.has_existing_files() {
                continue;
            }
            if removed.is_empty() {
                manifests.push(mf.clone());
                continue;
            }
            let manifest = mf
                .load_manifest(base.file_io())
                .await
                .map_err(ierr("read manifest"))?;
            let hits = manifest
                .entries()
                .iter()
                .any(|e| e.is_alive() && removed.contains(e.file_path()));
            if !hits {
                manifests.push(mf.clone());
                continue;
            }
            let spec = metadata
                .partition_spec_by_id(mf.partition_spec_id)
                .ok_or_else(|| Error::InvalidInput {
                    reason: format!(
                        "{name}: manifest {} uses unknown partition spec {}",
                        mf.manifest_path, mf.partition_spec_id
                    ),
                })?;
            let path = next_manifest();
            let mut writer = manifest_writer(base, &path, snapshot_id, spec.as_ref())?;
            for entry in manifest.entries() {
                if !entry.is_alive() {
                    continue;
                }
                let seq = entry
                    .sequence_number()
                    .ok_or_else(|| missing_seq(&name, entry.file_path()))?;
                let file_seq = entry.file_sequence_number.or(Some(seq));
                if removed.contains(entry.file_path()) {
                    found.insert(entry.file_path().to_owned());
                    writer
                        .add_delete_file(entry.data_file().clone(), seq, file_seq)
                        .map_err(ierr("write manifest"))?;
                } else {
                    let added_by = entry
                        .snapshot_id()
                        .ok_or_else(|| missing_seq(&name, entry.file_path()))?;
                    writer
                        .add_existing_file(entry.data_file().clone(), added_by, seq, file_seq)
                        .map_err(ierr("write manifest"))?;
                }
            }
            written.push(path);
            manifests.push(
                writer
                    .write_manifest_file()
                    .await
                    .map_err(ierr("write manifest"))?,
            );
        }
    }
    if found.len() != removed.len() {
        delete_paths(base, &written).await;
        let missing: Vec<&str> = removed
            .iter()
            .copied()
            .filter(|p| !found.contains(*p))
            .collect();
        return Err(Error::Conflict {
            table: name,
            reason: format!(
                "files to replace are no longer live (stale plan): {}",
                missing.join(", ")
            ),
        });
    }
    if !change.added.is_empty() {
        let path = next_manifest();
        let spec = metadata.default_partition_spec();
        let mut writer = manifest_writer(base, &path, snapshot_id, spec.as_ref())?;
        for f in &change.added {
            writer
                .add_file(f.clone(), sequence_number)
                .map_err(ierr("write manifest"))?;
        }
        written.push(path);
        manifests.push(
            writer
                .write_manifest_file()
                .await
                .map_err(ierr("write manifest"))?,
        );
    }

    let list_path = format!("{meta_dir}/snap-{snapshot_id}-0-{uuid}.avro");
    let out = base
        .file_io()
        .new_output(&list_path)
        .map_err(ierr("create manifest list"))?
        .writer()
        .await
        .map_err(ierr("create manifest list"))?;
    let mut list = ManifestListWriter::v2(
        out,
        snapshot_id,
        metadata.current_snapshot_id(),
        sequence_number,
    );
    written.push(list_path.clone());
    let wrote = async {
        list.add_manifests(manifests.into_iter())?;
        list.close().await
    }
    .await;
    if let Err(e) = wrote {
        delete_paths(base, &written).await;
        return Err(ierr("write manifest list")(e));
    }

    let snapshot = Snapshot::builder()
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(metadata.current_snapshot_id())
        .with_sequence_number(sequence_number)
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .with_manifest_list(list_path)
        .with_summary(summary(metadata, change))
        .with_schema_id(metadata.current_schema_id())
        .build();
    Ok(Built { snapshot, written })
}

/// A v2 data manifest writer at `path` for the current schema and `spec`.
fn manifest_writer(
    base: &Table,
    path: &str,
    snapshot_id: i64,
    spec: &iceberg::spec::PartitionSpec,
) -> Result<ManifestWriter> {
    let output = base
        .file_io()
        .new_output(path)
        .map_err(Error::iceberg(format!(
            "create manifest of {}",
            base.identifier()
        )))?;
    Ok(ManifestWriterBuilder::new(
        output,
        Some(snapshot_id),
        base.metadata().current_schema().clone(),
        spec.clone(),
    )
    .build_v2_data())
}

fn missing_seq(name: &str, path: &str) -> Error {
    Error::InvalidInput {
        reason: format!("{name}: manifest entry {path} has no sequence number or snapshot id"),
    }
}

/// The caller's properties, then the standard counts and running totals.
fn summary(metadata: &TableMetadata, change: &Change) -> Summary {
    let mut collector = SnapshotSummaryCollector::default();
    collector.set_partition_summary_limit(0);
    let schema = metadata.current_schema().clone();
    let spec = metadata.default_partition_spec().clone();
    for f in &change.added {
        collector.add_file(f, schema.clone(), spec.clone());
    }
    for f in &change.removed {
        collector.remove_file(f, schema.clone(), spec.clone());
    }
    let mut props: HashMap<String, String> = change.properties.clone().into_iter().collect();
    let counts = collector.build();
    let previous = metadata
        .current_snapshot()
        .map(|s| s.summary().additional_properties.clone())
        .unwrap_or_default();
    let get = |m: &HashMap<String, String>, k: &str| -> i64 {
        m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let totals = [
        ("total-records", "added-records", "deleted-records"),
        ("total-data-files", "added-data-files", "deleted-data-files"),
        ("total-files-size", "added-files-size", "removed-files-size"),
        (
            "total-delete-files",
            "added-delete-files",
            "removed-delete-files",
        ),
        (
            "total-position-deletes",
            "added-position-deletes",
            "removed-position-deletes",
        ),
        (
            "total-equality-deletes",
            "added-equality-deletes",
            "removed-equality-deletes",
        ),
    ];
    props.insert(PROP_PARTITIONS.to_owned(), touched_partitions(change));
    // Totals are only meaningful if the previous snapshot kept them (or there is none).
    let have_totals =
        metadata.current_snapshot().is_none() || previous.contains_key("total-records");
    props.extend(counts.clone());
    if have_totals {
        for (total, added, removed) in totals {
            let value = get(&previous, total) + get(&counts, added) - get(&counts, removed);
            props.insert(total.to_owned(), value.max(0).to_string());
        }
    }
    Summary {
        operation: change.operation.clone(),
        additional_properties: props,
    }
}

/// Snapshot summary property written by every commit: the partitions whose rows it added or
/// removed, as a JSON list of partition tuples (`[["farm-1", 19890], …]` for Silver's
/// `farm_id`, `day(acquisition_time)`), or `"*"` when there are more than
/// [`MAX_LISTED_PARTITIONS`]. Incremental consumers (the Gold refresh) derive what changed
/// since their last run from it, durably.
pub const PROP_PARTITIONS: &str = "hsi.partitions";

/// Beyond this many partitions a commit records `"*"` (everything may have changed).
pub const MAX_LISTED_PARTITIONS: usize = 1000;

fn touched_partitions(change: &Change) -> String {
    let mut set = std::collections::BTreeSet::new();
    for f in change.added.iter().chain(&change.removed) {
        let tuple: Vec<serde_json::Value> = f
            .partition()
            .fields()
            .iter()
            .map(|v| match v {
                None => serde_json::Value::Null,
                Some(Literal::Primitive(PrimitiveLiteral::String(s))) => s.clone().into(),
                Some(Literal::Primitive(PrimitiveLiteral::Int(i))) => (*i).into(),
                Some(Literal::Primitive(PrimitiveLiteral::Long(i))) => (*i).into(),
                Some(other) => format!("{other:?}").into(),
            })
            .collect();
        set.insert(serde_json::Value::Array(tuple).to_string());
        if set.len() > MAX_LISTED_PARTITIONS {
            return "\"*\"".to_owned();
        }
    }
    format!("[{}]", set.into_iter().collect::<Vec<_>>().join(","))
}

/// A positive snapshot id not used by the table (as iceberg-rust generates them).
fn unique_snapshot_id(metadata: &TableMetadata) -> i64 {
    loop {
        let (a, b) = Uuid::new_v4().as_u64_pair();
        let id = ((a ^ b) & (i64::MAX as u64)) as i64;
        if id != 0 && metadata.snapshot_by_id(id).is_none() {
            return id;
        }
    }
}

pub(super) async fn delete_files(base: &Table, paths: &[String]) {
    delete_paths(base, paths).await
}

async fn delete_paths(base: &Table, paths: &[String]) {
    for p in paths {
        if let Err(e) = base.file_io().delete(p).await {
            tracing::warn!(file = %p, error = %e, "could not delete unused metadata file");
        }
    }
}

/// Live data files of the current snapshot that `keep` selects.
pub(super) async fn live_files(
    table: &Table,
    keep: impl Fn(&DataFile) -> bool,
) -> Result<Vec<DataFile>> {
    let name = table.identifier().to_string();
    let ierr = |what: &str| Error::iceberg(format!("{what} of {name}"));
    let Some(current) = table.metadata().current_snapshot() else {
        return Ok(Vec::new());
    };
    let list = table
        .manifest_list_reader(current)
        .load()
        .await
        .map_err(ierr("read manifest list"))?;
    let mut out = Vec::new();
    for mf in list.entries() {
        if mf.content != ManifestContentType::Data
            || (!mf.has_added_files() && !mf.has_existing_files())
        {
            continue;
        }
        let manifest = mf
            .load_manifest(table.file_io())
            .await
            .map_err(ierr("read manifest"))?;
        for e in manifest.entries() {
            if e.is_alive() && keep(e.data_file()) {
                out.push(e.data_file().clone());
            }
        }
    }
    Ok(out)
}
