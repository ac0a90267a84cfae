//! Column chunks of a string column that holds one value in every row (`cube_id`, `farm_id`,
//! `field_id`, `sensor_id`, `pipeline`, `calibration_version`: constant per cube).
//!
//! The Arrow writer dictionary-encodes these like any string column: it hashes every value
//! into its interner and compares every value for the min/max statistics, ~5 % of
//! `hsi-edge process`. [`ConstantChunk`] checks that a slice repeats the chunk's value (a
//! length check and one byte comparison per row) and writes what the dictionary encoding
//! produces for such a column:
//!
//! - a dictionary page (PLAIN) with the one value;
//! - one data page, RLE_DICTIONARY: bit width 1 (as Arrow C++ writes one-entry dictionaries)
//!   and a single RLE run of index 0 over every row; the columns are required, so there are no
//!   definition levels;
//! - both pages compressed with the file's ZSTD context, and statistics min = max = the value,
//!   no nulls.
//!
//! A slice with another value (never in a Silver file, but the writer does not assume it)
//! hands the column back to an Arrow column writer, which first receives the rows taken so far
//! ([`ConstantChunk::replay`]).

use arrow_array::{Array, StringArray};
use arrow_buffer::Buffer;
use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::statistics::Statistics;
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use super::pages::{PageEncoder, rle_run, spliceable};
use super::segments::Segments;

/// The rows of one constant string column in the current row group.
pub(crate) struct ConstantChunk {
    descr: ColumnDescPtr,
    value: Option<Vec<u8>>,
    /// The value repeated, grown to the longest slice seen: a slice is checked with one
    /// comparison against it rather than one per row.
    repeated: Vec<u8>,
    /// A values buffer whose first bytes (how many) were found to be the value repeated:
    /// later slices of the same buffer (the flattener hands out slices of one cached column)
    /// skip the comparison. Holding the buffer keeps its address from being reused.
    checked: Option<(Buffer, usize)>,
    rows: u64,
}

impl ConstantChunk {
    /// An empty chunk of column `descr`.
    pub(crate) fn new(descr: ColumnDescPtr) -> Self {
        ConstantChunk {
            descr,
            value: None,
            repeated: Vec::new(),
            checked: None,
            rows: 0,
        }
    }

    /// Take `array` when every row holds the chunk's value (the first slice sets it); returns
    /// `false`, taking nothing, otherwise.
    pub(crate) fn push(&mut self, array: &StringArray) -> bool {
        if array.is_empty() {
            return true;
        }
        if array.null_count() > 0 {
            return false;
        }
        let first = array.value(0).as_bytes();
        let value = self.value.get_or_insert_with(|| first.to_vec());
        let len = value.len();
        let offsets = array.value_offsets();
        let (Some(&start), Some(&end)) = (offsets.first(), offsets.last()) else {
            return false;
        };
        // Every row `len` bytes long: the offsets step by `len` from the first.
        let same_lengths = offsets
            .iter()
            .enumerate()
            .all(|(i, &o)| (o - start) as usize == i * len);
        let bytes = &array.value_data()[start as usize..end as usize];
        let values = array.values();
        let seen = self.checked.as_ref().is_some_and(|(buffer, upto)| {
            buffer.as_ptr() == values.as_ptr() && end as usize <= *upto && start == 0
        });
        if same_lengths && !seen && self.repeated.len() < bytes.len() {
            self.repeated = value.repeat(array.len());
        }
        let same_bytes = same_lengths && (seen || self.repeated.get(..bytes.len()) == Some(bytes));
        if same_bytes && !seen && start == 0 {
            self.checked = Some((values.clone(), end as usize));
        }
        if !same_bytes {
            if self.rows == 0 {
                self.value = None;
                self.repeated.clear();
            }
            return false;
        }
        self.rows += array.len() as u64;
        true
    }

    /// The rows taken so far, for an Arrow column writer taking the column over.
    pub(crate) fn replay(&self) -> StringArray {
        let value = String::from_utf8_lossy(self.value.as_deref().unwrap_or_default());
        StringArray::from_iter_values(std::iter::repeat_n(value.as_ref(), self.rows as usize))
    }

