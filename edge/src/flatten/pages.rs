//! A purpose-built Parquet column-chunk encoder for the `Float32` band columns.
//!
//! The `parquet` crate's Arrow writer is general: it gathers every value through its level
//! machinery (`write_leaf`), compares values one at a time for the statistics, splits bytes for
//! BYTE_STREAM_SPLIT in a scalar loop, and creates a ZSTD context per column chunk. For the
//! ~175 dense float columns of a Silver file that generality was ~60 % of `hsi-edge process`
//! (`docs/benchmarks.md`). This encoder writes the same kind of column chunk directly:
//!
//! - **v1 data pages of [`PAGE_VALUES`] values**: dense slices handed to [`PageEncoder::push`]
//!   (a block's share of a row group) are gathered until a page is full or the row group ends;
//! - **definition levels** (the columns are nullable, max level 1) as RLE runs of the
//!   validity bitmap: a dense page is one run (`varint(n << 1)`, `0x01`), 4 + ≤ 4 bytes;
//! - **values** PLAIN or BYTE_STREAM_SPLIT (byte `k` of every value in stream `k`, streams
//!   concatenated), only the non-null ones;
//! - the page body (levels + values) compressed with one ZSTD context reused for the whole
//!   file ([`PageEncoder`]), at the profile's level, as one frame with a block per stream
//!   whose noise streams are stored raw without compressing them ([`super::frame`]);
//! - **chunk statistics**: min/max ignoring NaN (none when every value is NaN or null), with
//!   ±0 written as −0 for the minimum and +0 for the maximum as the Parquet spec asks, and
//!   the null count. No page statistics and no column index (the Arrow writer with
//!   `EnabledStatistics::Chunk` writes none either; readers prune on chunk statistics), but an
//!   offset index (page locations), as the Arrow writer writes for the other columns.
//!
//! The result is appended to a row group with
//! [`SerializedRowGroupWriter::append_column`](parquet::file::writer::SerializedRowGroupWriter::append_column),
//! so the file footer, schema and Arrow metadata stay the `parquet` crate's. Any reader
//! decodes it like any other file; the tests read it back with `parquet`'s Arrow reader and
//! pyarrow and compare it with the Arrow writer's output value for value.

use arrow_array::{Array, Float32Array};
use arrow_buffer::NullBuffer;
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::reader::Length;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use super::frame::{FrameWriter, Zstd, compress_pieces, pieces};
use super::segments::{ChunkBuf, Segments};

/// How a band column's values are laid out in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueLayout {
    /// Little-endian values one after the other.
    Plain,
    /// BYTE_STREAM_SPLIT.
    ByteStreamSplit,
}

impl ValueLayout {
    fn encoding(self) -> Encoding {
        match self {
            ValueLayout::Plain => Encoding::PLAIN,
            ValueLayout::ByteStreamSplit => Encoding::BYTE_STREAM_SPLIT,
        }
    }
}

/// Values gathered into one page: one page per band column chunk at the default 64 Ki-row
/// row groups. Against 32 Ki: the same file size (+0.01 %), half the per-page ZSTD table
/// builds and frame overhead (−3 to −4 % CPU of `hsi-edge process`), +32 MB peak RSS (the
/// page buffers of 175 band columns). The pipeline's blocks (~9,000 pixels) are merged into
/// these pages.
pub(crate) const PAGE_VALUES: usize = 64 * 1024;

/// Scratch space and the reused ZSTD context, shared by every band column of a file.
pub(crate) struct PageEncoder {
    level: Option<ZstdLevel>,
    zstd: Option<Zstd>,
    /// The properties' own level when band pages take a faster one: the small pages of the
    /// identity columns ([`compress`](Self::compress)) find their repeats at it.
    small: Option<Zstd>,
    /// Per band column (by field index): what its probe pages learnt ([`super::frame`]).
    frames: Vec<FrameWriter>,
    /// The inner frame of a page with a raw prefix.
    packed: Vec<u8>,
    /// Definition levels of the page being written.
    levels: Vec<u8>,
    /// The values of a page with nulls, in page layout.
    scratch: Vec<u8>,
    values: Vec<f32>,
    /// Page buffers of closed chunks, for the next row group's (each is reused whole: a
    /// fresh one would be zeroed, 128 KiB per band column per row group).
    spare: Vec<Vec<u8>>,
}

