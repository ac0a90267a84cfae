//! [`SilverWriter`]: Silver record batches → one Parquet file, band columns through the
//! purpose-built page encoder ([`pages`](super::pages)).
//!
//! The file is the `parquet` crate's: [`ArrowWriter`] sets up the schema, the writer
//! properties and the embedded Arrow schema, and is then taken apart
//! ([`ArrowWriter::into_serialized_writer`]) into the file writer and a factory of per-column
//! Arrow writers. Per row group, band columns (`Float32`, PLAIN or BYTE_STREAM_SPLIT) go
//! through [`PageEncoder`]; required string columns holding one value in every row (the
//! per-cube identity strings) through [`ConstantChunk`]; required numeric columns with the
//! default (dictionary) encoding (timestamp, line/sample, x/y) through [`DictChunk`]; anything
//! else, and a constant or dictionary chunk that cannot take a slice, through those Arrow
//! column writers unchanged. Each finished
//! chunk is spliced into the row group in schema order. Row groups hold the properties'
//! maximum row count, like the Arrow writer's. Band columns with a dictionary
//! ([`BandEncoding::Dictionary`], measured, never used by a profile) go through the Arrow
//! writers.
//!
//! [`EncodingOptions::writer_properties`]: super::EncodingOptions::writer_properties
//! [`BandEncoding::Dictionary`]: super::BandEncoding::Dictionary
//!
//! Invariants: the schema is flat (one Parquet leaf per Arrow field), every batch has the
//! writer's schema, and a row group's columns all hold its row count (checked at close).

use std::io::Write;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::constant::ConstantChunk;
use super::dictionary::{DictChunk, Kind};
use super::encoding::BAND_ZSTD_LEVEL_KEY;
use super::pages::{BandChunk, PageEncoder, ValueLayout};
use super::schema::band_wavelength;

/// Writes Silver batches to a Parquet file (see the [module docs](self)).
pub struct SilverWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Per field: the value layout when `pages` writes it (a band column), `None` when an
    /// Arrow column writer does.
    band: Vec<Option<ValueLayout>>,
    /// Per field: a candidate for [`ConstantChunk`].
    constant: Vec<bool>,
    /// Per field: the kind and statistics level when a candidate for [`DictChunk`].
    dictionary: Vec<Option<(Kind, EnabledStatistics)>>,
    /// The properties' dictionary page size and data page row count limits.
    dictionary_bytes: usize,
    page_rows: usize,
    pages: PageEncoder,
    row_group_rows: usize,
    current: Option<RowGroup>,
    row_groups: usize,
}

struct RowGroup {
    columns: Vec<Column>,
    rows: usize,
}

// One per column of a row group (~200), never moved around: the size difference is harmless.
#[allow(clippy::large_enum_variant)]
enum Column {
    Arrow(ArrowColumnWriter),
    Band(BandChunk),
    /// A string column constant so far, and the Arrow writer to take over if it stops being.
    Constant(ConstantChunk, ArrowColumnWriter),
    /// A numeric identity column, and the Arrow writer to take over if it must.
    Dict(DictChunk, ArrowColumnWriter),
    /// Only while a constant column is handed over.
    Placeholder,
}

/// Both ZSTD (at any level: the level is not part of the file) or both uncompressed.
fn same_codec(a: Compression, b: Compression) -> bool {
    matches!(
        (a, b),
        (Compression::ZSTD(_), Compression::ZSTD(_))
            | (Compression::UNCOMPRESSED, Compression::UNCOMPRESSED)
    )
}

