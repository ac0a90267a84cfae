//! ENVI sample types and byte orders, and decoding raw bytes to `f32`.
//!
//! | `data type` | Rust type | bytes |
//! |---|---|---|
//! | 1 | `u8` | 1 |
//! | 2 | `i16` | 2 |
//! | 3 | `i32` | 4 |
//! | 4 | `f32` | 4 |
//! | 5 | `f64` | 8 |
//! | 12 | `u16` | 2 |
//!
//! The other ENVI codes (6 and 9 complex, 13 `u32`, 14 `i64`, 15 `u64`) are refused: no imaging
//! spectrometer writes them, and 64-bit integers do not fit the `f32` line blocks.
//!
//! Decoding converts every sample to `f32`, the type of [`LineBlock`](crate::cube::LineBlock).
//! That is exact for `u8`, `i16`, `u16` and `f32`; `i32` values beyond ±2²⁴ and `f64` values are
//! rounded to the nearest `f32`.

use std::fmt;

/// The sample type of an ENVI binary (`data type` in the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Code 1: 8-bit unsigned integer.
    U8,
    /// Code 2: 16-bit signed integer.
    I16,
    /// Code 3: 32-bit signed integer.
    I32,
    /// Code 4: 32-bit IEEE float.
    F32,
    /// Code 5: 64-bit IEEE float.
    F64,
    /// Code 12: 16-bit unsigned integer.
    U16,
}

impl DataType {
    /// Every supported type, in code order.
    pub const ALL: [DataType; 6] = [
        DataType::U8,
        DataType::I16,
        DataType::I32,
        DataType::F32,
        DataType::F64,
        DataType::U16,
    ];

    /// The type for an ENVI `data type` code, if supported.
    pub fn from_code(code: u32) -> Option<DataType> {
        Some(match code {
            1 => DataType::U8,
            2 => DataType::I16,
            3 => DataType::I32,
            4 => DataType::F32,
            5 => DataType::F64,
            12 => DataType::U16,
            _ => return None,
        })
    }

    /// The ENVI `data type` code.
    pub fn code(self) -> u32 {
        match self {
            DataType::U8 => 1,
            DataType::I16 => 2,
            DataType::I32 => 3,
            DataType::F32 => 4,
            DataType::F64 => 5,
            DataType::U16 => 12,
        }
    }

    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            DataType::U8 => 1,
            DataType::I16 | DataType::U16 => 2,
            DataType::I32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }

    /// Whether the samples are floating point (already calibrated, in practice).
    pub fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }

    /// Lower-case name (`uint8`, `int16`, `int32`, `float32`, `float64`, `uint16`).
    pub fn name(self) -> &'static str {
        match self {
            DataType::U8 => "uint8",
            DataType::I16 => "int16",
            DataType::I32 => "int32",
            DataType::F32 => "float32",
            DataType::F64 => "float64",
            DataType::U16 => "uint16",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte order of multi-byte samples (`byte order` in the header: 0 = little, 1 = big).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// `byte order = 0`, and ENVI's default when the key is absent.
    #[default]
    Little,
    /// `byte order = 1`.
    Big,
}

impl ByteOrder {
    /// The order for an ENVI `byte order` code, if valid.
    pub fn from_code(code: u32) -> Option<ByteOrder> {
        match code {
            0 => Some(ByteOrder::Little),
            1 => Some(ByteOrder::Big),
            _ => None,
        }
    }

    /// The ENVI `byte order` code.
    pub fn code(self) -> u32 {
        match self {
            ByteOrder::Little => 0,
            ByteOrder::Big => 1,
        }
    }

    /// `little-endian` or `big-endian`.
    pub fn name(self) -> &'static str {
        match self {
            ByteOrder::Little => "little-endian",
            ByteOrder::Big => "big-endian",
        }
    }
}

impl fmt::Display for ByteOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Decode `bytes` (whole samples of `dtype` in `order`) and append them to `out` as `f32`.
///
/// A trailing partial sample is ignored; callers pass whole samples.
pub fn decode_into(dtype: DataType, order: ByteOrder, bytes: &[u8], out: &mut Vec<f32>) {
    use ByteOrder::{Big, Little};
    out.reserve(bytes.len() / dtype.size());
    match (dtype, order) {
        (DataType::U8, _) => out.extend(bytes.iter().map(|&b| f32::from(b))),
        (DataType::I16, Little) => extend::<2>(bytes, out, |a| f32::from(i16::from_le_bytes(a))),
        (DataType::I16, Big) => extend::<2>(bytes, out, |a| f32::from(i16::from_be_bytes(a))),
        (DataType::U16, Little) => extend::<2>(bytes, out, |a| f32::from(u16::from_le_bytes(a))),
        (DataType::U16, Big) => extend::<2>(bytes, out, |a| f32::from(u16::from_be_bytes(a))),
        (DataType::I32, Little) => extend::<4>(bytes, out, |a| i32::from_le_bytes(a) as f32),
        (DataType::I32, Big) => extend::<4>(bytes, out, |a| i32::from_be_bytes(a) as f32),
        (DataType::F32, Little) => extend::<4>(bytes, out, f32::from_le_bytes),
        (DataType::F32, Big) => extend::<4>(bytes, out, f32::from_be_bytes),
        (DataType::F64, Little) => extend::<8>(bytes, out, |a| f64::from_le_bytes(a) as f32),
        (DataType::F64, Big) => extend::<8>(bytes, out, |a| f64::from_be_bytes(a) as f32),
    }
}

fn extend<const N: usize>(bytes: &[u8], out: &mut Vec<f32>, f: impl Fn([u8; N]) -> f32) {
    let (chunks, _partial) = bytes.as_chunks::<N>();
    out.extend(chunks.iter().map(|&c| f(c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_sizes() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        assert_eq!(DataType::from_code(6), None);
        assert_eq!(DataType::from_code(13), None);
        assert_eq!(DataType::U16.size(), 2);
        assert_eq!(DataType::F64.size(), 8);
        assert!(DataType::F32.is_float() && !DataType::I32.is_float());
        assert_eq!(ByteOrder::from_code(1), Some(ByteOrder::Big));
        assert_eq!(ByteOrder::from_code(2), None);
    }

    #[test]
    fn decodes_both_orders() {
        let mut out = vec![];
        decode_into(
            DataType::I16,
            ByteOrder::Little,
            &[0x18, 0xfc, 0x01, 0x00],
            &mut out,
        );
        assert_eq!(out, [-1000.0, 1.0]);
        out.clear();
        decode_into(
            DataType::I16,
            ByteOrder::Big,
            &[0xfc, 0x18, 0x00, 0x01],
            &mut out,
        );
        assert_eq!(out, [-1000.0, 1.0]);
        out.clear();
        decode_into(DataType::U16, ByteOrder::Big, &[0xff, 0xfe], &mut out);
        assert_eq!(out, [65534.0]);
        out.clear();
        decode_into(
            DataType::F32,
            ByteOrder::Big,
            &0.25f32.to_be_bytes(),
            &mut out,
        );
        decode_into(
            DataType::F64,
            ByteOrder::Little,
            &(-2.5f64).to_le_bytes(),
            &mut out,
        );
        decode_into(
            DataType::I32,
            ByteOrder::Big,
            &(-70_000i32).to_be_bytes(),
            &mut out,
        );
        decode_into(DataType::U8, ByteOrder::Big, &[200], &mut out);
        assert_eq!(out, [0.25, -2.5, -70_000.0, 200.0]);
    }
}
