//! ZSTD page compression with one reused context per encoder, for small Parquet files.
//!
//! Band columns are compressed by [`crate::flatten::SilverWriter`]'s page encoder and their
//! column chunks are copied through unchanged; what follows applies to the identity columns.
//!
//! The Parquet writer creates a fresh ZSTD codec for every column chunk (a compression *and* a
//! decompression context). A chunk is a self-contained file with one column chunk per column,
//! so a cube cut into 40 chunks of ~140 columns sets up ~5,600 codecs: on x86 each context
//! creation runs `cpuid`, which traps to the hypervisor in a VM, and that alone was a fifth of
//! the daemon's CPU time. Instead the encoder writes the file with `UNCOMPRESSED` pages and this
//! module rewrites it page by page: each page body is compressed with one long-lived
//! [`zstd::bulk::Compressor`] (the same library and level, so the same bytes the writer would
//! have produced), the page header is written anew, and the column chunk metadata records
//! `ZSTD` and the new sizes and offsets. Statistics, encodings and the key-value metadata (the
//! Arrow schema) are kept. Only Parquet 1.0 data pages (v1) and dictionary pages are handled,
//! which is what [`crate::flatten::EncodingOptions::writer_properties`] produces; no page index
//! is written (a chunk is always read whole).

use std::sync::Arc;

use bytes::Bytes;
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageReader, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::properties::{WriterProperties, WriterVersion};
use parquet::file::serialized_reader::SerializedPageReader;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnPath;

use crate::flatten::schema::band_wavelength;

/// The ZSTD side of a [`super::ChunkEncoder`]: writer properties without compression and the
/// reused compression context.
pub(super) struct PageCompressor {
    /// The caller's properties with every column but the band columns `UNCOMPRESSED`: the
    /// band columns' pages are compressed by [`crate::flatten::SilverWriter`]'s page encoder
    /// (one context per chunk) and copied through as they are.
    pub(super) plain: WriterProperties,
    level: ZstdLevel,
    writer_version: WriterVersion,
    created_by: String,
    zstd: zstd::bulk::Compressor<'static>,
}

impl PageCompressor {
    /// `Some` when every column of `columns` is ZSTD at one level and pages are v1; `None` (the
    /// writer compresses by itself) otherwise.
    pub(super) fn for_props(props: &WriterProperties, columns: &[String]) -> Option<Self> {
        if props.writer_version() != WriterVersion::PARQUET_1_0 {
            return None;
        }
        let level = match props.compression(&ColumnPath::from("")) {
            Compression::ZSTD(level) => level,
            _ => return None,
        };
        let mut plain = props
            .clone()
            .into_builder()
            .set_compression(Compression::UNCOMPRESSED);
        for c in columns {
            let path = ColumnPath::from(c.as_str());
            if props.compression(&path) != Compression::ZSTD(level) {
                return None;
            }
            let keep = band_wavelength(c).is_some() && !props.dictionary_enabled(&path);
            let codec = if keep {
                Compression::ZSTD(level)
            } else {
                Compression::UNCOMPRESSED
            };
            plain = plain.set_column_compression(path, codec);
        }
        let zstd = zstd::bulk::Compressor::new(level.compression_level()).ok()?;
        Some(PageCompressor {
            plain: plain.build(),
            level,
            writer_version: props.writer_version(),
            created_by: props.created_by().to_owned(),
            zstd,
        })
    }

