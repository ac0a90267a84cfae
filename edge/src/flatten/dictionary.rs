//! Dictionary-encoded column chunks of the required numeric identity columns
//! (`acquisition_time`, `line`, `sample`, `x`, `y`), written without the Arrow writer.
//!
//! These columns take the default (dictionary) encoding, and the Arrow writer interns every
//! value into its hash table, then RLE/bit-packs the indices: ~5 % of `hsi-edge process`
//! for columns that are a few kilobytes of the file. Their values repeat in long runs (a line
//! number for a whole line, a time for the whole cube) or cycle through a few hundred values
//! (sample, x), so [`DictChunk`] looks up a value only when it differs from the one before,
//! in a small open hash map keyed by the value's bits, and writes what the dictionary encoding
//! produces:
//!
//! - a dictionary page, PLAIN: the distinct values in order of first appearance;
//! - data pages of at most the properties' row count limit (like the Arrow writer's), each
//!   RLE_DICTIONARY: one byte of bit width (`⌈log2 entries⌉`, at least 1), then the indices in
//!   the RLE/bit-packed hybrid ([`encode_hybrid`]); the columns are required, so there are no
//!   definition levels;
//! - every page compressed with the file's ZSTD context; chunk statistics and, when the
//!   properties ask for page statistics, a column index (per-page min/max, boundary order),
//!   computed from the dictionary values the way the `parquet` crate does: NaN never enters (a
//!   chunk holding one goes to the Arrow writer), and a zero minimum is `-0.0`, a zero maximum
//!   `+0.0`.
//!
//! A slice the chunk cannot take (nulls, NaN, another type, a dictionary over the properties'
//! page size limit) is refused whole, and the column goes to an Arrow column writer, which
//! first receives the rows taken so far ([`DictChunk::replay`]), as with
//! [`ConstantChunk`](super::constant::ConstantChunk).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, Int32Array, Int64Array};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use parquet::basic::{BoundaryOrder, Encoding, Type as PhysicalType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder};
use parquet::file::properties::EnabledStatistics;
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use super::pages::{PageEncoder, spliceable};
use super::segments::Segments;

/// The Arrow types a [`DictChunk`] takes, by their Parquet physical type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Int32` → INT32.
    Int32,
    /// `Int64` or `Timestamp(Microsecond, _)` → INT64.
    Int64,
    /// `Float64` → DOUBLE.
    Double,
}

impl Kind {
    /// The kind for an Arrow type, if a [`DictChunk`] can write it.
    pub(crate) fn of(data_type: &DataType) -> Option<Kind> {
        match data_type {
            DataType::Int32 => Some(Kind::Int32),
            DataType::Int64 | DataType::Timestamp(TimeUnit::Microsecond, _) => Some(Kind::Int64),
            DataType::Float64 => Some(Kind::Double),
            _ => None,
        }
    }

    fn width(self) -> usize {
        match self {
            Kind::Int32 => 4,
            Kind::Int64 | Kind::Double => 8,
        }
    }

    fn physical(self) -> PhysicalType {
        match self {
            Kind::Int32 => PhysicalType::INT32,
            Kind::Int64 => PhysicalType::INT64,
            Kind::Double => PhysicalType::DOUBLE,
        }
    }

    /// `a < b` in the column's sort order (signed integers, or floats without NaN).
    fn less(self, a: u64, b: u64) -> bool {
        match self {
            Kind::Int32 => (a as u32 as i32) < (b as u32 as i32),
            Kind::Int64 => (a as i64) < (b as i64),
            Kind::Double => f64::from_bits(a) < f64::from_bits(b),
        }
    }

    /// The PLAIN bytes of a value.
    fn plain(self, bits: u64, out: &mut Vec<u8>) {
        match self {
            Kind::Int32 => out.extend_from_slice(&(bits as u32).to_le_bytes()),
            Kind::Int64 | Kind::Double => out.extend_from_slice(&bits.to_le_bytes()),
        }
    }
}

/// Hashes a value's bits with one multiplication (Fibonacci hashing); the map only ever
/// holds a few thousand keys.
#[derive(Default)]
struct BitsHasher(u64);

