//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cloud ingest: S3 events → manifests → Batch workers, and Kafka → Silver.
#[derive(Debug, Parser)]
#[command(name = "hsi-ingest", version)]
pub struct Cli {
    /// The TOML config file (see docs/ingest.example.toml); HSI_INGEST__SECTION__KEY overrides.
    #[arg(long, short, env = "HSI_INGEST_CONFIG")]
    pub config: PathBuf,
    /// Log format on stderr: JSON lines (the default: a cloud service) or text. `RUST_LOG`
    /// filters, as for every hsi binary.
    #[arg(long, default_value = "json", value_parser = ["json", "text"], env = "HSI_LOG_FORMAT")]
    pub log_format: String,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Long-poll SQS, bundle S3 events into manifests and submit one job per manifest.
    Dispatch {
        /// Stop once a long poll comes back empty with nothing pending (tests, backfills).
        #[arg(long)]
        until_idle: bool,
    },
    /// Process one manifest (the Batch job). Exit 75 when stopped early by SIGTERM.
    Work {
        /// `s3://bucket/key`, `file:///path` or a path.
        #[arg(long)]
        manifest: String,
    },
    /// Consume Silver chunks from Kafka into Iceberg, exactly once.
    Stream,
}
