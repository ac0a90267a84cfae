//! `hsi-edge process`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hsi_edge::calib::{CalibrationConfig, select};
use hsi_edge::flatten::Profile;
use hsi_edge::process::{self, ProcessStats};
use hsi_edge::read;

use crate::cli::ProcessArgs;
use crate::progress::Bar;

pub fn run(args: ProcessArgs) -> anyhow::Result<ExitCode> {
    let mut profile = Profile::by_name(&args.profile)?;
    if let Some(k) = args.binning {
        profile.binning = k;
        profile.name = format!("{}-bin{k}", profile.name);
    }
    if let Some(bands) = &args.bands {
        profile.band_subset_nm = Some(bands.clone());
        profile.name = format!("{}-{}bands", profile.name, bands.len());
    }
    if let Some(bits) = args.mantissa_bits {
        profile.encoding.mantissa_bits = (bits < 23).then_some(bits);
        profile.name = format!("{}-m{bits}", profile.name);
    }
    let calibration = match &args.calibration {
        Some(p) => CalibrationConfig::from_toml_file(p)?,
        None => CalibrationConfig::default(),
    };
    let inputs = expand_inputs(&args.inputs)?;
    if inputs.is_empty() {
        anyhow::bail!("no cube files (.h5, .hdr) found in {:?}", args.inputs);
    }
    let mut calibrator = select::make_calibrator(args.device)?;
    tracing::info!(calibrator = %select::describe(calibrator.as_ref()), "calibrator selected");
    let mut bar = Bar::new(args.quiet || args.json);
    let mut failed = 0usize;
    let mut done = Vec::new();
    for input in &inputs {
        match process::process_file(
            input,
            &args.out,
            &profile,
            &calibration,
            calibrator.as_mut(),
            &mut bar,
        ) {
            Ok(stats) => {
                tracing::info!(
                    cube_id = %stats.cube_id,
                    rows = stats.rows,
                    raw_bytes = stats.raw_bytes,
                    parquet_bytes = stats.parquet_bytes,
                    output = %stats.output.display(),
                    "cube processed"
                );
                done.push(stats);
            }
            Err(err) => {
                // Bad input is reported and skipped; the rest of the batch goes on.
                failed += 1;
                tracing::error!(input = %input.display(), error = %err, "cube failed");
            }
        }
    }
    print_summary(&done, args.json);
    if failed > 0 {
        eprintln!(
            "{failed} of {} cube(s) failed; see the errors above",
            inputs.len()
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Files as given; directories scanned (not recursively) for cube files, sorted.
fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("reading directory {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| read::is_cube_file(f))
                .collect();
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn print_summary(stats: &[ProcessStats], json: bool) {
    let rss = process::peak_rss_bytes();
    if json {
        for s in stats {
            let v = serde_json::json!({
                "cube_id": s.cube_id,
                "profile": s.profile,
                "calibrator": s.calibrator,
                "calibration_version": s.calibration_version,
                "rows": s.rows,
                "bands": s.bands_out,
                "raw_bytes": s.raw_bytes,
                "parquet_bytes": s.parquet_bytes,
                "size_ratio": s.size_ratio(),
                "seconds": s.elapsed.as_secs_f64(),
                "raw_gb_per_s": s.throughput_gbps(),
                "cpu_seconds": s.cpu.map(|c| c.as_secs_f64()),
                "raw_gb_per_cpu_s": s.throughput_gb_per_cpu_s(),
                "stage_seconds": {
                    "read_wait": s.stages.read_wait.as_secs_f64(),
                    "calibrate": s.stages.calibrate.as_secs_f64(),
                    "flatten": s.stages.flatten.as_secs_f64(),
                    "encode": s.stages.encode.as_secs_f64(),
                },
                "peak_rss_bytes": rss,
                "output": s.output,
            });
            println!("{v}");
        }
        return;
    }
    println!(
        "{:<28} {:>10} {:>6} {:>12} {:>12} {:>8} {:>8} {:>9}",
        "cube", "rows", "bands", "raw MB", "parquet MB", "ratio", "secs", "GB/s"
    );
    for s in stats {
        println!(
            "{:<28} {:>10} {:>6} {:>12.1} {:>12.2} {:>7.1}x {:>8.2} {:>9.3}",
            s.cube_id,
            s.rows,
            s.bands_out,
            s.raw_bytes as f64 / 1e6,
            s.parquet_bytes as f64 / 1e6,
            s.size_ratio(),
            s.elapsed.as_secs_f64(),
            s.throughput_gbps(),
        );
    }
    if let Some(first) = stats.first() {
        println!(
            "calibrator: {}  calibration_version: {}",
            first.calibrator, first.calibration_version
        );
    }
    if let Some(rss) = rss {
        println!("peak RSS: {:.1} MB", rss as f64 / 1e6);
    }
}
