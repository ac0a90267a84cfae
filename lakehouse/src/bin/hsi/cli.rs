//! Command-line arguments of `hsi`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The hyperspectral lakehouse: run the local pipeline (raw cubes → Bronze/Silver/Gold Iceberg
/// tables → breeding decisions), and manage the tables (init, snapshots, time travel, rollback).
///
/// The embedded default keeps everything in one directory: an SQLite SQL catalog
/// (`WAREHOUSE/catalog.db`) and the Iceberg tables under `WAREHOUSE/`, which pyiceberg, DuckDB
/// and Trino-compatible engines can open (see docs/operations.md).
#[derive(Debug, Parser)]
#[command(name = "hsi", version, max_term_width = 100)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "HSI_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// More logging on stderr (-v: every commit and table, -vv: debug). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Warehouse directory (local) or s3://bucket/prefix.
    #[arg(
        long,
        global = true,
        default_value = "hsi-warehouse",
        env = "HSI_WAREHOUSE"
    )]
    pub warehouse: String,
    /// SQL catalog URL (sqlite://PATH?mode=rwc or postgres://...); default:
    /// sqlite://WAREHOUSE/catalog.db?mode=rwc.
    #[arg(long, global = true, env = "HSI_CATALOG_URI")]
    pub catalog_uri: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline locally: cubes → Bronze/Silver → Gold → breeding decisions.
    ///
    /// Without --cubes, a synthetic field trial is generated first (into WAREHOUSE/../hsi-trial
    /// or --trial-dir) from the real USGS spectra in shared/data. Re-running is safe: cubes already
    /// in bronze.cubes are skipped and nothing is appended twice.
    Run(RunArgs),
    /// Create the namespaces and every table (idempotent).
    Init,
    /// List a table's snapshots with their summary properties.
    Snapshots {
        /// Table, e.g. silver.reflectance.
        table: String,
    },
    /// Read a table (optionally as of a snapshot or time) and print its row count and a sample.
    Scan(ScanArgs),
    /// Make an older snapshot current again (compare-and-swap on the catalog).
    Rollback {
        /// Table, e.g. gold.plot_indices.
        table: String,
        /// Target snapshot id (see `hsi snapshots TABLE`).
        #[arg(long = "to")]
        to: i64,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Directory of raw cubes (.h5 or ENVI .hdr); default: synthesise a field trial.
    #[arg(long)]
    pub cubes: Option<PathBuf>,
    /// Plot boundaries GeoJSON (required with --cubes).
    #[arg(long, requires = "cubes")]
    pub plots: Option<PathBuf>,
    /// Yield history CSV (required with --cubes).
    #[arg(long, requires = "cubes")]
    pub yields: Option<PathBuf>,
    /// Where the synthetic trial goes when --cubes is not given.
    #[arg(long)]
    pub trial_dir: Option<PathBuf>,
    /// Size of each synthetic cube.
    #[arg(long, default_value = "10MB")]
    pub synth_size: String,
    /// Number of synthetic cubes (acquisition dates).
    #[arg(long, default_value_t = 3)]
    pub synth_cubes: usize,
    /// Calibration settings (TOML, see docs/calibration.example.toml).
    #[arg(long, env = "HSI_CALIBRATION")]
    pub calibration: Option<PathBuf>,
    /// Breeding rules (TOML); default: the versioned rules shipped in lakehouse/rules/.
    #[arg(long, env = "HSI_RULES")]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Table, e.g. gold.plot_indices.
    pub table: String,
    /// Read as of this snapshot id.
    #[arg(long, conflicts_with = "as_of_time")]
    pub as_of_snapshot: Option<i64>,
    /// Read as of this time (RFC 3339): the snapshot current then.
    #[arg(long)]
    pub as_of_time: Option<String>,
    /// Rows to print.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
}