    /// The encoded chunk and what `append_column` needs (see the module docs).
    pub(crate) fn close(
        self,
        encoder: &mut PageEncoder,
        rows: u64,
    ) -> Result<(Segments, ColumnCloseResult)> {
        if self.rows != rows {
            return Err(ParquetError::General(format!(
                "column {} has {} values for {rows} rows",
                self.descr.path(),
                self.rows
            )));
        }
        let value = self.value.unwrap_or_default();
        let num_values = u32::try_from(rows)
            .map_err(|_| ParquetError::General(format!("{rows} rows in one page")))?;
        let mut dict = Vec::with_capacity(4 + value.len());
        dict.extend_from_slice(&(value.len() as u32).to_le_bytes());
        dict.extend_from_slice(&value);
        let mut indices = vec![1u8];
        rle_run(&mut indices, rows as usize, 0);

        let mut sink = TrackedWrite::new(Vec::with_capacity(256));
        let mut writer = SerializedPageWriter::new(&mut sink);
        let dict_page = Page::DictionaryPage {
            buf: encoder.compress(&dict)?,
            num_values: 1,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let dict_spec = writer.write_page(CompressedPage::new(dict_page, dict.len()))?;
        let data_page = Page::DataPage {
            buf: encoder.compress(&indices)?,
            num_values,
            encoding: Encoding::RLE_DICTIONARY,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let data_spec = writer.write_page(CompressedPage::new(data_page, indices.len()))?;
        let bytes = Segments::from(Bytes::from(sink.into_inner()?));

        let mut index = OffsetIndexBuilder::new();
        index.append_row_count(rows as i64);
        index.append_offset_and_size(data_spec.offset as i64, data_spec.compressed_size as i32);
        let stat = || Some(ByteArray::from(value.clone()));
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_compression(encoder.compression())
            .set_encodings(vec![
                Encoding::PLAIN,
                Encoding::RLE,
                Encoding::RLE_DICTIONARY,
            ])
            .set_num_values(rows as i64)
            .set_total_compressed_size(
                (dict_spec.compressed_size + data_spec.compressed_size) as i64,
            )
            .set_total_uncompressed_size(
                (dict_spec.uncompressed_size + data_spec.uncompressed_size) as i64,
            )
            .set_dictionary_page_offset(Some(dict_spec.offset as i64))
            .set_data_page_offset(data_spec.offset as i64)
            .set_statistics(Statistics::byte_array(stat(), stat(), None, Some(0), false))
            .build()?;
        Ok(spliceable(bytes, rows, metadata, index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::types::{ColumnDescriptor, ColumnPath, Type};
    use std::sync::Arc;

    fn descr() -> ColumnDescPtr {
        let t = Type::primitive_type_builder("cube_id", parquet::basic::Type::BYTE_ARRAY)
            .with_repetition(parquet::basic::Repetition::REQUIRED)
            .build()
            .expect("type");
        Arc::new(ColumnDescriptor::new(
            Arc::new(t),
            0,
            0,
            ColumnPath::from("cube_id"),
        ))
    }

    #[test]
    fn takes_repeats_of_one_value_and_refuses_others() {
        let mut c = ConstantChunk::new(descr());
        assert!(c.push(&StringArray::from(vec!["ab", "ab"])));
        assert!(c.push(&StringArray::from(vec!["ab"])));
        assert!(!c.push(&StringArray::from(vec!["ab", "ba"])));
        assert!(!c.push(&StringArray::from(vec!["abc"])));
        assert!(!c.push(&StringArray::from(vec![Some("ab"), None])));
        assert_eq!(c.rows, 3);
        assert_eq!(c.replay(), StringArray::from(vec!["ab"; 3]));

        let mut empty = ConstantChunk::new(descr());
        assert!(empty.push(&StringArray::from(vec!["", ""])));
        assert!(!empty.push(&StringArray::from(vec!["x"])));
    }

    /// Slices of one checked column (as the flattener hands out) are taken without comparing
    /// their bytes again; a longer slice, other offsets or another buffer are checked in full.
    #[test]
    fn slices_of_a_checked_buffer_skip_the_comparison() {
        use arrow_buffer::{OffsetBuffer, ScalarBuffer};
        let cached = StringArray::from(vec!["ab"; 8]);
        let mut c = ConstantChunk::new(descr());
        assert!(c.push(&cached.slice(0, 4)));
        assert_eq!(c.checked.as_ref().map(|(_, upto)| *upto), Some(8));
        assert!(c.push(&cached.slice(0, 3)), "within the checked bytes");
        assert!(
            c.push(&cached.slice(0, 8)),
            "longer: checked again, in full"
        );
        assert_eq!(c.checked.as_ref().map(|(_, upto)| *upto), Some(16));
        // The same bytes cut at other offsets ("a", "ba", ...) are not repeats of "ab".
        let odd = StringArray::new(
            OffsetBuffer::new(ScalarBuffer::from(vec![0, 1, 3, 5])),
            cached.values().clone(),
            None,
        );
        assert!(!c.push(&odd));
        // Another buffer with another value at the same length.
        assert!(!c.push(&StringArray::from(vec!["ba"; 2])));
        assert_eq!(c.rows, 15);
    }
}
