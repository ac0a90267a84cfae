//! `hsi-edge demo`: the README's main job for the edge core — synthesise a field trial, then
//! process every cube with both profiles, all locally.

use std::process::ExitCode;

use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::flatten::Profile;
use hsi_edge::process;
use hsi_edge::synth::{self, SynthConfig};
use hsi_edge::testdata;

use crate::cli::DemoArgs;
use crate::progress::Bar;

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = SynthConfig::with_target_bytes(SynthConfig::parse_size(&args.size)?);
    cfg.n_cubes = args.cubes.max(1);
    let spectra = match args.spectra {
        Some(p) => p,
        None => testdata::usgs_spectra()?,
    };
    let trial_dir = args.out.join("trial");
    println!(
        "1/2 synthesising a field trial in {} ...",
        trial_dir.display()
    );
    let trial = synth::generate(&cfg, &spectra, &trial_dir)?;
    let parquet_dir = args.out.join("parquet");
    println!(
        "2/2 processing {} cube(s) into {} ...",
        trial.cubes.len(),
        parquet_dir.display()
    );
    let mut calibrator = CpuCalibrator::default();
    let mut bar = Bar::new(false);
    let calibration = CalibrationConfig::default();
    println!(
        "\n{:<24} {:>6} {:>9} {:>6} {:>10} {:>11} {:>8}",
        "cube", "profile", "rows", "bands", "raw MB", "parquet MB", "ratio"
    );
    for cube in &trial.cubes {
        for profile in [Profile::full(), Profile::field()] {
            let s = process::process_file(
                cube,
                &parquet_dir,
                &profile,
                &calibration,
                &mut calibrator,
                &mut bar,
            )?;
            println!(
                "{:<24} {:>6} {:>9} {:>6} {:>10.1} {:>11.2} {:>7.1}x",
                s.cube_id,
                s.profile,
                s.rows,
                s.bands_out,
                s.raw_bytes as f64 / 1e6,
                s.parquet_bytes as f64 / 1e6,
                s.size_ratio()
            );
        }
    }
    println!(
        "\nexpected per-plot NDVI (from the generator): {}",
        trial.expected_csv.display()
    );
    println!(
        "plots: {}   yields: {}",
        trial.plots_geojson.display(),
        trial.yields_csv.display()
    );
    println!(
        "read the Parquet with e.g. `python -c \"import pyarrow.parquet as pq; print(pq.read_table('{}'))\"`",
        parquet_dir.join("*.parquet").display()
    );
    Ok(ExitCode::SUCCESS)
}