/// `ZSTD_c_minMatch` of the band pages at fast levels (ZSTD's largest for its fast strategy).
const FAST_MIN_MATCH: u32 = 7;

impl PageEncoder {
    /// An encoder compressing pages with ZSTD at `level` (`None`: uncompressed), or at the
    /// fast (negative) level `fast` when given.
    pub(crate) fn new(level: Option<ZstdLevel>, fast: Option<i32>) -> Result<Self> {
        let zstd = match level {
            Some(l) => {
                let l = fast.unwrap_or(l.compression_level());
                let mut z = Zstd::new(l)?;
                if l < 0 {
                    // Fast levels turn Huffman coding of literals off by default; the sign,
                    // exponent and high mantissa streams need it.
                    z.set_parameter(zstd::zstd_safe::CParameter::LiteralCompressionMode(
                        zstd::zstd_safe::ParamSwitch::Enable,
                    ))?;
                    // Matches of 7 bytes or more only (fast levels default to 5 or 6): the
                    // high mantissa stream has no longer ones worth a sequence, and the
                    // exponent stream's runs are long. On real pages at level -50: both
                    // streams smaller (62.96 → 62.79 %, 5.33 → 5.04 %) and 7 % faster
                    // (96 → 88 µs a page; docs/benchmarks.md, session 9).
                    z.set_parameter(zstd::zstd_safe::CParameter::MinMatch(FAST_MIN_MATCH))?;
                }
                Some(z)
            }
            None => None,
        };
        let small = match (level, fast) {
            (Some(l), Some(_)) => Some(Zstd::new(l.compression_level())?),
            _ => None,
        };
        Ok(PageEncoder {
            level,
            zstd,
            small,
            frames: Vec::new(),
            packed: Vec::new(),
            levels: Vec::new(),
            scratch: Vec::new(),
            values: Vec::new(),
            spare: Vec::new(),
        })
    }

    /// `body` (a page of an identity column) compressed at the properties' level (a copy
    /// when uncompressed).
    pub(crate) fn compress(&mut self, body: &[u8]) -> Result<Bytes> {
        compress_pieces(self.small.as_mut().or(self.zstd.as_mut()), &[], &[body])
    }

    /// The compression recorded in the column metadata.
    pub(crate) fn compression(&self) -> Compression {
        self.level
            .map_or(Compression::UNCOMPRESSED, Compression::ZSTD)
    }

    /// Add `array` to `chunk`. Dense values are laid out in the chunk's page buffer as they
    /// arrive (split into streams for BYTE_STREAM_SPLIT) and a full page ([`PAGE_VALUES`]) is
    /// written when the next value arrives or the chunk closes: with one page per chunk, that
    /// is at the row group's close, just before the file writer copies the chunk out, so the
    /// compressed page is still in cache then (CPU −3 to −5 %, session 9). An array with nulls
    /// (rare: no-data pixels are dropped) is a page of its own.
    pub(crate) fn push(&mut self, chunk: &mut BandChunk, array: &Float32Array) -> Result<()> {
        if array.is_empty() {
            return Ok(());
        }
        if array.null_count() == 0 {
            let mut values: &[f32] = array.values();
            if chunk.buf.is_empty() {
                chunk.buf = self.spare.pop().unwrap_or_default();
            }
            while !values.is_empty() {
                if chunk.staged == PAGE_VALUES {
                    self.flush(chunk)?;
                }
                let take = (PAGE_VALUES - chunk.staged).min(values.len());
                chunk.stage(&values[..take]);
                values = &values[take..];
            }
            return Ok(());
        }
        self.flush(chunk)?;
        let mut values = std::mem::take(&mut self.values);
        values.clear();
        values.extend(array.iter().flatten());
        chunk.stats.update(&values);
        let m = values.len();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.resize(4 * m, 0);
        let done = match chunk.layout {
            ValueLayout::Plain => {
                plain_bytes(&values, &mut scratch);
                self.page(chunk, array.len(), array.nulls(), &scratch, &[])
            }
            ValueLayout::ByteStreamSplit => {
                split_streams(&values, &mut scratch);
                let cuts = [m, 2 * m, 3 * m];
                self.page(chunk, array.len(), array.nulls(), &scratch, &cuts)
            }
        };
        self.values = values;
        self.scratch = scratch;
        done
    }

