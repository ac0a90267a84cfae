//! The crate's one error type.
//!
//! Every variant names what an operator needs to act: the S3 key, the SQS queue, the manifest
//! id, the cube, the Kafka topic/partition/offset. [`Error::retryable`] tells the retry loops
//! (SQS receive, S3 calls, Iceberg commits) whether repeating the same call can succeed.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the ingest crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration file or an environment override is invalid.
    #[error("configuration {origin}: {reason}")]
    Config {
        /// The file, or `env HSI_INGEST__...`.
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// An S3 event (an SQS message body) could not be understood.
    #[error("S3 event in SQS message {message_id}: {reason}")]
    Event {
        /// The SQS message id.
        message_id: String,
        /// What is wrong.
        reason: String,
    },

    /// A manifest could not be read or is invalid.
    #[error("manifest {uri}: {reason}")]
    Manifest {
        /// Where it was read from.
        uri: String,
        /// What is wrong.
        reason: String,
    },

    /// An S3 call failed.
    #[error("S3 {op} s3://{bucket}/{key}: {reason}")]
    S3 {
        /// The operation (`GetObject`, `PutObjectTagging`, ...).
        op: &'static str,
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// The SDK error, rendered with its source chain.
        reason: String,
        /// Whether a retry may succeed (throttling, timeouts, 5xx).
        retryable: bool,
    },

    /// An SQS call failed.
    #[error("SQS {op} {queue}: {reason}")]
    Sqs {
        /// The operation (`ReceiveMessage`, `DeleteMessageBatch`, ...).
        op: &'static str,
        /// The queue URL.
        queue: String,
        /// The SDK error, rendered.
        reason: String,
    },

    /// Submitting a job for a manifest failed (AWS Batch or the local runner).
    #[error("job submission for manifest {manifest_id}: {reason}")]
    Submit {
        /// The manifest.
        manifest_id: String,
        /// What failed.
        reason: String,
    },

    /// A cube failed in the worker (it is quarantined; the manifest goes on).
    #[error("cube s3://{bucket}/{key}: {reason}")]
    Cube {
        /// Bucket of the raw object.
        bucket: String,
        /// Key of the raw object.
        key: String,
        /// What failed.
        reason: String,
    },

    /// A Kafka call failed.
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What was being done (topic, partition, offset where known).
        context: String,
        /// The client error.
        #[source]
        source: rdkafka::error::KafkaError,
    },

    /// The table-held Kafka offsets (`hsi.kafka.offsets`) could not be parsed.
    #[error("snapshot {snapshot_id} of {table}: bad hsi.kafka.offsets: {reason}")]
    Offsets {
        /// The table.
        table: String,
        /// The snapshot carrying the property.
        snapshot_id: i64,
        /// What is wrong.
        reason: String,
    },

    /// A lakehouse (Iceberg) operation failed.
    #[error(transparent)]
    Lakehouse(#[from] hsi_lakehouse::Error),

    /// The edge library failed (reading, calibrating, decoding chunks).
    #[error(transparent)]
    Edge(#[from] hsi_edge::Error),

    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The process was asked to stop (SIGTERM/SIGINT) before the work was done.
    #[error("interrupted by a shutdown signal")]
    Interrupted,
}

impl Error {
    /// Whether repeating the operation may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::S3 { retryable, .. } => *retryable,
            Error::Sqs { .. } | Error::Submit { .. } => true,
            Error::Kafka { source, .. } => !matches!(
                source.rdkafka_error_code(),
                Some(
                    rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                        | rdkafka::types::RDKafkaErrorCode::TopicAuthorizationFailed
                )
            ),
            Error::Lakehouse(e) => e.retryable(),
            Error::Edge(e) => e.retryable(),
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// An [`Error::Config`].
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            origin: origin.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// A Kafka error with context.
    pub fn kafka(context: impl Into<String>) -> impl FnOnce(rdkafka::error::KafkaError) -> Error {
        let context = context.into();
        move |source| Error::Kafka { context, source }
    }
}

/// Render an error with its whole source chain (`a: b: c`), for SDK errors whose `Display`
/// is only the top line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_follows_the_variant() {
        let s3 = Error::S3 {
            op: "GetObject",
            bucket: "raw".into(),
            key: "raw_cubes/a.h5".into(),
            reason: "slow down".into(),
            retryable: true,
        };
        assert!(s3.retryable());
        assert_eq!(
            s3.to_string(),
            "S3 GetObject s3://raw/raw_cubes/a.h5: slow down"
        );
        let m = Error::Manifest {
            uri: "s3://b/m.json".into(),
            reason: "no cubes".into(),
        };
        assert!(!m.retryable());
    }
}
