//! Loading the reference tables from the user's files.
//!
//! Each file is appended once per content: the idempotency key `hsi.ref.sha256` is the file's
//! SHA-256, so re-running the pipeline on the same files adds nothing, and a corrected file is
//! appended as a new snapshot (readers take the rows of the newest file; see `docs/`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::table::commit::LakeCatalog;
use sha2::{Digest, Sha256};

use super::tables;
use crate::error::{Error, Result};
use crate::refdata::{self, Plot, YieldRow};
use crate::table::{IdempotencyKey, append_batches_once};

/// Snapshot property carrying the source file's SHA-256.
pub const PROP_REF_SHA256: &str = "hsi.ref.sha256";
/// Snapshot property carrying the source file's name.
pub const PROP_REF_FILE: &str = "hsi.ref.file";

/// The parsed reference data of a run.
#[derive(Debug, Clone)]
pub struct References {
    /// Plot boundaries.
    pub plots: Vec<Plot>,
    /// Yield history.
    pub yields: Vec<YieldRow>,
}

/// Parse and validate both files (a bad file is an error naming the file and the reason), then
/// append each to its table once per content.
pub async fn load(catalog: &dyn LakeCatalog, plots: &Path, yields: &Path) -> Result<References> {
    let plot_rows = refdata::read_boundaries(plots)?;
    let yield_rows = refdata::read_yields(yields)?;
    let batch = refdata::boundaries::to_record_batch(&plot_rows)?;
    append_file(catalog, &tables::field_boundaries(), plots, batch).await?;
    let batch = refdata::yields::to_record_batch(&yield_rows)?;
    append_file(catalog, &tables::yield_history(), yields, batch).await?;
    Ok(References {
        plots: plot_rows,
        yields: yield_rows,
    })
}

async fn append_file(
    catalog: &dyn LakeCatalog,
    ident: &iceberg::TableIdent,
    path: &Path,
    batch: arrow_array::RecordBatch,
) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let key = IdempotencyKey::new([(PROP_REF_SHA256, sha)])?;
    let props = BTreeMap::from([(
        PROP_REF_FILE.to_owned(),
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    )]);
    let outcome = append_batches_once(catalog, ident, &[batch], props, &key).await?;
    tracing::info!(table = %ident, file = %path.display(), ?outcome, "reference data");
    Ok(())
}