    /// Write the chunk's staged values as one page.
    fn flush(&mut self, chunk: &mut BandChunk) -> Result<()> {
        let m = chunk.staged;
        if m == 0 {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut chunk.buf);
        let done = match chunk.layout {
            ValueLayout::Plain => self.page(chunk, m, None, &buf[..4 * m], &[]),
            ValueLayout::ByteStreamSplit => {
                if m < PAGE_VALUES {
                    // A short page: the streams move up against each other.
                    for k in 1..4 {
                        buf.copy_within(k * PAGE_VALUES..k * PAGE_VALUES + m, k * m);
                    }
                }
                self.page(chunk, m, None, &buf[..4 * m], &[m, 2 * m, 3 * m])
            }
        };
        chunk.buf = buf;
        chunk.staged = 0;
        done
    }

    /// One data page of `n` rows whose non-null values are `body` (the PLAIN bytes, or the
    /// four BYTE_STREAM_SPLIT streams, which end at `cuts`) and whose validity is `nulls`.
    fn page(
        &mut self,
        chunk: &mut BandChunk,
        n: usize,
        nulls: Option<&NullBuffer>,
        body: &[u8],
        cuts: &[usize],
    ) -> Result<()> {
        let num_values = u32::try_from(n)
            .map_err(|_| ParquetError::General(format!("page of {n} values is too large")))?;
        let stored = body.len() / 4;
        self.levels.clear();
        write_def_levels(&mut self.levels, n, nulls);
        let uncompressed = self.levels.len() + 4 * stored;
        let buf = match self.zstd.as_mut() {
            Some(z) => {
                if self.frames.len() <= chunk.column {
                    self.frames.resize(chunk.column + 1, FrameWriter::default());
                }
                self.frames[chunk.column].compress(z, &mut self.packed, &self.levels, body, cuts)?
            }
            None => compress_pieces(None, &self.levels, &pieces(body, cuts))?,
        };
        chunk.nulls += (n - stored) as u64;
        chunk.num_values += n as u64;
        chunk.sink.inner_mut().expect(&buf);
        let page = Page::DataPage {
            buf,
            num_values,
            encoding: chunk.layout.encoding(),
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut chunk.sink)
            .write_page(CompressedPage::new(page, uncompressed))?;
        chunk.data_page_offset.get_or_insert(spec.offset);
        chunk.index.append_row_count(i64::from(num_values));
        chunk
            .index
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        chunk.compressed += spec.compressed_size as u64;
        chunk.uncompressed += spec.uncompressed_size as u64;
        Ok(())
    }
}

/// One band column's chunk of the current row group, as encoded pages in memory.
pub(crate) struct BandChunk {
    descr: ColumnDescPtr,
    /// The column's index in the schema (keys the encoder's per-column state).
    column: usize,
    layout: ValueLayout,
    /// The pages written, headers copied and bodies by reference ([`super::segments`]).
    sink: TrackedWrite<ChunkBuf>,
    stats: MinMax,
    nulls: u64,
    num_values: u64,
    data_page_offset: Option<u64>,
    compressed: u64,
    uncompressed: u64,
    index: OffsetIndexBuilder,
    /// Dense values not yet written (fewer than [`PAGE_VALUES`]) in page layout: PLAIN bytes
    /// from the start, or BYTE_STREAM_SPLIT stream `k` from `k · PAGE_VALUES`. Allocated at
    /// the first value.
    buf: Vec<u8>,
    /// How many values `buf` holds.
    staged: usize,
}

