//! S3 event notifications as they arrive in SQS message bodies.
//!
//! Tolerates what real services send: `s3:TestEvent` messages (no `Records`), URL-encoded
//! keys (`+` for space, `%2F`...), missing `sequencer` (moto) and missing `eTag`. Only
//! `ObjectCreated:*` records become [`CubeRef`]s; others are reported as ignored.

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use crate::error::{Error, Result};

/// One raw object that a job should process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CubeRef {
    /// Bucket.
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    /// ETag without quotes, when the event has one.
    pub etag: Option<String>,
    /// Object size in bytes, when known.
    pub size: Option<u64>,
    /// The event's sequencer (absent on moto).
    pub sequencer: Option<String>,
    /// The event time.
    pub event_time: Option<DateTime<Utc>>,
}

impl CubeRef {
    /// The de-duplication identity: bucket + key + sequencer, or + etag when the sequencer is
    /// absent (a multipart upload's duplicate events share the etag).
    pub fn dedup_key(&self) -> String {
        let version = match (&self.sequencer, &self.etag) {
            (Some(s), _) => format!("seq:{s}"),
            (None, Some(e)) => format!("etag:{e}"),
            (None, None) => "none".to_owned(),
        };
        format!("{}\u{0}{}\u{0}{version}", self.bucket, self.key)
    }
}

/// What one SQS message held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedMessage {
    /// ObjectCreated records.
    pub refs: Vec<CubeRef>,
    /// Records ignored (test events, other event types).
    pub ignored: usize,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(rename = "eventName", default)]
    event_name: String,
    #[serde(rename = "eventTime", default)]
    event_time: Option<String>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
struct Object {
    key: String,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "eTag", default)]
    etag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// Decode an S3 event key: `+` is a space, then percent-decoding (UTF-8).
pub fn decode_key(raw: &str) -> std::result::Result<String, String> {
    let plus = raw.replace('+', " ");
    percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|e| format!("key {raw:?} is not UTF-8 after decoding: {e}"))
}

/// Parse one SQS message body.
pub fn parse_message(message_id: &str, body: &str) -> Result<ParsedMessage> {
    let err = |reason: String| Error::Event {
        message_id: message_id.to_owned(),
        reason,
    };
    let parsed: Body =
        serde_json::from_str(body).map_err(|e| err(format!("not an S3 event: {e}")))?;
    if parsed.event.as_deref() == Some("s3:TestEvent") {
        return Ok(ParsedMessage {
            refs: Vec::new(),
            ignored: 1,
        });
    }
    let Some(records) = parsed.records else {
        return Err(err("no `Records` and not an s3:TestEvent".into()));
    };
    let mut out = ParsedMessage::default();
    for r in records {
        let Some(s3) = r.s3.filter(|_| r.event_name.starts_with("ObjectCreated:")) else {
            out.ignored += 1;
            continue;
        };
        let key = decode_key(&s3.object.key).map_err(err)?;
        let event_time = match r.event_time.as_deref() {
            Some(t) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|e| err(format!("eventTime {t:?}: {e}")))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        out.refs.push(CubeRef {
            bucket: s3.bucket.name,
            key,
            etag: s3
                .object
                .etag
                .map(|e| e.trim_matches('"').to_owned())
                .filter(|e| !e.is_empty()),
            size: s3.object.size,
            sequencer: s3.object.sequencer.filter(|s| !s.is_empty()),
            event_time,
        });
    }
    Ok(out)
}

/// Which keys are raw cubes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFilter {
    /// Key prefix (e.g. `raw_cubes/`).
    pub prefix: String,
    /// Accepted suffixes (e.g. `.h5`); empty = any.
    pub suffixes: Vec<String>,
}

impl KeyFilter {
    /// Whether `key` is a raw cube.
    pub fn accepts(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
            && (self.suffixes.is_empty() || self.suffixes.iter().any(|s| key.ends_with(s.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_percent_escapes() {
        assert_eq!(
            decode_key("raw_cubes/us+west/F%2F1/2026/07/01/cube+%C3%A9.h5").unwrap(),
            "raw_cubes/us west/F/1/2026/07/01/cube é.h5"
        );
        // A literal plus is sent as %2B.
        assert_eq!(decode_key("a%2Bb").unwrap(), "a+b");
        assert!(decode_key("bad%FF").is_err());
    }

    #[test]
    fn test_events_are_ignored() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-07-01T00:00:00Z","Bucket":"raw"}"#;
        let p = parse_message("m1", body).unwrap();
        assert!(p.refs.is_empty());
        assert_eq!(p.ignored, 1);
    }

    #[test]
    fn object_created_records_become_refs() {
        let body = r#"{"Records":[
          {"eventName":"ObjectCreated:Put","eventTime":"2026-07-01T10:00:00.000Z",
           "s3":{"bucket":{"name":"raw"},"object":{"key":"raw_cubes/r1/F1/2026/07/01/C%201.h5","size":1024,"eTag":"\"abc\"","sequencer":"0055AED6DCD90281E5"}}},
          {"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"raw"},"object":{"key":"x"}}},
          {"eventName":"ObjectCreated:CompleteMultipartUpload","eventTime":"2026-07-01T10:00:01Z",
           "s3":{"bucket":{"name":"raw"},"object":{"key":"raw_cubes/r1/F1/2026/07/01/C2.h5","eTag":"def-2"}}}
        ]}"#;
        let p = parse_message("m2", body).unwrap();
        assert_eq!(p.ignored, 1);
        assert_eq!(p.refs.len(), 2);
        assert_eq!(p.refs[0].key, "raw_cubes/r1/F1/2026/07/01/C 1.h5");
        assert_eq!(p.refs[0].etag.as_deref(), Some("abc"));
        assert_eq!(p.refs[0].size, Some(1024));
        assert_eq!(
            p.refs[0].dedup_key(),
            "raw\u{0}raw_cubes/r1/F1/2026/07/01/C 1.h5\u{0}seq:0055AED6DCD90281E5"
        );
        assert_eq!(p.refs[1].sequencer, None);
        assert!(p.refs[1].dedup_key().ends_with("etag:def-2"));
        assert_eq!(
            p.refs[1].event_time.map(|t| t.to_rfc3339()),
            Some("2026-07-01T10:00:01+00:00".to_owned())
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_message() {
        let e = parse_message("m3", "not json").unwrap_err();
        assert!(e.to_string().contains("m3"), "{e}");
        assert!(parse_message("m4", "{}").is_err());
    }

    #[test]
    fn key_filter() {
        let f = KeyFilter {
            prefix: "raw_cubes/".into(),
            suffixes: vec![".h5".into()],
        };
        assert!(f.accepts("raw_cubes/r/F/2026/07/01/C.h5"));
        assert!(!f.accepts("manifests/2026/07/01/x.json"));
        assert!(!f.accepts("raw_cubes/r/F/2026/07/01/C.txt"));
    }
}
