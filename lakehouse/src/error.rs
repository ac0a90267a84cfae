//! The crate's one error type.
//!
//! Every variant carries the context an operator needs to act on it without a debugger: the
//! table, the snapshot id, the file or the idempotency key involved. [`Error::retryable`] tells a
//! caller whether repeating the same operation can succeed (a lost compare-and-swap, a pool
//! timeout), as opposed to errors that will fail again (a missing snapshot, a schema mismatch).

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the lakehouse crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid (bad URL, missing S3 settings, unknown scheme).
    #[error("invalid lakehouse configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },

    /// An iceberg-rust call failed.
    #[error("iceberg: {context}: {source}")]
    Iceberg {
        /// What was being done, including the table where there is one.
        context: String,
        /// The underlying error (boxed: iceberg's error carries a backtrace and context).
        #[source]
        source: Box<iceberg::Error>,
    },

    /// A commit lost a race: the table changed between reading it and swapping its metadata.
    /// Reload and retry.
    #[error("commit conflict on {table}: {reason}")]
    Conflict {
        /// `namespace.table`.
        table: String,
        /// What changed (e.g. the metadata location that was expected).
        reason: String,
    },

    /// A commit's pointer swap failed in a way that does not tell whether it landed, and
    /// re-reading the pointer did not settle it. Nothing was deleted (the snapshot may be
    /// live); retry the whole operation, whose idempotency check makes the retry add nothing
    /// if the first attempt landed.
    #[error("commit to {table} may or may not have landed ({metadata_location}): {reason}")]
    AmbiguousCommit {
        /// `namespace.table`.
        table: String,
        /// The metadata file the commit tried to install.
        metadata_location: String,
        /// The swap's error.
        reason: String,
    },

    /// A version of a raw object's rows is not current: a version that takes precedence over
    /// it (see `crate::identity`) is already in the table. Its rows are not added.
    #[error("{version} is superseded by {by}")]
    Superseded {
        /// The version that was to be added.
        version: String,
        /// The current version.
        by: String,
    },

    /// A snapshot id that the table does not have.
    #[error("table {table} has no snapshot {snapshot_id}")]
    SnapshotNotFound {
        /// `namespace.table`.
        table: String,
        /// The requested snapshot.
        snapshot_id: i64,
    },

    /// Time travel to a moment before the table's first snapshot.
    #[error("table {table} has no snapshot at or before {timestamp_ms} ms")]
    NoSnapshotAt {
        /// `namespace.table`.
        table: String,
        /// The requested time, Unix epoch milliseconds.
        timestamp_ms: i64,
    },

    /// Data does not fit the table's schema (unknown column, wrong type, nulls in a required
    /// column).
    #[error("schema mismatch on {table}, column {column:?}: {reason}")]
    Schema {
        /// `namespace.table`.
        table: String,
        /// The offending column.
        column: String,
        /// What is wrong.
        reason: String,
    },

    /// Invalid input that is not a schema problem (empty key, bad shape, inconsistent blocks).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
    },

    /// An Arrow compute/array error.
    #[error("arrow: {context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: arrow_schema::ArrowError,
    },

    /// A direct SQL call to the catalog database failed.
    #[error("catalog database: {context}: {source}")]
    Sql {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: sqlx::Error,
    },

    /// Writing or reading a Zarr array failed.
    #[error("zarr {path}: {reason}")]
    Zarr {
        /// Array path (store root + array name).
        path: String,
        /// The underlying error, rendered.
        reason: String,
    },

    /// Copying a finished Bronze store to its destination (e.g. S3) failed.
    #[error("publishing the Bronze store to {uri}: {reason}")]
    Publish {
        /// The destination.
        uri: String,
        /// The underlying error, rendered.
        reason: String,
        /// Whether a retry can succeed (network, throttling, 5xx).
        retryable: bool,
    },

    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// (De)serialising table metadata or attributes failed.
    #[error("json: {context}: {source}")]
    Json {
        /// What was being (de)serialised.
        context: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },

    /// The operation is not available for this catalog or storage.
    /// A reference or rules file is invalid: names the file, the feature/line/column or key,
    /// and the reason.
    #[error("{file}: {key}: {reason}")]
    InvalidFile {
        /// The file (or origin label).
        file: String,
        /// Where in it: feature index and plot id, line and column, or key.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// A configuration file is invalid (breeding rules).
    #[error("configuration {origin}: {reason}")]
    ConfigFile {
        /// The file or origin.
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// Arrow data does not have the shape a Gold/reference table needs.
    #[error("table `{table}`: Arrow: {reason}")]
    ArrowData {
        /// The table.
        table: String,
        /// What is wrong.
        reason: String,
    },

    /// Reading or calibrating a cube failed (the edge library's error, with its context).
    #[error(transparent)]
    Edge(#[from] hsi_edge::Error),

    #[error("unsupported: {what}")]
    Unsupported {
        /// What was asked for.
        what: String,
    },
}

impl Error {
    /// Whether repeating the operation (after reloading the table) may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Conflict { .. } | Error::AmbiguousCommit { .. } => true,
            Error::Publish { retryable, .. } => *retryable,
            Error::Edge(e) => e.retryable(),
            Error::Iceberg { source, .. } => {
                source.retryable() || source.kind() == iceberg::ErrorKind::CatalogCommitConflicts
            }
            Error::Sql { source, .. } => match source {
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
                // SQLite busy/locked, PostgreSQL serialization failure / deadlock.
                sqlx::Error::Database(db) => {
                    matches!(db.code().as_deref(), Some("5" | "6" | "40001" | "40P01"))
                }
                _ => false,
            },
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// An [`Error::InvalidFile`].
    pub fn invalid_input(
        file: impl Into<String>,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidFile {
            file: file.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::ConfigFile`].
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ConfigFile {
            origin: origin.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::ArrowData`].
    pub fn arrow_data(table: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ArrowData {
            table: table.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wrap an iceberg error with context.
    pub(crate) fn iceberg(context: impl Into<String>) -> impl FnOnce(iceberg::Error) -> Error {
        let context = context.into();
        move |source| Error::Iceberg {
            context,
            source: Box::new(source),
        }
    }

    /// Wrap an Arrow error with context.
    pub(crate) fn arrow(
        context: impl Into<String>,
    ) -> impl FnOnce(arrow_schema::ArrowError) -> Error {
        let context = context.into();
        move |source| Error::Arrow { context, source }
    }

    /// Wrap a sqlx error with context.
    pub(crate) fn sql(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let context = context.into();
        move |source| Error::Sql { context, source }
    }

    /// Wrap any Zarr error with the array path.
    pub(crate) fn zarr<E: std::fmt::Display>(path: impl Into<String>) -> impl FnOnce(E) -> Error {
        let path = path.into();
        move |e| Error::Zarr {
            path,
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_retryable_and_missing_snapshots_are_not() {
        let c = Error::Conflict {
            table: "silver.reflectance".into(),
            reason: "moved".into(),
        };
        assert!(c.retryable());
        let m = Error::SnapshotNotFound {
            table: "silver.reflectance".into(),
            snapshot_id: 7,
        };
        assert!(!m.retryable());
        assert_eq!(m.to_string(), "table silver.reflectance has no snapshot 7");
        let i = Error::Iceberg {
            context: "commit".into(),
            source: Box::new(iceberg::Error::new(
                iceberg::ErrorKind::CatalogCommitConflicts,
                "x",
            )),
        };
        assert!(i.retryable());
    }
}
