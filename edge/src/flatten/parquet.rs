//! Writing Silver record batches to a Parquet file, atomically.
//!
//! The file is written as `NAME.parquet.partial`, fsynced, then renamed to `NAME.parquet`, so
//! a reader (or a directory watcher) never sees a half-written file and a crash leaves only a
//! `.partial` to delete.
//!
//! **Early writeback.** Waiting for the disk at the end was 10–20 % of a cube's wall time
//! (`docs/benchmarks.md`): every [`SYNC_EVERY_ROWS`] rows, when the previous one is done, a
//! background thread `fdatasync`s what the file holds so far (a second handle on the same
//! open file), so the disk writes overlap encoding and the final `fsync` has little left to
//! wait for. It adds no durability promise: only the final `fsync` before the rename counts,
//! and a background sync's error fails [`ParquetFileSink::finish`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

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

/// Rows between background syncs of a file being written (see the module docs).
pub const SYNC_EVERY_ROWS: u64 = 1 << 17;

/// A Parquet file being written.
pub struct ParquetFileSink {
    writer: Option<SilverWriter<BufWriter<File>>>,
    /// A second handle on the file, for the background syncs.
    sync_handle: Option<File>,
    syncing: Option<JoinHandle<std::io::Result<()>>>,
    synced_rows: u64,
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
        let sync_handle = file.try_clone().ok();
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
            sync_handle,
            syncing: None,
            synced_rows: 0,
            partial,
            path: path.to_path_buf(),
            cube_id: cube_id.to_owned(),
            rows: 0,
        })
    }

    /// Close, fsync and rename into place. Returns the final path and its size in bytes.
    pub fn finish(mut self) -> Result<(PathBuf, u64)> {
        self.join_sync()?;
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

    /// Start a background sync when [`SYNC_EVERY_ROWS`] rows came since the last one and the
    /// last one is done.
    fn maybe_sync(&mut self) -> Result<()> {
        if self.rows < self.synced_rows + SYNC_EVERY_ROWS {
            return Ok(());
        }
        if self.syncing.as_ref().is_some_and(|h| !h.is_finished()) {
            return Ok(());
        }
        self.join_sync()?;
        let Some(file) = self.sync_handle.as_ref().and_then(|f| f.try_clone().ok()) else {
            return Ok(());
        };
        self.synced_rows = self.rows;
        self.syncing = std::thread::Builder::new()
            .name("parquet-sync".into())
            .spawn(move || file.sync_data())
            .ok();
        Ok(())
    }

    /// Wait for the background sync, if any; its error is the file's.
    fn join_sync(&mut self) -> Result<()> {
        match self.syncing.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(Error::io(&self.partial, e)),
            Some(Err(_)) => Err(Error::io(
                &self.partial,
                std::io::Error::other("the background sync thread panicked"),
            )),
        }
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
        })?;
        self.maybe_sync()
    }
}

impl Drop for ParquetFileSink {
    fn drop(&mut self) {
        // Abandoned (error path): remove the partial file. After `finish` it no longer exists.
        if let Some(h) = self.syncing.take() {
            let _ = h.join();
        }
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::Int32Array;
    use arrow_schema::{DataType, Field, Schema};
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    use super::*;

    #[test]
    fn background_syncs_run_while_writing_and_the_file_is_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.full.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "sample",
            DataType::Int32,
            false,
        )]));
        let mut sink =
            ParquetFileSink::create(&path, schema.clone(), &[], &EncodingOptions::default(), "c")
                .expect("create");
        let mut sum = 0i64;
        for b in 0..6 {
            let values: Vec<i32> = (0..50_000).map(|i| b * 50_000 + i).collect();
            sum += values.iter().map(|&v| i64::from(v)).sum::<i64>();
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(values))])
                    .expect("batch");
            sink.write(&batch).expect("write");
        }
        assert!(
            sink.synced_rows >= SYNC_EVERY_ROWS,
            "a background sync started after {SYNC_EVERY_ROWS} rows"
        );
        let (out, bytes) = sink.finish().expect("finish");
        assert_eq!(out, path);
        assert!(!dir.path().join("c.full.parquet.partial").exists());
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), bytes);
        let reader = SerializedFileReader::new(File::open(&path).expect("open")).expect("read");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 300_000);
        let mut got = 0i64;
        for row in reader.get_row_iter(None).expect("rows") {
            got += i64::from(row.expect("row").get_int(0).expect("int"));
        }
        assert_eq!(got, sum);
    }
}