impl BandChunk {
    /// An empty chunk of column `descr` (schema index `column`) with `layout` values.
    pub(crate) fn new(descr: ColumnDescPtr, column: usize, layout: ValueLayout) -> Self {
        BandChunk {
            descr,
            column,
            layout,
            sink: TrackedWrite::new(ChunkBuf::default()),
            stats: MinMax::default(),
            nulls: 0,
            num_values: 0,
            data_page_offset: None,
            compressed: 0,
            uncompressed: 0,
            index: OffsetIndexBuilder::new(),
            buf: Vec::new(),
            staged: 0,
        }
    }

    /// Lay `values` out after the staged ones (at most [`PAGE_VALUES`] in all).
    fn stage(&mut self, values: &[f32]) {
        if self.buf.len() != 4 * PAGE_VALUES {
            self.buf = vec![0; 4 * PAGE_VALUES];
        }
        let (from, to) = (self.staged, self.staged + values.len());
        match self.layout {
            ValueLayout::Plain => {
                self.stats.update(values);
                plain_bytes(values, &mut self.buf[4 * from..4 * to]);
            }
            ValueLayout::ByteStreamSplit => {
                let (s0, rest) = self.buf.split_at_mut(PAGE_VALUES);
                let (s1, rest) = rest.split_at_mut(PAGE_VALUES);
                let (s2, s3) = rest.split_at_mut(PAGE_VALUES);
                split_into(
                    values,
                    [
                        &mut s0[from..to],
                        &mut s1[from..to],
                        &mut s2[from..to],
                        &mut s3[from..to],
                    ],
                    &mut self.stats,
                );
            }
        }
        self.staged = to;
    }

    /// The encoded bytes and what [`append_column`] needs to splice them into a row group.
    ///
    /// [`append_column`]: parquet::file::writer::SerializedRowGroupWriter::append_column
    pub(crate) fn close(
        mut self,
        encoder: &mut PageEncoder,
        rows: u64,
    ) -> Result<(Segments, ColumnCloseResult)> {
        encoder.flush(&mut self)?;
        if !self.buf.is_empty() {
            encoder.spare.push(std::mem::take(&mut self.buf));
        }
        if self.num_values != rows {
            return Err(ParquetError::General(format!(
                "column {} has {} values for {rows} rows",
                self.descr.path(),
                self.num_values
            )));
        }
        let bytes = self.sink.into_inner()?.finish();
        let (min, max) = self.stats.finish();
        let statistics = Statistics::float(min, max, None, Some(self.nulls), false);
        let mut builder = ColumnChunkMetaData::builder(self.descr)
            .set_compression(encoder.compression())
            .set_encodings(vec![Encoding::RLE, self.layout.encoding()])
            .set_num_values(self.num_values as i64)
            .set_total_compressed_size(self.compressed as i64)
            .set_total_uncompressed_size(self.uncompressed as i64)
            .set_statistics(statistics);
        if let Some(offset) = self.data_page_offset {
            builder = builder.set_data_page_offset(offset as i64);
        }
        Ok(spliceable(bytes, rows, builder.build()?, self.index))
    }
}

/// A finished column chunk and what `append_column` needs to splice it into a row group.
pub(crate) fn spliceable(
    bytes: Segments,
    rows: u64,
    metadata: ColumnChunkMetaData,
    index: OffsetIndexBuilder,
) -> (Segments, ColumnCloseResult) {
    let close = ColumnCloseResult {
        bytes_written: bytes.len(),
        rows_written: rows,
        metadata,
        bloom_filter: None,
        column_index: None,
        offset_index: Some(index.build()),
    };
    (bytes, close)
}

