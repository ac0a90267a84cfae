//! Cutting a stream of Silver record batches into Parquet payloads under a size cap.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::file::properties::WriterProperties;

use super::recompress::PageCompressor;
use crate::error::{Error, Result};
use crate::flatten::SilverWriter;

/// Turns record batches into self-contained Parquet files of whole rows, each at most
/// `max_bytes` long.
///
/// The number of rows per chunk is learned from the encoded sizes: a chunk that comes out too
/// big is re-encoded with fewer rows (so no payload ever exceeds the cap), and a chunk far below
/// the cap raises the estimate for the next one. Memory use is bounded by one chunk's rows plus
/// the batch being pushed.
///
/// Each chunk is written by [`SilverWriter`] (band columns through the purpose-built page
/// encoder). With ZSTD (every profile), pages are written uncompressed and then compressed
/// with one ZSTD context reused for the whole cube rather than the two contexts the Parquet
/// writer creates per column of every chunk (see `recompress.rs`); the payload is the same
/// kind of file either way.
pub struct ChunkEncoder {
    cube_id: String,
    schema: SchemaRef,
    props: WriterProperties,
    max_bytes: usize,
    rows_per_chunk: usize,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    zstd: Option<PageCompressor>,
}

impl ChunkEncoder {
    /// An encoder for one cube's rows.
    pub fn new(
        cube_id: &str,
        schema: SchemaRef,
        props: WriterProperties,
        max_bytes: usize,
    ) -> Self {
        // First guess: raw Arrow width (bands are 4 bytes, ids ~64 bytes); compression usually
        // halves it, so start at twice the uncompressed estimate and let `emit` correct it.
        let row_bytes = 64 + 4 * schema.fields().len();
        let rows_per_chunk = (2 * max_bytes / row_bytes).max(1);
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let zstd = PageCompressor::for_props(&props, &columns);
        ChunkEncoder {
            cube_id: cube_id.to_owned(),
            schema,
            props,
            max_bytes,
            rows_per_chunk,
            pending: Vec::new(),
            pending_rows: 0,
            zstd,
        }
    }

    /// Start from `rows` per chunk (e.g. what the previous cube of the same schema settled
    /// on) instead of the first guess from the schema's width, which for lossless floats
    /// overshoots and costs one re-encoded chunk per cube.
    pub fn with_rows_per_chunk(mut self, rows: usize) -> Self {
        self.rows_per_chunk = rows.max(1);
        self
    }

    /// The current estimate of rows per chunk (learned from the encoded sizes so far).
    pub fn rows_per_chunk(&self) -> usize {
        self.rows_per_chunk
    }

    /// Add a batch; returns the chunks that are complete.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        if batch.schema() != self.schema {
            return Err(Error::Encode {
                cube_id: self.cube_id.clone(),
                reason: "batch schema differs from the chunk schema".to_owned(),
            });
        }
        if batch.num_rows() > 0 {
            self.pending_rows += batch.num_rows();
            self.pending.push(batch.clone());
        }
        self.emit(false)
    }

    /// Encode the remaining rows; returns the last chunks (none when no rows are pending).
    pub fn finish(mut self) -> Result<Vec<Vec<u8>>> {
        self.emit(true)
    }

    fn emit(&mut self, all: bool) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        while self.pending_rows > 0 && (all || self.pending_rows >= self.rows_per_chunk) {
            let n = self.rows_per_chunk.min(self.pending_rows);
            let payload = self.encode_first(n)?;
            if payload.len() > self.max_bytes {
                if n == 1 {
                    return Err(Error::Encode {
                        cube_id: self.cube_id.clone(),
                        reason: format!(
                            "one row encodes to {} bytes, above max_message_bytes {}",
                            payload.len(),
                            self.max_bytes
                        ),
                    });
                }
                let scaled = n as f64 * 0.9 * self.max_bytes as f64 / payload.len() as f64;
                self.rows_per_chunk = (scaled as usize).clamp(1, n - 1);
                continue;
            }
            self.drop_first(n);
            if n == self.rows_per_chunk && payload.len() < self.max_bytes * 3 / 4 {
                let scaled = n as f64 * 0.85 * self.max_bytes as f64 / payload.len().max(1) as f64;
                self.rows_per_chunk = (scaled as usize).clamp(n, n.saturating_mul(4));
            }
            out.push(payload);
        }
        Ok(out)
    }

    /// Parquet bytes of the first `n` pending rows.
    fn encode_first(&mut self, n: usize) -> Result<Vec<u8>> {
        let cube_id = &self.cube_id;
        let enc = |e: parquet::errors::ParquetError| Error::Encode {
            cube_id: cube_id.clone(),
            reason: e.to_string(),
        };
        let props = match &self.zstd {
            Some(z) => z.plain.clone(),
            None => self.props.clone(),
        };
        let mut w = SilverWriter::try_new(Vec::new(), self.schema.clone(), props).map_err(enc)?;
        let mut left = n;
        for b in &self.pending {
            if left == 0 {
                break;
            }
            let take = left.min(b.num_rows());
            w.write(&b.slice(0, take)).map_err(enc)?;
            left -= take;
        }
        let file = w.finish().map_err(enc)?;
        match self.zstd.as_mut() {
            Some(z) => z.compress_file(file).map_err(enc),
            None => Ok(file),
        }
    }

    fn drop_first(&mut self, mut n: usize) {
        self.pending_rows -= n;
        let mut keep = Vec::with_capacity(self.pending.len());
        for b in self.pending.drain(..) {
            if n >= b.num_rows() {
                n -= b.num_rows();
            } else {
                keep.push(b.slice(n, b.num_rows() - n));
                n = 0;
            }
        }
        self.pending = keep;
    }
}