impl Hasher for BitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (v ^ (v >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The rows of one dictionary-encoded numeric column in the current row group.
pub(crate) struct DictChunk {
    descr: ColumnDescPtr,
    kind: Kind,
    /// Distinct values (bits) in order of first appearance; the dictionary page.
    dict: Vec<u64>,
    lookup: HashMap<u64, u32, BuildHasherDefault<BitsHasher>>,
    /// One dictionary index per row.
    indices: Vec<u32>,
    /// Most entries the dictionary page may hold (the properties' size limit).
    max_entries: usize,
    /// Rows per data page (the properties' row count limit).
    page_rows: usize,
    /// The properties' statistics level for the column.
    statistics: EnabledStatistics,
}

impl DictChunk {
    /// An empty chunk of column `descr` holding `kind` values; `dictionary_bytes`,
    /// `page_rows` and `statistics` are the writer properties' dictionary page size limit,
    /// data page row count limit and statistics level.
    pub(crate) fn new(
        descr: ColumnDescPtr,
        kind: Kind,
        dictionary_bytes: usize,
        page_rows: usize,
        statistics: EnabledStatistics,
    ) -> Self {
        DictChunk {
            descr,
            kind,
            dict: Vec::new(),
            lookup: HashMap::default(),
            indices: Vec::new(),
            max_entries: dictionary_bytes / kind.width(),
            page_rows: page_rows.max(1),
            statistics,
        }
    }

    /// Take every row of `array`; returns `false`, taking nothing, when the chunk cannot
    /// write it (see the [module docs](self)).
    pub(crate) fn push(&mut self, array: &dyn Array) -> bool {
        if array.null_count() > 0 || Kind::of(array.data_type()) != Some(self.kind) {
            return false;
        }
        let (entries, rows) = (self.dict.len(), self.indices.len());
        let taken = match array.data_type() {
            DataType::Int32 => {
                let v = array.as_primitive::<Int32Type>().values();
                self.take(v.iter().map(|&x| u64::from(x as u32)))
            }
            DataType::Int64 => {
                let v = array.as_primitive::<Int64Type>().values();
                self.take(v.iter().map(|&x| x as u64))
            }
            DataType::Timestamp(..) => {
                let v = array.as_primitive::<TimestampMicrosecondType>().values();
                self.take(v.iter().map(|&x| x as u64))
            }
            _ => {
                let v = array.as_primitive::<Float64Type>().values();
                !v.iter().any(|x| x.is_nan()) && self.take(v.iter().map(|x| x.to_bits()))
            }
        };
        if !taken {
            for bits in self.dict.drain(entries..) {
                self.lookup.remove(&bits);
            }
            self.indices.truncate(rows);
        }
        taken
    }

    /// Index every value; `false` when the dictionary outgrows its page.
    fn take(&mut self, values: impl Iterator<Item = u64>) -> bool {
        let mut last: Option<(u64, u32)> = None;
        for bits in values {
            let index = match last {
                Some((b, i)) if b == bits => i,
                // The entry after the previous value's: a column cycling through the same
                // values every line (`sample`, `x`) follows its dictionary without hashing.
                Some((_, i)) if self.dict.get(i as usize + 1) == Some(&bits) => {
                    last = Some((bits, i + 1));
                    i + 1
                }
                _ => {
                    let next = self.dict.len() as u32;
                    let i = *self.lookup.entry(bits).or_insert(next);
                    if i == next {
                        if self.dict.len() >= self.max_entries {
                            return false;
                        }
                        self.dict.push(bits);
                    }
                    last = Some((bits, i));
                    i
                }
            };
            self.indices.push(index);
        }
        true
    }

    /// The rows taken so far, for an Arrow column writer taking the column over; `data_type`
    /// is the column's Arrow type.
    pub(crate) fn replay(&self, data_type: &DataType) -> Result<ArrayRef> {
        let bits = self
            .indices
            .iter()
            .map(|&i| self.dict.get(i as usize).copied().unwrap_or_default());
        let array: ArrayRef = match self.kind {
            Kind::Int32 => Arc::new(Int32Array::from_iter_values(bits.map(|b| b as u32 as i32))),
            Kind::Int64 => Arc::new(Int64Array::from_iter_values(bits.map(|b| b as i64))),
            Kind::Double => Arc::new(Float64Array::from_iter_values(bits.map(f64::from_bits))),
        };
        arrow_cast_same_layout(array, data_type)
    }

    /// The encoded chunk and what `append_column` needs (see the module docs).
    pub(crate) fn close(
        self,
        encoder: &mut PageEncoder,
        rows: u64,
    ) -> Result<(Segments, ColumnCloseResult)> {
        if self.indices.len() as u64 != rows {
            return Err(ParquetError::General(format!(
                "column {} has {} values for {rows} rows",
                self.descr.path(),
                self.indices.len()
            )));
        }
        let kind = self.kind;
        let mut dict = Vec::with_capacity(self.dict.len() * kind.width());
        for &bits in &self.dict {
            kind.plain(bits, &mut dict);
        }
        let bit_width = bits_for(self.dict.len().saturating_sub(1)).max(1);

        let mut sink = TrackedWrite::new(Vec::new());
        let mut writer = SerializedPageWriter::new(&mut sink);
        let dict_page = Page::DictionaryPage {
            buf: encoder.compress(&dict)?,
            num_values: u32::try_from(self.dict.len()).unwrap_or(u32::MAX),
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let dict_spec = writer.write_page(CompressedPage::new(dict_page, dict.len()))?;
        let (mut compressed, mut uncompressed) =
            (dict_spec.compressed_size, dict_spec.uncompressed_size);
        let mut offsets = OffsetIndexBuilder::new();
        let mut column_index = ColumnIndexBuilder::new(kind.physical());
        let (mut ascending, mut descending) = (true, true);
        let mut chunk_range: Option<(u64, u64)> = None;
        let mut previous: Option<(u64, u64)> = None;
        let mut data_page_offset = None;
        let mut body = Vec::new();
        for page in self.indices.chunks(self.page_rows) {
            body.clear();
            body.push(bit_width);
            encode_hybrid(page, bit_width, &mut body);
            let data_page = Page::DataPage {
                buf: encoder.compress(&body)?,
                num_values: page.len() as u32,
                encoding: Encoding::RLE_DICTIONARY,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            };
            let spec = writer.write_page(CompressedPage::new(data_page, body.len()))?;
            data_page_offset.get_or_insert(spec.offset);
            compressed += spec.compressed_size;
            uncompressed += spec.uncompressed_size;
            offsets.append_row_count(page.len() as i64);
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);

            let range = self.range(page);
            if let Some((min, max)) = range {
                if let Some((pmin, pmax)) = previous {
                    ascending &= !kind.less(min, pmin) && !kind.less(max, pmax);
                    descending &= !kind.less(pmin, min) && !kind.less(pmax, max);
                }
                previous = Some((min, max));
                chunk_range = Some(match chunk_range {
                    None => (min, max),
                    Some((a, b)) => (
                        if kind.less(min, a) { min } else { a },
                        if kind.less(b, max) { max } else { b },
                    ),
                });
                let (min, max) = self.signed_zeros(min, max);
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                kind.plain(min, &mut lo);
                kind.plain(max, &mut hi);
                column_index.append(false, lo, hi, 0);
            }
        }
        column_index.set_boundary_order(match (ascending, descending) {
            (true, _) => BoundaryOrder::ASCENDING,
            (false, true) => BoundaryOrder::DESCENDING,
            (false, false) => BoundaryOrder::UNORDERED,
        });
        let bytes = Segments::from(Bytes::from(sink.into_inner()?));

        let statistics = chunk_range.map(|(min, max)| {
            let (min, max) = self.signed_zeros(min, max);
            match kind {
                Kind::Int32 => Statistics::int32(
                    Some(min as u32 as i32),
                    Some(max as u32 as i32),
                    None,
                    Some(0),
                    false,
                ),
                Kind::Int64 => {
                    Statistics::int64(Some(min as i64), Some(max as i64), None, Some(0), false)
                }
                Kind::Double => Statistics::double(
                    Some(f64::from_bits(min)),
                    Some(f64::from_bits(max)),
                    None,
                    Some(0),
                    false,
                ),
            }
        });
        let mut builder = ColumnChunkMetaData::builder(self.descr)
            .set_compression(encoder.compression())
            .set_encodings(vec![
                Encoding::PLAIN,
                Encoding::RLE,
                Encoding::RLE_DICTIONARY,
            ])
            .set_num_values(rows as i64)
            .set_total_compressed_size(compressed as i64)
            .set_total_uncompressed_size(uncompressed as i64)
            .set_dictionary_page_offset(Some(dict_spec.offset as i64))
            .set_data_page_offset(data_page_offset.unwrap_or(dict_spec.offset) as i64);
        if let Some(s) = statistics.filter(|_| self.statistics != EnabledStatistics::None) {
            builder = builder.set_statistics(s);
        }
        let (bytes, mut close) = spliceable(bytes, rows, builder.build()?, offsets);
        if chunk_range.is_some() && self.statistics == EnabledStatistics::Page {
            close.column_index = Some(column_index.build()?);
        }
        Ok((bytes, close))
    }

    /// The smallest and largest value of a page's rows, as bits.
    fn range(&self, page: &[u32]) -> Option<(u64, u64)> {
        let kind = self.kind;
        // Each distinct index once: pages repeat a few values over many rows.
        let mut seen = vec![false; self.dict.len()];
        let mut range: Option<(u64, u64)> = None;
        for &i in page {
            let Some(flag) = seen.get_mut(i as usize) else {
                continue;
            };
            if std::mem::replace(flag, true) {
                continue;
            }
            let v = self.dict.get(i as usize).copied().unwrap_or_default();
            range = Some(match range {
                None => (v, v),
                Some((a, b)) => (
                    if kind.less(v, a) { v } else { a },
                    if kind.less(b, v) { v } else { b },
                ),
            });
        }
        range
    }

    /// A zero minimum as `-0.0` and a zero maximum as `+0.0` (doubles only), as the
    /// `parquet` crate writes them.
    fn signed_zeros(&self, min: u64, max: u64) -> (u64, u64) {
        if self.kind != Kind::Double {
            return (min, max);
        }
        let fix = |bits: u64, zero: f64| {
            if f64::from_bits(bits) == 0.0 {
                zero.to_bits()
            } else {
                bits
            }
        };
        (fix(min, -0.0), fix(max, 0.0))
    }
}

/// `array` (Int32, Int64 or Float64) as `data_type`, which has the same physical layout
/// (a timestamp with its time zone for Int64).
fn arrow_cast_same_layout(array: ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    if array.data_type() == data_type {
        return Ok(array);
    }
    let data = array
        .to_data()
        .into_builder()
        .data_type(data_type.clone())
        .build()
        .map_err(|e| ParquetError::General(format!("replaying a dictionary column: {e}")))?;
    Ok(arrow_array::make_array(data))
}

/// Bits needed for values up to `max`.
fn bits_for(max: usize) -> u8 {
    (usize::BITS - max.leading_zeros()) as u8
}

/// Values per bit-packed run at most: 63 groups of 8 (a one-byte run header).
const MAX_PACKED: usize = 63 * 8;

/// `indices` in Parquet's RLE/bit-packed hybrid at `bit_width` bits (1–32), appended to
/// `out`: a run of ≥ 8 equal values after a group boundary becomes an RLE run
/// (`varint(len << 1)`, then the value in `⌈bit_width / 8⌉` little-endian bytes); everything
/// else goes into bit-packed runs of whole groups of 8 (`varint(groups << 1 | 1)`, then the
/// values LSB first), the last group padded with zeros (readers stop at the page's value
/// count).
pub(crate) fn encode_hybrid(indices: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let mut pending: Vec<u32> = Vec::with_capacity(MAX_PACKED + 16);
    let mut i = 0;
    while i < indices.len() {
        let v = indices[i];
        let run = indices[i..].iter().take_while(|&&x| x == v).count();
        // Complete the bit-packed group in progress with values of this run first.
        let fill = (8 - pending.len() % 8) % 8;
        if run >= fill + 8 {
            pending.extend(std::iter::repeat_n(v, fill));
            pack(&mut pending, bit_width, out, true);
            rle(run - fill, v, bit_width, out);
        } else {
            pending.extend(std::iter::repeat_n(v, run));
            if pending.len() >= MAX_PACKED {
                pack(&mut pending, bit_width, out, false);
            }
        }
        i += run;
    }
    pack(&mut pending, bit_width, out, true);
}

/// Write `pending` as bit-packed runs of whole groups, leaving a partial group behind unless
/// `all` (then it is padded with zeros).
fn pack(pending: &mut Vec<u32>, bit_width: u8, out: &mut Vec<u8>, all: bool) {
    if all {
        let padded = pending.len().div_ceil(8) * 8;
        pending.resize(padded, 0);
    }
    let whole = pending.len() - pending.len() % 8;
    for run in pending[..whole].chunks(MAX_PACKED) {
        varint((run.len() / 8) << 1 | 1, out);
        let (mut acc, mut filled) = (0u64, 0u32);
        for &v in run {
            acc |= u64::from(v) << filled;
            filled += u32::from(bit_width);
            while filled >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                filled -= 8;
            }
        }
        // Groups of 8 values of `bit_width` bits are whole bytes: nothing is left over.
        debug_assert_eq!(filled, 0);
    }
    pending.drain(..whole);
}

fn rle(len: usize, value: u32, bit_width: u8, out: &mut Vec<u8>) {
    varint(len << 1, out);
    let bytes = usize::from(bit_width).div_ceil(8);
    out.extend_from_slice(&value.to_le_bytes()[..bytes]);
}

fn varint(mut v: usize, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference decoder of the hybrid encoding, written from the format description.
    fn decode_hybrid(mut data: &[u8], bit_width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let varint = |data: &mut &[u8]| {
            let (mut v, mut shift) = (0usize, 0);
            loop {
                let b = data[0];
                *data = &data[1..];
                v |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    return v;
                }
            }
        };
        while out.len() < n {
            let header = varint(&mut data);
            if header & 1 == 1 {
                let values = (header >> 1) * 8;
                let bytes = values * usize::from(bit_width) / 8;
                let (packed, rest) = data.split_at(bytes);
                for k in 0..values {
                    let mut v = 0u32;
                    for bit in 0..usize::from(bit_width) {
                        let at = k * usize::from(bit_width) + bit;
                        v |= u32::from((packed[at / 8] >> (at % 8)) & 1) << bit;
                    }
                    out.push(v);
                }
                data = rest;
            } else {
                let w = usize::from(bit_width).div_ceil(8);
                let mut b = [0u8; 4];
                b[..w].copy_from_slice(&data[..w]);
                data = &data[w..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(b), header >> 1));
            }
        }
        out.truncate(n);
        out
    }

    #[test]
    fn hybrid_runs_decode_to_the_indices() {
        let cases: Vec<(Vec<u32>, u8)> = vec![
            (vec![0; 1000], 1),
            (vec![3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2], 2),
            ((0..756).cycle().take(3000).collect(), 10),
            ((0..2000).map(|i| i / 756).collect(), 2),
            ((0..5).collect(), 3),
            ((0..1100).map(|i| (i * 7919) % 65_536).collect(), 16),
            (vec![70_000; 20], 17),
        ];
        for (indices, w) in cases {
            let mut out = Vec::new();
            encode_hybrid(&indices, w, &mut out);
            assert_eq!(decode_hybrid(&out, w, indices.len()), indices, "width {w}");
        }
        // A run of 1000 zeros is one RLE run: varint(2000) and one byte.
        let mut out = Vec::new();
        encode_hybrid(&[0; 1000], 1, &mut out);
        assert_eq!(out, vec![0xd0, 0x0f, 0x00]);
        // Five values at 3 bits: one padded group, 0..5 LSB first.
        let mut out = Vec::new();
        encode_hybrid(&[0, 1, 2, 3, 4], 3, &mut out);
        assert_eq!(out, vec![0x03, 0b1000_1000, 0b0100_0110, 0x00]);
    }

    #[test]
    fn refused_slices_leave_the_chunk_as_it_was() {
        use parquet::schema::types::{ColumnDescriptor, ColumnPath, Type};
        let t = Type::primitive_type_builder("x", PhysicalType::DOUBLE)
            .with_repetition(parquet::basic::Repetition::REQUIRED)
            .build()
            .expect("type");
        let descr = Arc::new(ColumnDescriptor::new(
            Arc::new(t),
            0,
            0,
            ColumnPath::from("x"),
        ));
        // Room for 3 entries.
        let mut c = DictChunk::new(descr, Kind::Double, 24, 20_000, EnabledStatistics::Chunk);
        assert!(c.push(&Float64Array::from(vec![1.0, 1.0, 2.0])));
        assert!(!c.push(&Float64Array::from(vec![2.0, f64::NAN])));
        assert!(!c.push(&Float64Array::from(vec![Some(1.0), None])));
        assert!(!c.push(&Int32Array::from(vec![1])));
        assert!(!c.push(&Float64Array::from(vec![3.0, 4.0])));
        assert_eq!((c.dict.len(), c.indices.len()), (2, 3));
        assert!(c.push(&Float64Array::from(vec![3.0, 2.0])));
        assert_eq!(c.indices, vec![0, 0, 1, 2, 1]);
        let back = c.replay(&DataType::Float64).expect("replay");
        assert_eq!(
            back.as_primitive::<Float64Type>().values().to_vec(),
            vec![1.0, 1.0, 2.0, 3.0, 2.0]
        );
    }
}