impl<W: Write + Send> SilverWriter<W> {
    /// A writer of `schema` batches into `sink` with `props` (e.g.
    /// [`EncodingOptions::writer_properties`]). Band columns (`Float32` fields named like
    /// [`band_column_name`](super::schema::band_column_name)) without dictionary, PLAIN or
    /// BYTE_STREAM_SPLIT, all at one ZSTD level or uncompressed, take the page encoder; any
    /// other column the Arrow column writers.
    pub fn try_new(sink: W, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let mut level: Option<Option<ZstdLevel>> = None;
        let band: Vec<Option<ValueLayout>> = schema
            .fields()
            .iter()
            .map(|f| {
                let path = ColumnPath::from(f.name().as_str());
                if f.data_type() != &DataType::Float32
                    || band_wavelength(f.name()).is_none()
                    || props.dictionary_enabled(&path)
                {
                    return None;
                }
                let layout = match props.encoding(&path) {
                    None | Some(Encoding::PLAIN) => ValueLayout::Plain,
                    Some(Encoding::BYTE_STREAM_SPLIT) => ValueLayout::ByteStreamSplit,
                    Some(_) => return None,
                };
                let codec = match props.compression(&path) {
                    Compression::ZSTD(l) => Some(l),
                    Compression::UNCOMPRESSED => None,
                    _ => return None,
                };
                (*level.get_or_insert(codec) == codec).then_some(layout)
            })
            .collect();
        let fast = props
            .key_value_metadata()
            .into_iter()
            .flatten()
            .find(|kv| kv.key == BAND_ZSTD_LEVEL_KEY)
            .and_then(|kv| kv.value.as_deref()?.parse::<i32>().ok())
            .filter(|l| *l < 0);
        let pages = PageEncoder::new(level.flatten(), fast)?;
        // Required string columns with the band columns' compression and the default
        // (dictionary) encoding: tried as constant columns (see `constant.rs`).
        let constant: Vec<bool> = schema
            .fields()
            .iter()
            .zip(&band)
            .map(|(f, b)| {
                let path = ColumnPath::from(f.name().as_str());
                b.is_none()
                    && f.data_type() == &DataType::Utf8
                    && !f.is_nullable()
                    && props.dictionary_enabled(&path)
                    && props.encoding(&path).is_none()
                    && same_codec(props.compression(&path), pages.compression())
            })
            .collect();
        // Required numeric identity columns with the default (dictionary) encoding and no
        // bloom filter: written as dictionary chunks (see `dictionary.rs`).
        let dictionary: Vec<Option<(Kind, EnabledStatistics)>> = schema
            .fields()
            .iter()
            .zip(&band)
            .map(|(f, b)| {
                let path = ColumnPath::from(f.name().as_str());
                let eligible = b.is_none()
                    && !f.is_nullable()
                    && props.dictionary_enabled(&path)
                    && props.encoding(&path).is_none()
                    && props.bloom_filter_properties(&path).is_none()
                    && same_codec(props.compression(&path), pages.compression());
                Kind::of(f.data_type())
                    .filter(|_| eligible)
                    .map(|k| (k, props.statistics_enabled(&path)))
            })
            .collect();
        let dictionary_bytes = props.dictionary_page_size_limit();
        let page_rows = props.data_page_row_count_limit();
        let row_group_rows = props.max_row_group_row_count().unwrap_or(1 << 20).max(1);
        // The Arrow writers of band columns are created per row group and dropped unused:
        // without compression they set up no ZSTD context.
        let mut arrow_props = props.into_builder();
        for (f, _) in schema
            .fields()
            .iter()
            .zip(&band)
            .filter(|(_, b)| b.is_some())
        {
            let path = ColumnPath::from(f.name().as_str());
            arrow_props = arrow_props.set_column_compression(path, Compression::UNCOMPRESSED);
        }
        let (file, factory) =
            ArrowWriter::try_new(sink, schema.clone(), Some(arrow_props.build()))?
                .into_serialized_writer()?;
        if file.schema_descr().num_columns() != schema.fields().len() {
            return Err(ParquetError::General(
                "nested schemas are not supported by the Silver writer".into(),
            ));
        }
        Ok(SilverWriter {
            file,
            factory,
            schema,
            band,
            constant,
            dictionary,
            dictionary_bytes,
            page_rows,
            pages,
            row_group_rows,
            current: None,
            row_groups: 0,
        })
    }

