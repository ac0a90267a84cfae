//! The lakehouse crate's one error type.
//!
//! Every variant carries the context an operator needs to find the problem: the file (or
//! in-memory origin), the key inside it (a GeoJSON feature, a CSV line and column, a TOML
//! field, an Arrow column) and the reason. Nothing in this crate panics on bad input.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors from reading reference data, computing Gold tables and evaluating breeding rules.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error on a file.
    #[error("{path}: I/O error: {source}")]
    Io {
        /// The file being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An input file (or in-memory document) is malformed.
    #[error("{file}: {key}: {reason}")]
    InvalidInput {
        /// The file, or a label for in-memory input.
        file: String,
        /// Where in the file: `features[3] (plot P-12)`, `line 7, column season`, ...
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// A configuration file or value is invalid.
    #[error("configuration {origin}: {reason}")]
    Config {
        /// The file or source of the configuration.
        origin: String,
        /// What is wrong.
        reason: String,
    },

    /// An Arrow batch does not have the expected shape (missing column, wrong type), or
    /// building one failed.
    #[error("table `{table}`: Arrow: {reason}")]
    Arrow {
        /// The table whose batch is being read or built (`silver.reflectance`, ...).
        table: String,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Whether retrying the same operation could succeed.
    ///
    /// Only transient I/O errors are retryable; bad input or configuration stays bad.
    pub fn retryable(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            Error::Io { source, .. } => matches!(
                source.kind(),
                Interrupted | WouldBlock | TimedOut | ConnectionReset | ConnectionAborted
            ),
            Error::InvalidInput { .. } | Error::Config { .. } | Error::Arrow { .. } => false,
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::InvalidInput`].
    pub fn invalid_input(
        file: impl Into<String>,
        key: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidInput {
            file: file.into(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Config`].
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            origin: origin.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Arrow`].
    pub fn arrow(table: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Arrow {
            table: table.into(),
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
        let e = Error::invalid_input("plots.geojson", "features[2]", "missing property `row`");
        assert!(!e.retryable());
        assert_eq!(
            e.to_string(),
            "plots.geojson: features[2]: missing property `row`"
        );
        assert!(!Error::config("rules.toml", "bad").retryable());
        assert!(!Error::arrow("silver.reflectance", "bad").retryable());
    }
}
