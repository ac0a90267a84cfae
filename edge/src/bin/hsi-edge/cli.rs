//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Process hyperspectral crop imagery at the edge: read raw cubes (HDF5 or ENVI), calibrate them
/// to reflectance, resample to a standard band grid and flatten them to Parquet, one row per
/// pixel and one column per band.
#[derive(Debug, Parser)]
#[command(
    name = "hsi-edge",
    version,
    propagate_version = true,
    max_term_width = 100
)]
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
    /// More logging (-v debug, -vv trace). `RUST_LOG` overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for log shippers).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Calibrate and flatten cubes to Parquet.
    ///
    /// Writes OUT/{cube_id}.{profile}.parquet per cube and prints rows, bytes in and out, the
    /// size ratio, throughput and peak memory.
    Process(ProcessArgs),
    /// Generate a synthetic field trial from real USGS spectra.
    ///
    /// Writes OUT/cubes/*.h5 (raw cubes, DESIGN §4 layout), OUT/plots.geojson, OUT/yields.csv and
    /// OUT/expected_ndvi.csv (the per-plot NDVI the pipeline should find).
    Synth(SynthArgs),
    /// Run the edge core end to end on a synthetic field trial, locally (the README's first
    /// command): synthesise cubes, plots and yields, then process every cube with the `full` and
    /// `field` profiles and print a summary.
    Demo(DemoArgs),
    /// Print a cube's header, shape, bands and calibration frames without reading its pixels.
    Inspect(InspectArgs),
    /// Run the edge daemon: watch the landing directory, process each finished cube into the
    /// durable outbox, send the chunks to Kafka, backhaul raw cubes, serve /healthz and
    /// /metrics. Stops on SIGTERM/SIGINT; see docs/edge-runtime.md.
    Run(RunArgs),
    /// Upload every complete landing cube not yet backhauled to S3 (multipart, resumable),
    /// now, whatever the triggers say. Exit status 0 when everything is uploaded, 3 when
    /// something is left (paused by --max-parts, or failed: see the log).
    Backhaul(BackhaulArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The daemon configuration (see docs/edge.example.toml).
    #[arg(long, short = 'c', env = "HSI_EDGE_CONFIG")]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct BackhaulArgs {
    /// The daemon configuration (its [landing], [state] and [backhaul] sections are used).
    #[arg(long, short = 'c', env = "HSI_EDGE_CONFIG")]
    pub config: PathBuf,
    /// Stop after uploading this many parts (bandwidth budget; the upload resumes next time).
    #[arg(long)]
    pub max_parts: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    /// Cube files (.h5, or ENVI .hdr/binary) or directories to scan for them.
    #[arg(long = "input", short = 'i', required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// Output directory for the Parquet files.
    #[arg(long, short = 'o', env = "HSI_OUT")]
    pub out: PathBuf,
    /// Output profile: `full` (every pixel and grid band, lossless) or `field` (every pixel,
    /// only the index bands, quantised; for cellular uplink). Neither bins; `--binning K` does.
    #[arg(long, default_value = "full", env = "HSI_PROFILE")]
    pub profile: String,
    /// Calibration settings (TOML): flat-field guard, empirical line, bad bands, grid, binning,
    /// Savitzky-Golay. Defaults follow DESIGN §5.
    #[arg(long, env = "HSI_CALIBRATION")]
    pub calibration: Option<PathBuf>,
    /// Calibration device: `auto` (CUDA when built with the `cuda` feature and a GPU is found,
    /// else CPU, with a log line saying why), `cpu` or `cuda`.
    #[arg(long, default_value = "auto", env = "HSI_DEVICE")]
    pub device: hsi_edge::calib::select::Device,
    /// Override the profile's k x k spatial binning.
    #[arg(long)]
    pub binning: Option<usize>,
    /// Override the profile's band subset: keep the grid bands nearest these wavelengths (nm),
    /// comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub bands: Option<Vec<f32>>,
    /// Override the profile's mantissa quantisation (bits kept, 1-23; 23 = lossless).
    #[arg(long)]
    pub mantissa_bits: Option<u8>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON (one object per cube) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Output directory.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Approximate size of each raw cube, e.g. 10MB (test), 512MB, 2GB, 4GB.
    #[arg(long, default_value = "10MB")]
    pub size: String,
    /// Number of cubes (acquisition dates, a week apart).
    #[arg(long, default_value_t = 1)]
    pub cubes: usize,
    /// Random seed (the output is deterministic for a seed).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// The USGS spectra CSV (default: shared/data/spectra/usgs_av95_vegetation_soil.csv, found
    /// beside the repository or via HSI_SHARED_DATA).
    #[arg(long, env = "HSI_SPECTRA")]
    pub spectra: Option<PathBuf>,
    /// Synthesis settings (TOML; see `hsi_edge::synth::SynthConfig`), overriding the defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The cube (.h5, or ENVI .hdr/binary).
    pub cube: PathBuf,
    /// Calibration device to report (`auto`, `cpu`, `cuda`).
    #[arg(long, default_value = "auto", env = "HSI_DEVICE")]
    pub device: hsi_edge::calib::select::Device,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Output directory (trial/ and parquet/ are created inside).
    #[arg(long, short = 'o', default_value = "hsi-out")]
    pub out: PathBuf,
    /// Approximate size of each raw cube.
    #[arg(long, default_value = "10MB")]
    pub size: String,
    /// Number of cubes (acquisition dates).
    #[arg(long, default_value_t = 3)]
    pub cubes: usize,
    /// The USGS spectra CSV (default: found in shared/data beside the repository).
    #[arg(long, env = "HSI_SPECTRA")]
    pub spectra: Option<PathBuf>,
}