/// Definition levels of a v1 page of `n` rows (max level 1): a 4-byte little-endian length,
/// then RLE runs (`varint(run << 1)` and one byte holding the level) of the validity bitmap.
fn write_def_levels(out: &mut Vec<u8>, n: usize, nulls: Option<&NullBuffer>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    match nulls {
        None => rle_run(out, n, 1),
        Some(nulls) => {
            let mut i = 0;
            while i < nulls.len() {
                let level = nulls.is_valid(i);
                let mut j = i + 1;
                while j < nulls.len() && nulls.is_valid(j) == level {
                    j += 1;
                }
                rle_run(out, j - i, u8::from(level));
                i = j;
            }
        }
    }
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// One RLE run of the hybrid encoding: `varint(run << 1)`, then `value` in one byte (bit
/// widths 1–8).
pub(crate) fn rle_run(out: &mut Vec<u8>, run: usize, value: u8) {
    let mut header = (run as u64) << 1;
    while header >= 0x80 {
        out.push((header as u8) | 0x80);
        header >>= 7;
    }
    out.push(header as u8);
    out.push(value);
}

/// BYTE_STREAM_SPLIT of `values` into `out` (`4 × values.len()` bytes): byte `k` of value `i`
/// goes to `out[k·n + i]`. Written over four output slices so the compiler vectorises it.
pub(crate) fn split_streams(values: &[f32], out: &mut [u8]) {
    let n = values.len();
    let (s0, rest) = out.split_at_mut(n);
    let (s1, rest) = rest.split_at_mut(n);
    let (s2, s3) = rest.split_at_mut(n);
    // Statistics of pages with nulls are taken before the split.
    split_into(values, [s0, s1, s2, s3], &mut MinMax::default());
}

/// Byte `k` of each of `values` into `streams[k]` (each as long as `values`), folding the
/// values into `stats` on the way (one pass over them). Runs of 16 values, so each
/// stream gets whole 16-byte vector stores. The byte planes are written as `array::map`s of
/// the run's bits: an indexed loop into a `[[u8; 16]; 4]` vectorised in some builds and not in
/// others (the same source, 2.6× slower when scalar; check `packuswb` in the disassembly).
fn split_into(values: &[f32], streams: [&mut [u8]; 4], stats: &mut MinMax) {
    const RUN: usize = LANES;
    // Local lanes, so they live in registers rather than behind `&mut`.
    let mut lanes = *stats;
    let [s0, s1, s2, s3] = streams;
    let n = values
        .len()
        .min(s0.len())
        .min(s1.len())
        .min(s2.len())
        .min(s3.len());
    let whole = n - n % RUN;
    let runs = values[..whole]
        .chunks_exact(RUN)
        .zip(s0[..whole].chunks_exact_mut(RUN))
        .zip(s1[..whole].chunks_exact_mut(RUN))
        .zip(s2[..whole].chunks_exact_mut(RUN))
        .zip(s3[..whole].chunks_exact_mut(RUN));
    for ((((v, a), b), c), d) in runs {
        let v: &[f32; RUN] = v.try_into().unwrap_or(&[0.0; RUN]);
        lanes.fold_lanes(v);
        let bits = v.map(f32::to_bits);
        a.copy_from_slice(&bits.map(|x| x as u8));
        b.copy_from_slice(&bits.map(|x| (x >> 8) as u8));
        c.copy_from_slice(&bits.map(|x| (x >> 16) as u8));
        d.copy_from_slice(&bits.map(|x| (x >> 24) as u8));
    }
    lanes.update(&values[whole..n]);
    *stats = lanes;
    let tail = values[whole..n]
        .iter()
        .zip(&mut s0[whole..n])
        .zip(&mut s1[whole..n])
        .zip(&mut s2[whole..n])
        .zip(&mut s3[whole..n]);
    for ((((v, a), b), c), d) in tail {
        let x = v.to_bits();
        *a = x as u8;
        *b = (x >> 8) as u8;
        *c = (x >> 16) as u8;
        *d = (x >> 24) as u8;
    }
}

/// `values` as little-endian bytes into `out` (`4 × values.len()` bytes).
fn plain_bytes(values: &[f32], out: &mut [u8]) {
    for (dst, v) in out.chunks_exact_mut(4).zip(values) {
        dst.copy_from_slice(&v.to_le_bytes());
    }
}

/// Running min/max of a float column, NaN ignored; lane-wise so it vectorises.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MinMax {
    min: [f32; LANES],
    max: [f32; LANES],
}

const LANES: usize = 16;

