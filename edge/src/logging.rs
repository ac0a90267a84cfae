//! Logging set-up shared by every binary (`hsi`, `hsi-edge`, `hsi-ingest`,
//! `hsi-dispatch-lambda`), so that all follow one convention:
//!
//! - **Filter:** `RUST_LOG`, in `tracing`'s `EnvFilter` syntax (`info`, `hsi_ingest=debug`, ...).
//!   Without it, the binary's default applies (its `-v` flags raise it).
//! - **Format:** human-readable text or one JSON object per line (`--log-format`, or
//!   `HSI_LOG_FORMAT`).
//! - **Output:** stderr; stdout stays for results.
//!
//! `HSI_LOG`, which `hsi-ingest` and the dispatcher Lambda read before, is still honoured when
//! `RUST_LOG` is unset, with a warning that names the replacement.

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, fields flattened (for log shippers).
    Json,
}

/// The filter: `RUST_LOG`, else the deprecated `HSI_LOG`, else `default`.
/// The second value is a warning to log once the subscriber is up.
fn filter(default: &str) -> (EnvFilter, Option<String>) {
    if let Ok(f) = EnvFilter::try_from_default_env() {
        return (f, None);
    }
    if let Ok(v) = std::env::var("HSI_LOG")
        && let Ok(f) = EnvFilter::try_new(&v)
    {
        let warn = format!("HSI_LOG is deprecated: set RUST_LOG={v} instead");
        return (f, Some(warn));
    }
    (EnvFilter::new(default), None)
}

/// Install the global subscriber (a second call is a no-op).
pub fn init(format: LogFormat, default: &str) {
    let (filter, warning) = filter(default);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
}
