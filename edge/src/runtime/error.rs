//! The runtime's error type.
//!
//! The edge crate's [`crate::Error`] covers reading, calibrating and encoding a cube; the daemon
//! adds the outbox, the state store, Kafka, S3 and its own configuration. Every variant names
//! what it was working on (file, cube id, topic, S3 key) and [`RuntimeError::retryable`] tells
//! the retry loops whether trying again can help.

use std::path::PathBuf;

/// Result alias of the runtime.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Errors of the edge daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// Reading, calibrating or encoding a cube failed.
    #[error(transparent)]
    Edge(#[from] crate::Error),

    /// An I/O error on a runtime file (outbox, state store, landing directory).
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A file of the outbox or the state store is not what its format says.
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// Invalid configuration.
    #[error("configuration {origin}: {reason}")]
    Config {
        /// The file or environment variable.
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// A Kafka client error.
    #[error("kafka topic `{topic}`{}: {reason}", cube.as_deref().map(|c| format!(" cube `{c}`")).unwrap_or_default())]
    Kafka {
        /// The topic.
        topic: String,
        /// The cube, when the error is about one record.
        cube: Option<String>,
        /// librdkafka's message.
        reason: String,
        /// Whether a retry can succeed (broker down, timeout) or not (fatal producer error).
        retryable: bool,
    },

    /// An S3 request failed.
    #[error("s3://{bucket}/{key}: {operation}: {reason}")]
    S3 {
        /// Bucket.
        bucket: String,
        /// Object key.
        key: String,
        /// The S3 operation (`UploadPart`, ...).
        operation: &'static str,
        /// What the service or the client said.
        reason: String,
        /// Whether a retry can succeed.
        retryable: bool,
    },

    /// The daemon is shutting down; the operation was abandoned and is redone on the next start.
    #[error("interrupted by shutdown")]
    Shutdown,
}

impl RuntimeError {
    /// Whether retrying the same operation later could succeed.
    ///
    /// Transient I/O (including a full disk: space comes back when the outbox drains or
    /// retention runs), broker and network errors are retryable; bad cubes, corrupt files and bad
    /// configuration are not.
    pub fn retryable(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            RuntimeError::Edge(e) => e.retryable(),
            RuntimeError::Io { source, .. } => matches!(
                source.kind(),
                Interrupted
                    | WouldBlock
                    | TimedOut
                    | ConnectionReset
                    | ConnectionAborted
                    | StorageFull
                    | QuotaExceeded
                    | ResourceBusy
            ),
            RuntimeError::Kafka { retryable, .. } | RuntimeError::S3 { retryable, .. } => {
                *retryable
            }
            RuntimeError::Shutdown => true,
            RuntimeError::Corrupt { .. } | RuntimeError::Config { .. } => false,
        }
    }

    /// Shorthand for [`RuntimeError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`RuntimeError::Config`].
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        RuntimeError::Config {
            origin: origin.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`RuntimeError::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        RuntimeError::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_is_retryable_bad_config_is_not() {
        let full = RuntimeError::io("/o", std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(full.retryable());
        assert!(!RuntimeError::config("edge.toml", "x").retryable());
        let k = RuntimeError::Kafka {
            topic: "t".into(),
            cube: Some("c1".into()),
            reason: "broker down".into(),
            retryable: true,
        };
        assert!(k.retryable());
        assert_eq!(k.to_string(), "kafka topic `t` cube `c1`: broker down");
    }
}
