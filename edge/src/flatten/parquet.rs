//! Writing Silver record batches to a Parquet file, atomically.
//!
//! The file is written as `NAME.parquet.partial`, fsynced, then renamed to `NAME.parquet`, so
//! a reader (or a directory watcher) never sees a half-written file and a crash leaves only a
//! `.partial` to delete. The bytes go to disk through an [`OutputFile`]: with `O_DIRECT` where
//! the filesystem takes it, else through the page cache with early writeback (see
//! [`super::output`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::encoding::EncodingOptions;
use super::output::{OutputFile, OutputIo};
use super::writer::SilverWriter;
use crate::error::{Error, Result};

/// Somewhere flattened batches go (a Parquet file, a Kafka chunker, an Iceberg writer).
pub trait BatchSink {
    /// Accept one batch.
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
}

/// A Parquet file being written.
pub struct ParquetFileSink {
    writer: Option<SilverWriter<OutputFile>>,
    partial: PathBuf,
    path: PathBuf,
    cube_id: String,
    rows: u64,
}

impl ParquetFileSink {
    /// Create `path` (via `path.partial`) with the Silver encodings for `grid_nm`, written the
    /// way `HSI_OUTPUT_IO` says ([`OutputIo::from_env`]: direct I/O unless `buffered`).
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        grid_nm: &[f32],
        encoding: &EncodingOptions,
        cube_id: &str,
    ) -> Result<Self> {
        Self::create_with_io(
            path,
            schema,
            grid_nm,
            encoding,
            cube_id,
            OutputIo::from_env(),
        )
    }

    /// [`create`](Self::create), reaching the disk as `io` says.
    pub fn create_with_io(
        path: &Path,
        schema: SchemaRef,
        grid_nm: &[f32],
        encoding: &EncodingOptions,
        cube_id: &str,
        io: OutputIo,
    ) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = OutputFile::create(&partial, io).map_err(|e| Error::io(&partial, e))?;
        let writer = SilverWriter::try_new(file, schema, encoding.writer_properties(grid_nm))
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
        let file = writer.finish().map_err(|e| Error::Encode {
            cube_id: self.cube_id.clone(),
            reason: e.to_string(),
        })?;
        let bytes = file.finish().map_err(|e| Error::io(&self.partial, e))?;
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
        // Abandoned (error path): stop the writer, then remove the partial file. After
        // `finish` it no longer exists.
        if self.writer.take().is_some() {
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
    fn files_are_whole_written_directly_or_through_the_page_cache() {
        for io in [OutputIo::Direct, OutputIo::Buffered] {
            write_and_read_back(io);
        }
    }

    fn write_and_read_back(io: OutputIo) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.full.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "sample",
            DataType::Int32,
            false,
        )]));
        let mut sink = ParquetFileSink::create_with_io(
            &path,
            schema.clone(),
            &[],
            &EncodingOptions::default(),
            "c",
            io,
        )
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
