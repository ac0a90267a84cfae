//! Writing Silver record batches to a Parquet file, atomically.
//!
//! The file is written as `NAME.parquet.partial`, fsynced, then renamed to `NAME.parquet`, so
//! a reader (or a directory watcher) never sees a half-written file and a crash leaves only a
//! `.partial` to delete.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::encoding::EncodingOptions;
use super::writer::SilverWriter;
use crate::error::{Error, Result};

/// Somewhere flattened batches go (a Parquet file, a Kafka chunker, an Iceberg writer).
pub trait BatchSink {
    /// Accept one batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
}

/// A Parquet file being written.
pub struct ParquetFileSink {
    writer: Option<SilverWriter<BufWriter<File>>>,
    partial: PathBuf,
    path: PathBuf,
    cube_id: String,
    rows: u64,
}

impl ParquetFileSink {
    /// Create `path` (via `path.partial`) with the Silver encodings for `grid_nm`.
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        grid_nm: &[f32],
        encoding: &EncodingOptions,
        cube_id: &str,
    ) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        let writer = SilverWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            schema,
            encoding.writer_properties(grid_nm),
        )
        .map_err(|e| Error::Encode {
            cube_id: cube_id.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(ParquetFileSink {
            writer: Some(writer),
            partial,
            path: path.to_path_buf(),
            cube_id: cube_id.to_owned(),
            rows: 0,
        })
    }

    /// Close, fsync and rename into place. Returns the final path and its size in bytes.
    pub fn finish(mut self) -> Result<(PathBuf, u64)> {
        let writer = self.writer.take().ok_or_else(|| self.closed())?;
        let buf = writer.finish().map_err(|e| Error::Encode {
            cube_id: self.cube_id.clone(),
            reason: e.to_string(),
        })?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&self.partial, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.partial, e))?;
        let bytes = file
            .metadata()
            .map_err(|e| Error::io(&self.partial, e))?
            .len();
        drop(file);
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(&self.path, e))?;
        if let Some(dir) = self.path.parent() {
            // Make the rename durable; ignore platforms where directories cannot be opened.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok((self.path.clone(), bytes))
    }

    fn closed(&self) -> Error {
        Error::Encode {
            cube_id: self.cube_id.clone(),
            reason: format!("{} is already closed", self.path.display()),
        }
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

impl BatchSink for ParquetFileSink {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        let closed = self.closed();
        let writer = self.writer.as_mut().ok_or(closed)?;
        writer.write(batch).map_err(|e| Error::Encode {
            cube_id: self.cube_id.clone(),
            reason: e.to_string(),
        })
    }
}

impl Drop for ParquetFileSink {
    fn drop(&mut self) {
        // Abandoned (error path): remove the partial file. After `finish` it no longer exists.
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