impl Default for MinMax {
    fn default() -> Self {
        MinMax {
            min: [f32::INFINITY; LANES],
            max: [f32::NEG_INFINITY; LANES],
        }
    }
}

impl MinMax {
    /// Fold one value into each lane.
    #[inline]
    fn fold_lanes(&mut self, v: &[f32; LANES]) {
        for ((mn, mx), &v) in self.min.iter_mut().zip(self.max.iter_mut()).zip(v) {
            *mn = if v < *mn { v } else { *mn };
            *mx = if v > *mx { v } else { *mx };
        }
    }

    /// Fold `values` in. A comparison with NaN is false, so NaN never becomes min or max.
    pub(crate) fn update(&mut self, values: &[f32]) {
        // Local copies, so the lanes live in registers rather than behind `&mut self`.
        let (mut min, mut max) = (self.min, self.max);
        let mut chunks = values.chunks_exact(LANES);
        for c in &mut chunks {
            for ((mn, mx), &v) in min.iter_mut().zip(max.iter_mut()).zip(c) {
                *mn = if v < *mn { v } else { *mn };
                *mx = if v > *mx { v } else { *mx };
            }
        }
        (self.min, self.max) = (min, max);
        for (i, &v) in chunks.remainder().iter().enumerate() {
            if v < self.min[i] {
                self.min[i] = v;
            }
            if v > self.max[i] {
                self.max[i] = v;
            }
        }
    }

    /// `(min, max)`, both `None` when no non-NaN value was seen; zeros signed per the spec.
    pub(crate) fn finish(&self) -> (Option<f32>, Option<f32>) {
        let min = self.min.iter().copied().fold(f32::INFINITY, f32::min);
        let max = self.max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // Nothing seen leaves min = +inf > max = −inf; a real ±inf value passes this test.
        if min > max {
            return (None, None);
        }
        let min = if min == 0.0 { -0.0 } else { min };
        let max = if max == 0.0 { 0.0 } else { max };
        (Some(min), Some(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_streams_puts_byte_k_in_stream_k() {
        let v = [f32::from_bits(0x4433_2211), f32::from_bits(0x8877_6655)];
        let mut out = [0u8; 8];
        split_streams(&v, &mut out);
        assert_eq!(out, [0x11, 0x55, 0x22, 0x66, 0x33, 0x77, 0x44, 0x88]);
    }

    #[test]
    fn min_max_ignores_nan_and_signs_zeros() {
        let mut m = MinMax::default();
        let mut v: Vec<f32> = (0..37).map(|i| i as f32 * 0.5 - 3.0).collect();
        v[5] = f32::NAN;
        v[20] = f32::NAN;
        m.update(&v);
        assert_eq!(m.finish(), (Some(-3.0), Some(15.0)));

        let mut z = MinMax::default();
        z.update(&[0.0, f32::NAN, -0.0]);
        let (mn, mx) = z.finish();
        assert!(mn.unwrap().is_sign_negative() && mn == Some(0.0));
        assert!(mx.unwrap().is_sign_positive() && mx == Some(0.0));

        let mut none = MinMax::default();
        none.update(&[f32::NAN; 20]);
        assert_eq!(none.finish(), (None, None));

        let mut inf = MinMax::default();
        inf.update(&[f32::INFINITY, f32::NAN]);
        assert_eq!(inf.finish(), (Some(f32::INFINITY), Some(f32::INFINITY)));
    }

    #[test]
    fn def_levels_are_rle_runs_of_the_validity() {
        let dense = Float32Array::from(vec![1.0; 300]);
        let mut out = Vec::new();
        write_def_levels(&mut out, dense.len(), dense.nulls());
        // 300 << 1 = 600 = varint [0xd8, 0x04], then level 1.
        assert_eq!(out, [3, 0, 0, 0, 0xd8, 0x04, 1]);

        let sparse = Float32Array::from(vec![Some(1.0), None, None, Some(2.0)]);
        let mut out = Vec::new();
        write_def_levels(&mut out, sparse.len(), sparse.nulls());
        assert_eq!(out, [6, 0, 0, 0, 2, 1, 4, 0, 2, 1]);
    }
}