    /// Append a batch; full row groups are written out.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema() != self.schema {
            return Err(ParquetError::General(
                "batch schema differs from the file schema".into(),
            ));
        }
        let mut offset = 0;
        while offset < batch.num_rows() {
            let group = match self.current.take() {
                Some(g) => g,
                None => self.new_row_group()?,
            };
            let take = (self.row_group_rows - group.rows).min(batch.num_rows() - offset);
            let group = self.append(group, &batch.slice(offset, take))?;
            offset += take;
            if group.rows >= self.row_group_rows {
                self.close_row_group(group)?;
            } else {
                self.current = Some(group);
            }
        }
        Ok(())
    }

    /// Write the last row group and the footer; returns the sink.
    pub fn finish(mut self) -> Result<W> {
        if let Some(group) = self.current.take() {
            self.close_row_group(group)?;
        }
        self.file.into_inner()
    }

    fn new_row_group(&mut self) -> Result<RowGroup> {
        let writers = self.factory.create_column_writers(self.row_groups)?;
        let descrs = self.file.schema_descr().columns().to_vec();
        let columns = writers
            .into_iter()
            .zip(descrs)
            .zip(self.band.iter().zip(&self.constant).zip(&self.dictionary))
            .enumerate()
            .map(
                |(i, ((w, d), ((&band, &constant), &dict)))| match (band, dict) {
                    (Some(layout), _) => Column::Band(BandChunk::new(d, i, layout)),
                    (None, _) if constant => Column::Constant(ConstantChunk::new(d), w),
                    (None, Some((kind, stats))) => Column::Dict(
                        DictChunk::new(d, kind, self.dictionary_bytes, self.page_rows, stats),
                        w,
                    ),
                    (None, None) => Column::Arrow(w),
                },
            )
            .collect();
        Ok(RowGroup { columns, rows: 0 })
    }

    fn append(&mut self, mut group: RowGroup, batch: &RecordBatch) -> Result<RowGroup> {
        for ((col, array), field) in group
            .columns
            .iter_mut()
            .zip(batch.columns())
            .zip(self.schema.fields())
        {
            if let Column::Constant(chunk, _) = col
                && let Some(strings) = array.as_string_opt::<i32>()
                && chunk.push(strings)
            {
                continue;
            }
            if let Column::Dict(chunk, _) = col
                && chunk.push(array.as_ref())
            {
                continue;
            }
            if matches!(col, Column::Constant(..) | Column::Dict(..)) {
                // Not constant after all, or not for a dictionary chunk: the Arrow writer
                // takes the column over, rows so far first.
                let (taken, mut w): (ArrayRef, _) =
                    match std::mem::replace(col, Column::Placeholder) {
                        Column::Constant(chunk, w) => (Arc::new(chunk.replay()), w),
                        Column::Dict(chunk, w) => (chunk.replay(field.data_type())?, w),
                        _ => return Err(ParquetError::General("column lost its writer".into())),
                    };
                for leaf in compute_leaves(field, &taken)? {
                    w.write(&leaf)?;
                }
                *col = Column::Arrow(w);
            }
            match col {
                Column::Arrow(w) => {
                    for leaf in compute_leaves(field, array)? {
                        w.write(&leaf)?;
                    }
                }
                Column::Band(chunk) => self.pages.push(chunk, float32(array)?)?,
                Column::Constant(..) | Column::Dict(..) | Column::Placeholder => {}
            }
        }
        group.rows += batch.num_rows();
        Ok(group)
    }

    fn close_row_group(&mut self, group: RowGroup) -> Result<()> {
        let mut rg = self.file.next_row_group()?;
        for col in group.columns {
            match col {
                Column::Arrow(w) => w.close()?.append_to_row_group(&mut rg)?,
                Column::Band(chunk) => {
                    let (bytes, close) = chunk.close(&mut self.pages, group.rows as u64)?;
                    rg.append_column(&bytes, close)?;
                }
                Column::Constant(chunk, _) => {
                    let (bytes, close) = chunk.close(&mut self.pages, group.rows as u64)?;
                    rg.append_column(&bytes, close)?;
                }
                Column::Dict(chunk, _) => {
                    let (bytes, close) = chunk.close(&mut self.pages, group.rows as u64)?;
                    rg.append_column(&bytes, close)?;
                }
                Column::Placeholder => {
                    return Err(ParquetError::General("column lost its writer".into()));
                }
            }
        }
        rg.close()?;
        self.row_groups += 1;
        Ok(())
    }
}

fn float32(array: &ArrayRef) -> Result<&arrow_array::Float32Array> {
    array.as_primitive_opt::<Float32Type>().ok_or_else(|| {
        ParquetError::General(format!(
            "band column is {}, expected Float32",
            array.data_type()
        ))
    })
}
