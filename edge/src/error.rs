//! The edge crate's one error type.
//!
//! Every variant carries the context an operator needs to find the problem: the file, the
//! dataset or header key, and the reason. Nothing in this crate panics on bad input; readers
//! and calibrators return these errors instead, and the caller quarantines the cube.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors from reading, calibrating and flattening cubes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error on a file.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The HDF5 library reported an error (corrupt or truncated file, wrong type...).
    #[error("{path}: HDF5 dataset `{dataset}`: {reason}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The dataset or attribute path inside the file (`/cube`, `@cube_id`, ...).
        dataset: String,
        /// What went wrong.
        reason: String,
    },

    /// A required dataset, attribute or header key is absent.
    #[error("{path}: missing `{key}`: {reason}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// Dataset path, attribute or ENVI header key.
        key: String,
        /// Why it is needed.
        reason: String,
    },

    /// A value is present but unusable (unparsable number, unsupported data type, ...).
    #[error("{path}: invalid `{key}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dataset path, attribute or ENVI header key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Two parts of a cube disagree on shape (cube vs dark/white frames vs wavelengths, or an
    /// ENVI header vs the binary's size).
    #[error("{path}: shape mismatch in `{key}`: expected {expected}, found {found}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The dataset or key whose shape is wrong.
        key: String,
        /// The shape implied by the rest of the cube.
        expected: String,
        /// The shape found.
        found: String,
    },

    /// Dimensions beyond what any real sensor produces; refused before allocating.
    #[error("{path}: absurd dimensions {lines}x{samples}x{bands}: {reason}")]
    AbsurdDimensions {
        /// The file.
        path: PathBuf,
        /// Lines.
        lines: u64,
        /// Samples per line.
        samples: u64,
        /// Bands.
        bands: u64,
        /// Which limit was exceeded.
        reason: String,
    },

    /// Calibration cannot proceed (zero/NaN flat-field denominator, bad configuration...).
    #[error("cube `{cube_id}`: calibration: {reason}")]
    Calibration {
        /// The cube being calibrated.
        cube_id: String,
        /// What is wrong.
        reason: String,
    },

    /// A configuration file or value is invalid.
    #[error("configuration {origin}: {reason}")]
    Config {
        /// The file or source (`--calibration FILE`, `env HSI_...`).
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// A file of the runtime's own stores (outbox, state) fails a check (size, checksum, JSON).
    #[error("{path}: corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Producing to Kafka failed.
    #[error("kafka topic `{topic}`{}: {reason}", cube.as_deref().map(|c| format!(" cube `{c}`")).unwrap_or_default())]
    Kafka {
        /// The topic.
        topic: String,
        /// The cube whose chunk was being sent, if any.
        cube: Option<String>,
        /// librdkafka's error.
        reason: String,
        /// Whether librdkafka says a retry can succeed.
        retryable: bool,
    },

    /// An S3 request failed.
    #[error("s3://{bucket}/{key}: {operation}: {reason}")]
    S3 {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// The S3 operation (`UploadPart`, `CompleteMultipartUpload`, ...).
        operation: &'static str,
        /// The service's or the client's error.
        reason: String,
        /// Whether a retry can succeed (throttling, 5xx, network).
        retryable: bool,
    },

    /// The work was interrupted by a shutdown request (SIGTERM/SIGINT).
    #[error("interrupted by shutdown")]
    Shutdown,

    /// Arrow or Parquet encoding failed.
    #[error("cube `{cube_id}`: Parquet/Arrow: {reason}")]
    Encode {
        /// The cube being flattened.
        cube_id: String,
        /// The underlying error.
        reason: String,
    },
}

impl Error {
    /// Whether retrying the same operation could succeed.
    ///
    /// Transient I/O (including a full disk, which frees up as the outbox drains), Kafka and
    /// S3 errors the client marks transient, and shutdowns are retryable; bad input stays bad and
    /// must be quarantined.
    pub fn retryable(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            Error::Io { source, .. } => matches!(
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
            Error::Kafka { retryable, .. } | Error::S3 { retryable, .. } => *retryable,
            Error::Shutdown => true,
            _ => false,
        }
    }

    /// Whether this is a full disk or quota (`ENOSPC`, `EDQUOT`): retryable once space is freed.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Error::Io { source, .. }
            if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
    }

    /// Shorthand for an [`Error::Config`].
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            origin: origin.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Corrupt`].
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Invalid {
            path: path.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Missing`].
    pub fn missing(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Missing {
            path: path.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_io_is_retryable() {
        let e = Error::io("/x", std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert!(e.retryable());
        let e = Error::io("/x", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(!e.retryable());
        let e = Error::invalid("/x.hdr", "data type", "7 is not supported");
        assert!(!e.retryable());
        assert_eq!(
            e.to_string(),
            "/x.hdr: invalid `data type`: 7 is not supported"
        );
    }

    #[test]
    fn full_disk_kafka_and_s3_retry_flags() {
        let full = Error::io("/o", std::io::Error::from(std::io::ErrorKind::StorageFull));
        assert!(full.retryable());
        assert!(!Error::config("edge.toml", "x").retryable());
        assert!(!Error::corrupt("/o/ready/1/000000.parquet", "size").retryable());
        let k = Error::Kafka {
            topic: "t".into(),
            cube: Some("c1".into()),
            reason: "broker down".into(),
            retryable: true,
        };
        assert!(k.retryable());
        assert_eq!(k.to_string(), "kafka topic `t` cube `c1`: broker down");
        let s3 = Error::S3 {
            bucket: "b".into(),
            key: "raw_cubes/x.h5".into(),
            operation: "UploadPart",
            reason: "AccessDenied".into(),
            retryable: false,
        };
        assert!(!s3.retryable());
        assert_eq!(
            s3.to_string(),
            "s3://b/raw_cubes/x.h5: UploadPart: AccessDenied"
        );
    }
}
