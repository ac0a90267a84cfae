//! `hsi-edge synth`.

use std::process::ExitCode;

use anyhow::Context;
use hsi_edge::synth::{self, SynthConfig};
use hsi_edge::testdata;

use crate::cli::SynthArgs;

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let bytes = SynthConfig::parse_size(&args.size)?;
    let mut cfg = match &args.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<SynthConfig>(&text)
                .with_context(|| format!("parsing {}", p.display()))?
        }
        None => SynthConfig::with_target_bytes(bytes),
    };
    cfg.seed = args.seed;
    cfg.n_cubes = args.cubes.max(1);
    let spectra = match args.spectra {
        Some(p) => p,
        None => testdata::usgs_spectra()?,
    };
    tracing::info!(
        lines = cfg.lines,
        samples = cfg.samples,
        cubes = cfg.n_cubes,
        "synthesising field trial"
    );
    let out = synth::generate(&cfg, &spectra, &args.out)?;
    for c in &out.cubes {
        println!("cube:      {}", c.display());
    }
    println!("plots:     {}", out.plots_geojson.display());
    println!("yields:    {}", out.yields_csv.display());
    println!(
        "expected:  {} ({} plot-dates)",
        out.expected_csv.display(),
        out.expected.len()
    );
    Ok(ExitCode::SUCCESS)
}
