//! Kafka chunks of Silver rows: the wire contract between the edge producer and the cloud stream
//! consumer (DESIGN §6, §9).
//!
//! A **chunk** is one Kafka record:
//!
//! - **key**: the `cube_id` (UTF-8), so every chunk of a cube lands in one partition, in order;
//! - **value**: one self-contained Parquet file of whole Silver rows (schema of
//!   [`crate::flatten::schema`]), at most `max_message_bytes` long;
//! - **headers** ([`header`]): `hsi-cube-id`, `hsi-chunk-index` (0-based), `hsi-chunk-count`,
//!   `hsi-schema` ([`schema_id`] of the Parquet file's Arrow schema), `hsi-calibration-version`,
//!   and `content-type: application/vnd.apache.parquet`.
//!
//! Invariants the consumer relies on and checks ([`decode`]):
//! - `chunk_index < chunk_count`, and the chunks `0..chunk_count` of a cube hold every row of the
//!   cube exactly once (the producer may send a chunk twice; the consumer de-duplicates on
//!   `(cube_id, chunk_index)` through the Iceberg-held offsets);
//! - the value's schema satisfies the Silver contract and its [`schema_id`] equals the header;
//! - every row's `cube_id` and `calibration_version` equal the headers.
//!
//! [`ChunkEncoder`] cuts a stream of record batches into such Parquet payloads.

mod decode;
mod encode;
mod recompress;

use arrow_schema::Schema;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::flatten::schema::SCHEMA_VERSION;

pub use decode::{DecodedChunk, check_silver_schema, decode};
pub use encode::ChunkEncoder;

/// Default topic of edge Silver chunks.
pub const DEFAULT_TOPIC: &str = "hsi.silver.v1";
/// Default dead-letter topic for chunks the consumer cannot use.
pub const DEFAULT_DLQ_TOPIC: &str = "hsi.silver.v1.dlq";
/// Default upper bound of one chunk's Parquet payload: below Kafka's 1 MB default
/// `message.max.bytes`, with room for the key, headers and record overhead.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000 - 16 * 1024;

/// Kafka header names.
pub mod header {
    /// The cube id (also the record key).
    pub const CUBE_ID: &str = "hsi-cube-id";
    /// 0-based index of this chunk within its cube.
    pub const CHUNK_INDEX: &str = "hsi-chunk-index";
    /// Number of chunks of the cube.
    pub const CHUNK_COUNT: &str = "hsi-chunk-count";
    /// [`super::schema_id`] of the payload's schema.
    pub const SCHEMA: &str = "hsi-schema";
    /// The calibration version of every row.
    pub const CALIBRATION_VERSION: &str = "hsi-calibration-version";
    /// Content type header.
    pub const CONTENT_TYPE: &str = "content-type";
    /// Content type of the payload.
    pub const PARQUET: &str = "application/vnd.apache.parquet";
}

/// What the headers of one chunk say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkMeta {
    /// Cube id (record key).
    pub cube_id: String,
    /// 0-based chunk index.
    pub chunk_index: u32,
    /// Number of chunks of the cube.
    pub chunk_count: u32,
    /// [`schema_id`] of the payload.
    pub schema: String,
    /// Calibration version of the rows.
    pub calibration_version: String,
}