    /// Rewrite `file` (written with [`PageCompressor::plain`]) with ZSTD-compressed pages.
    pub(super) fn compress_file(&mut self, file: Vec<u8>) -> Result<Vec<u8>> {
        let file = Bytes::from(file);
        let meta = ParquetMetaDataReader::new().parse_and_finish(&file)?;
        let file_meta = meta.file_metadata();
        let props = WriterProperties::builder()
            .set_writer_version(self.writer_version)
            .set_created_by(self.created_by.clone())
            .set_compression(Compression::ZSTD(self.level))
            .build();
        let mut out = SerializedFileWriter::new(
            Vec::with_capacity(file.len() / 2),
            file_meta.schema_descr().root_schema_ptr(),
            Arc::new(props),
        )?;
        for kv in file_meta.key_value_metadata().into_iter().flatten() {
            out.append_key_value_metadata(kv.clone());
        }
        let source = Arc::new(file.clone());
        for rg in meta.row_groups() {
            let mut rg_out = out.next_row_group()?;
            for col in rg.columns() {
                // A file records the codec, not its level (read back as the default).
                if matches!(col.compression(), Compression::ZSTD(_)) {
                    // Already compressed (band pages): splice the column chunk as it is.
                    rg_out.append_column(
                        &file,
                        ColumnCloseResult {
                            bytes_written: col.compressed_size() as u64,
                            rows_written: rg.num_rows() as u64,
                            metadata: col
                                .clone()
                                .into_builder()
                                .set_offset_index_offset(None)
                                .set_offset_index_length(None)
                                .set_column_index_offset(None)
                                .set_column_index_length(None)
                                .build()?,
                            bloom_filter: None,
                            column_index: None,
                            offset_index: None,
                        },
                    )?;
                    continue;
                }
                if col.compression() != Compression::UNCOMPRESSED {
                    return Err(ParquetError::General(format!(
                        "column {} is {} (expected UNCOMPRESSED or ZSTD)",
                        col.column_path(),
                        col.compression()
                    )));
                }
                let mut pages =
                    SerializedPageReader::new(source.clone(), col, rg.num_rows() as usize, None)?;
                let mut sink =
                    TrackedWrite::new(Vec::with_capacity(col.compressed_size() as usize));
                let (mut dict_offset, mut data_offset) = (None, None);
                let (mut compressed, mut uncompressed) = (0i64, 0i64);
                {
                    let mut writer = SerializedPageWriter::new(&mut sink);
                    while let Some(page) = pages.get_next_page()? {
                        let raw_len = page.buffer().len();
                        let body = Bytes::from(self.zstd.compress(page.buffer())?);
                        let page = with_buffer(page, body)?;
                        let spec = writer.write_page(CompressedPage::new(page, raw_len))?;
                        match spec.page_type {
                            parquet::basic::PageType::DICTIONARY_PAGE => {
                                dict_offset.get_or_insert(spec.offset as i64);
                            }
                            _ => {
                                data_offset.get_or_insert(spec.offset as i64);
                            }
                        }
                        compressed += spec.compressed_size as i64;
                        uncompressed += spec.uncompressed_size as i64;
                    }
                    writer.close()?;
                }
                let bytes = Bytes::from(sink.into_inner()?);
                let data_offset = data_offset.ok_or_else(|| {
                    ParquetError::General(format!("column {} has no data page", col.column_path()))
                })?;
                let metadata = col
                    .clone()
                    .into_builder()
                    .set_compression(Compression::ZSTD(self.level))
                    .set_total_compressed_size(compressed)
                    .set_total_uncompressed_size(uncompressed)
                    .set_data_page_offset(data_offset)
                    .set_dictionary_page_offset(dict_offset)
                    .set_index_page_offset(None)
                    .set_offset_index_offset(None)
                    .set_offset_index_length(None)
                    .set_column_index_offset(None)
                    .set_column_index_length(None)
                    .build()?;
                rg_out.append_column(
                    &bytes,
                    ColumnCloseResult {
                        bytes_written: bytes.len() as u64,
                        rows_written: rg.num_rows() as u64,
                        metadata,
                        bloom_filter: None,
                        column_index: None,
                        offset_index: None,
                    },
                )?;
            }
            rg_out.close()?;
        }
        out.into_inner()
    }
}

/// `page` with its body replaced by `buf` (the compressed body).
fn with_buffer(page: Page, buf: Bytes) -> Result<Page> {
    Ok(match page {
        Page::DataPage {
            num_values,
            encoding,
            def_level_encoding,
            rep_level_encoding,
            statistics,
            ..
        } => Page::DataPage {
            buf,
            num_values,
            encoding,
            def_level_encoding,
            rep_level_encoding,
            statistics,
        },
        Page::DictionaryPage {
            num_values,
            encoding,
            is_sorted,
            ..
        } => Page::DictionaryPage {
            buf,
            num_values,
            encoding,
            is_sorted,
        },
        Page::DataPageV2 { .. } => {
            return Err(ParquetError::General(
                "data page v2 cannot be recompressed here".into(),
            ));
        }
    })
}
