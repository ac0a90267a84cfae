//! Identity and versions: what a raw object is, which of its derived rows are current.
//!
//! This is the contract every stage relies on for "each observation counts once". It is
//! payload-neutral: a *raw object* is whatever the equipment captures (a hyperspectral cube
//! today, a point cloud later) and its *derived rows* are the Silver rows computed from it.
//!
//! # Raw objects
//!
//! - A raw object is identified by its **id** (the cube's `cube_id` attribute, or the name the
//!   edge daemon derives from the header and the file) **and its content**: the SHA-256 of
//!   the raw file, recorded as `bronze.cubes.raw_sha256`. Its **acquisition** (farm, field,
//!   sensor, acquisition time) places its rows in partitions; it is read from the object,
//!   never guessed (`unknown`/1970 is a bad input, not a default).
//! - The same id with the same content is the same object: processing it again is a no-op
//!   (idempotency keys, below).
//! - The same id with **different content** is a different object that collides with the
//!   first. It is never silently skipped and never silently merged: the pipeline refuses it
//!   with an error naming both digests ([`check_same_content`]), and the operator renames or
//!   removes one of them. (Edge state and raw-object uploads are keyed by content for the
//!   same reason: a reused file name must not make a new capture look processed.)
//!
//! # Versions of derived rows
//!
//! A raw object's Silver rows exist in **versions**; a version is identified by
//! ([`Pipeline`], calibration version) — [`ObjectVersion`]:
//!
//! - `edge`: streamed from the equipment (the `field` profile may carry only index bands);
//! - `batch`: recomputed in the cloud from the backhauled raw object (every band);
//! - the calibration version (config name + hash of every calibration input) changes when
//!   the object is reprocessed with a new calibration.
//!
//! # Which version is current ([`precedence`])
//!
//! 1. `batch` supersedes `edge`, whatever their calibrations: the batch version is computed
//!    from the full raw object and carries every band.
//! 2. Within one pipeline, the version committed **last** supersedes the others: a new
//!    calibration is applied by reprocessing, which happens after the old one. A replay of an
//!    old version cannot come back: its idempotency key (object id + calibration version) is
//!    in the table's history, so the replay commits nothing.
//! 3. `edge` never supersedes `batch`: edge rows of an object that already has a batch
//!    version are dropped when they arrive (a late stream).
//!
//! # How the table holds it
//!
//! Silver holds **current rows only**. The commit that adds a version removes the rows of the
//! versions it supersedes in the same snapshot (copy-on-write of the files that hold them;
//! see [`crate::silver::current`]), and a version that is itself superseded is not added.
//! Any engine (pyiceberg, DuckDB, Trino, Athena) reading `silver.reflectance` sees each pixel
//! of each raw object once, without knowing the rule; the superseded versions stay readable
//! by time travel until snapshot expiry. Each object's rows are written to data files of
//! their own, so the files of a superseded version are dropped from their metadata (column
//! bounds) without being read.
//!
//! Gold is recomputed from current Silver only, and replaces its own rows per key
//! ([`crate::pipeline::gold`]).

use std::fmt;

pub use hsi_edge::flatten::Pipeline;

use crate::error::{Error, Result};

/// One version of one raw object's derived rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectVersion {
    /// The raw object (`cube_id`).
    pub object_id: String,
    /// Who computed the rows.
    pub pipeline: Pipeline,
    /// The calibration version.
    pub calibration_version: String,
}

impl fmt::Display for ObjectVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.object_id,
            self.pipeline.as_str(),
            self.calibration_version
        )
    }
}

/// How an incoming version relates to one already in the table (same object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// The same version: its rows are extended (more chunks of one stream), not replaced.
    Same,
    /// The incoming version replaces the existing one.
    Supersedes,
    /// The existing version stays current; the incoming rows are dropped.
    Superseded,
}

/// The rule of the module docs, for `(pipeline, calibration)` pairs of one object.
pub fn precedence(incoming: (Pipeline, &str), existing: (Pipeline, &str)) -> Precedence {
    match (incoming.0, existing.0) {
        (a, b) if a == b && incoming.1 == existing.1 => Precedence::Same,
        (Pipeline::Edge, Pipeline::Batch) => Precedence::Superseded,
        _ => Precedence::Supersedes,
    }
}

/// The column value of a pipeline.
pub fn parse_pipeline(value: &str) -> Option<Pipeline> {
    match value {
        "edge" => Some(Pipeline::Edge),
        "batch" => Some(Pipeline::Batch),
        _ => None,
    }
}

/// Refuse an object id that arrives with content other than what was recorded for it.
pub fn check_same_content(object_id: &str, recorded_sha256: &str, new_sha256: &str) -> Result<()> {
    if recorded_sha256.eq_ignore_ascii_case(new_sha256) {
        return Ok(());
    }
    Err(Error::InvalidInput {
        reason: format!(
            "raw object id {object_id:?} was already ingested with content sha256 {recorded_sha256}, \
             this file has sha256 {new_sha256}: a different capture reuses the id; rename one \
             of them (nothing was written)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_beats_edge_and_the_latest_wins_within_a_pipeline() {
        use Pipeline::{Batch, Edge};
        assert_eq!(precedence((Edge, "a"), (Edge, "a")), Precedence::Same);
        assert_eq!(
            precedence((Batch, "a"), (Edge, "a")),
            Precedence::Supersedes
        );
        assert_eq!(
            precedence((Batch, "b"), (Edge, "a")),
            Precedence::Supersedes
        );
        assert_eq!(
            precedence((Edge, "a"), (Batch, "a")),
            Precedence::Superseded
        );
        assert_eq!(
            precedence((Edge, "b"), (Batch, "a")),
            Precedence::Superseded
        );
        assert_eq!(
            precedence((Batch, "b"), (Batch, "a")),
            Precedence::Supersedes
        );
        assert_eq!(precedence((Edge, "b"), (Edge, "a")), Precedence::Supersedes);
        assert_eq!(parse_pipeline("batch"), Some(Batch));
        assert_eq!(parse_pipeline("x"), None);
    }

    #[test]
    fn same_id_other_content_is_refused_with_both_digests() {
        assert!(check_same_content("c1", "ABC", "abc").is_ok());
        let e = check_same_content("c1", "aaa", "bbb")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("aaa") && e.contains("bbb") && e.contains("c1"),
            "{e}"
        );
    }
}