impl ChunkMeta {
    /// The Kafka headers, in a stable order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            (header::CUBE_ID, self.cube_id.clone()),
            (header::CHUNK_INDEX, self.chunk_index.to_string()),
            (header::CHUNK_COUNT, self.chunk_count.to_string()),
            (header::SCHEMA, self.schema.clone()),
            (
                header::CALIBRATION_VERSION,
                self.calibration_version.clone(),
            ),
            (header::CONTENT_TYPE, header::PARQUET.to_owned()),
        ]
    }

    /// Parse the headers of a record; `origin` names it in errors (e.g. `topic/partition@offset`).
    /// Unknown headers are ignored; a missing or unparsable `hsi-*` header is an error.
    pub fn from_headers<'a, I>(origin: &str, headers: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
    {
        let mut found: [Option<String>; 6] = Default::default();
        let names = [
            header::CUBE_ID,
            header::CHUNK_INDEX,
            header::CHUNK_COUNT,
            header::SCHEMA,
            header::CALIBRATION_VERSION,
            header::CONTENT_TYPE,
        ];
        for (name, value) in headers {
            if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
                let value = value.unwrap_or_default();
                let text =
                    std::str::from_utf8(value).map_err(|_| invalid(origin, name, "not UTF-8"))?;
                found[i] = Some(text.to_owned());
            }
        }
        let mut take = |i: usize| {
            found[i].take().ok_or_else(|| Error::Missing {
                path: origin.into(),
                key: names[i].to_owned(),
                reason: "every chunk carries the hsi-* headers (DESIGN §6)".to_owned(),
            })
        };
        let cube_id = take(0)?;
        let index = take(1)?;
        let count = take(2)?;
        let schema = take(3)?;
        let calibration_version = take(4)?;
        if let Some(ct) = found[5].as_deref()
            && ct != header::PARQUET
        {
            return Err(invalid(
                origin,
                header::CONTENT_TYPE,
                &format!("`{ct}` is not {}", header::PARQUET),
            ));
        }
        let chunk_index: u32 = index.parse().map_err(|_| {
            invalid(
                origin,
                header::CHUNK_INDEX,
                &format!("`{index}` is not a number"),
            )
        })?;
        let chunk_count: u32 = count.parse().map_err(|_| {
            invalid(
                origin,
                header::CHUNK_COUNT,
                &format!("`{count}` is not a number"),
            )
        })?;
        if chunk_index >= chunk_count {
            return Err(invalid(
                origin,
                header::CHUNK_INDEX,
                &format!("index {chunk_index} is not below the chunk count {chunk_count}"),
            ));
        }
        if cube_id.is_empty() {
            return Err(invalid(origin, header::CUBE_ID, "empty"));
        }
        Ok(ChunkMeta {
            cube_id,
            chunk_index,
            chunk_count,
            schema,
            calibration_version,
        })
    }
}

/// A stable id of a Silver Arrow schema: `silver.v1:` + 16 hex digits of the SHA-256 of the
/// field names, types and nullability (metadata is ignored).
pub fn schema_id(schema: &Schema) -> String {
    let mut h = Sha256::new();
    for f in schema.fields() {
        h.update(f.name().as_bytes());
        h.update(b":");
        h.update(f.data_type().to_string().as_bytes());
        h.update(if f.is_nullable() { b"?;" } else { b"!;" });
    }
    let digest = hex::encode(h.finalize());
    format!("{SCHEMA_VERSION}:{}", &digest[..16])
}

fn invalid(origin: &str, key: &str, reason: &str) -> Error {
    Error::Invalid {
        path: origin.into(),
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flatten::schema::silver_schema;

    fn meta() -> ChunkMeta {
        ChunkMeta {
            cube_id: "c1".into(),
            chunk_index: 2,
            chunk_count: 3,
            schema: "silver.v1:0011223344556677".into(),
            calibration_version: "flat-field+abc".into(),
        }
    }

    #[test]
    fn headers_round_trip() {
        let m = meta();
        let h = m.headers();
        let parsed =
            ChunkMeta::from_headers("t/0@5", h.iter().map(|(k, v)| (*k, Some(v.as_bytes()))))
                .unwrap();
        assert_eq!(parsed, m);
    }

    #[test]
    fn bad_headers_are_named() {
        let mut h = meta().headers();
        h.retain(|(k, _)| *k != header::CHUNK_COUNT);
        let e = ChunkMeta::from_headers("t/0@5", h.iter().map(|(k, v)| (*k, Some(v.as_bytes()))))
            .unwrap_err()
            .to_string();
        assert!(e.contains("t/0@5") && e.contains("hsi-chunk-count"), "{e}");
        let mut h = meta().headers();
        h[1].1 = "7".into();
        let e = ChunkMeta::from_headers("t/0@5", h.iter().map(|(k, v)| (*k, Some(v.as_bytes()))))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not below the chunk count 3"), "{e}");
    }

    #[test]
    fn schema_id_depends_on_bands_not_metadata() {
        let a = schema_id(&silver_schema(&[400.0, 410.0]));
        let b = schema_id(&silver_schema(&[400.0, 410.0, 420.0]));
        assert!(a.starts_with("silver.v1:") && a.len() == "silver.v1:".len() + 16);
        assert_ne!(a, b);
        let mut s = (*silver_schema(&[400.0, 410.0])).clone();
        s.metadata.clear();
        assert_eq!(schema_id(&s), a);
    }
}
