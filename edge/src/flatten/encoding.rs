//! Parquet encodings for the Silver columns, chosen by measurement (`cargo bench --bench encoding`,
//! figures in `docs/benchmarks.md`).
//!
//! Band columns are `Float32`. Two settings matter:
//!
//! - **Byte-stream split + ZSTD** for the band columns, no dictionary. Reflectance is smooth
//!   across neighbouring pixels, so splitting the four bytes of each float into four streams
//!   lets ZSTD find the redundancy in the sign/exponent/high-mantissa bytes.
//! - **Mantissa quantisation** (the `field` profile): rounding each value to `mantissa_bits`
//!   bits of mantissa (relative error ≤ 2^-(bits+1)) zeroes the low bytes, which then compress to
//!   almost nothing. With 10 bits the error is ≤ 0.05 % of the value, far below sensor noise.
//!
//! Identity columns keep Parquet's defaults (dictionary for strings, which are constant per cube).

use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use super::schema::band_column_name;

/// How band columns are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandEncoding {
    /// PLAIN (no dictionary).
    Plain,
    /// Parquet's default dictionary encoding (falls back to PLAIN when the dictionary fills).
    Dictionary,
    /// BYTE_STREAM_SPLIT (no dictionary).
    ByteStreamSplit,
}

/// Key-value metadata key holding the band columns' ZSTD level when it is a fast (negative)
/// level, which `parquet`'s `ZstdLevel` cannot carry (see [`EncodingOptions::zstd_level`]).
pub const BAND_ZSTD_LEVEL_KEY: &str = "hsi.band_zstd_level";

/// The Parquet encoding settings of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodingOptions {
    /// Encoding of the band columns.
    pub bands: BandEncoding,
    /// ZSTD level of the band columns: 1..=22, or negative for ZSTD's fast levels (with the
    /// literals still Huffman-coded, see `flatten::pages`), 0 = no compression. The other
    /// columns use the same level when it is positive, level 1 when it is negative.
    pub zstd_level: i32,
    /// Keep this many mantissa bits of each band value (`None` = lossless).
    pub mantissa_bits: Option<u8>,
    /// Rows per row group.
    pub row_group_rows: usize,
}

impl Default for EncodingOptions {
    fn default() -> Self {
        EncodingOptions {
            bands: BandEncoding::ByteStreamSplit,
            zstd_level: -50,
            mantissa_bits: None,
            row_group_rows: 65_536,
        }
    }
}

impl EncodingOptions {
    /// Writer properties for a Silver file with this grid.
    pub fn writer_properties(&self, grid_nm: &[f32]) -> WriterProperties {
        let zstd = |level: i32| {
            ZstdLevel::try_new(level.min(22))
                .map(Compression::ZSTD)
                .unwrap_or(Compression::ZSTD(ZstdLevel::default()))
        };
        let compression = match self.zstd_level {
            0 => Compression::UNCOMPRESSED,
            l => zstd(l.max(1)),
        };
        let mut b = WriterProperties::builder()
            .set_writer_version(WriterVersion::PARQUET_1_0)
            .set_compression(compression)
            .set_max_row_group_row_count(Some(self.row_group_rows.max(1)))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_created_by(format!("hsi-edge {}", env!("CARGO_PKG_VERSION")));
        if self.zstd_level < 0 {
            // The `parquet` crate's ZSTD levels start at 1: a fast level travels to the band
            // page encoder in the file's key-value metadata (and documents itself there).
            b = b.set_key_value_metadata(Some(vec![KeyValue::new(
                BAND_ZSTD_LEVEL_KEY.to_owned(),
                self.zstd_level.to_string(),
            )]));
        }
        for &nm in grid_nm {
            let col = ColumnPath::from(band_column_name(nm));
            b = match self.bands {
                BandEncoding::Plain => b
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::PLAIN),
                BandEncoding::Dictionary => b.set_column_dictionary_enabled(col, true),
                BandEncoding::ByteStreamSplit => b
                    .set_column_dictionary_enabled(col.clone(), false)
                    .set_column_encoding(col, Encoding::BYTE_STREAM_SPLIT),
            };
        }
        b.build()
    }
}

/// Round `v` to `bits` mantissa bits (round half away from zero in magnitude); NaN/inf unchanged.
#[inline]
pub fn quantize_mantissa(v: f32, bits: u8) -> f32 {
    if bits >= 23 || !v.is_finite() {
        return v;
    }
    let drop = 23 - u32::from(bits);
    let raw = v.to_bits();
    let half = 1u32 << (drop - 1);
    let mask = !((1u32 << drop) - 1);
    // Adding half may carry into the exponent, which is the correct rounding up.
    let rounded = f32::from_bits((raw.wrapping_add(half)) & mask);
    if rounded.is_finite() { rounded } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_keeps_relative_error_bounded() {
        for &v in &[0.123_456_7_f32, 0.5, 0.999_9, 1.45, -0.12, 3.0e-3, 19.2] {
            let q = quantize_mantissa(v, 10);
            assert!(((q - v) / v).abs() <= 2f32.powi(-11) + 1e-7, "{v} -> {q}");
            assert_eq!(q.to_bits() & 0x1fff, 0, "low 13 bits cleared for {v}");
        }
        assert_eq!(quantize_mantissa(0.5, 10), 0.5);
        assert!(quantize_mantissa(f32::NAN, 10).is_nan());
        assert_eq!(quantize_mantissa(0.123, 23), 0.123);
        // Hand check: 1 + 2^-11 + 2^-12 rounds up to 1 + 2^-10 with 10 bits.
        let v = 1.0 + 2f32.powi(-11) + 2f32.powi(-12);
        assert_eq!(quantize_mantissa(v, 10), 1.0 + 2f32.powi(-10));
    }
}
