//! Gold refresh cost after one new cube: in a season that held 1 cube, and in one that held
//! `BENCH_SEASON_CUBES` (default 100), measured in the same run and reported as a ratio
//! (issue 8's goal: the second at most 2× the first — the cost follows what changed, not the
//! season).
//!
//! ```text
//! cargo bench -p hsi-lakehouse --bench gold_refresh
//! BENCH_SEASON_CUBES=100 BENCH_REPS=3 cargo bench -p hsi-lakehouse --bench gold_refresh
//! ```
//!
//! Data: synthetic cubes of one field trial (24 lines × 30 samples, 2 × 2 plots, the real
//! USGS spectra), one per day from 1 April, all in one season. Each warehouse gets its season
//! through the local pipeline (`run_local`: Bronze, Silver, Gold); then, `BENCH_REPS` times,
//! one more cube is ingested (Bronze + Silver, untimed) and only `gold::refresh` for its
//! partition is timed: plot statistics, row × week aggregates and the season's decisions, each
//! replaced in one commit. The two warehouses alternate per repetition; medians are reported.
//! Under `cargo test --all-targets` (no `--bench` argument) it does a 2-cube smoke run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::synth::{self, SynthConfig};
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::{self, RunInputs, gold, ingest, reference};
use hsi_lakehouse::{LakeCatalog, LakehouseConfig, open_catalog};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Trial {
    cubes: Vec<PathBuf>,
    plots: PathBuf,
    yields: PathBuf,
}

/// `n` one-cube trials with the same layout, one day apart.
fn synthesize(dir: &Path, n: usize) -> Trial {
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared spectra");
    let base = Utc
        .with_ymd_and_hms(2024, 4, 1, 16, 0, 0)
        .single()
        .expect("time");
    let mut cubes = Vec::new();
    let mut plots = PathBuf::new();
    let mut yields = PathBuf::new();
    for k in 0..n {
        let cfg = SynthConfig {
            lines: 24,
            samples: 30,
            plot_rows: 2,
            plot_cols: 2,
            n_cubes: 1,
            acquisition_time: base + chrono::Duration::days(k as i64),
            ..SynthConfig::default()
        };
        let out = synth::generate(&cfg, &spectra, &dir.join(format!("t{k}"))).expect("synth");
        cubes.extend(out.cubes);
        if k == 0 {
            plots = out.plots_geojson;
            yields = out.yields_csv;
        }
    }
    Trial {
        cubes,
        plots,
        yields,
    }
}

struct Lake {
    catalog: std::sync::Arc<dyn LakeCatalog>,
    zarr: PathBuf,
}

async fn season(dir: &Path, trial: &Trial, cubes: &[PathBuf]) -> Lake {
    let wh = dir.to_path_buf();
    std::fs::create_dir_all(&wh).expect("mkdir");
    let catalog = open_catalog(&LakehouseConfig::local(&wh))
        .await
        .expect("catalog");
    let zarr = wh.join("bronze_zarr");
    let run = pipeline::run_local(
        catalog.as_ref(),
        &zarr,
        &RunInputs {
            cubes: cubes.to_vec(),
            plots: trial.plots.clone(),
            yields: trial.yields.clone(),
        },
        &CalibrationConfig::default(),
        &mut CpuCalibrator::default(),
        &BreedingRules::embedded().expect("rules"),
    )
    .await
    .expect("season");
    assert!(run.failed.is_empty(), "{:?}", run.failed);
    Lake { catalog, zarr }
}

/// Ingest `cube` (untimed), then time the Gold refresh of its partition.
async fn refresh_after(lake: &Lake, trial: &Trial, cube: &Path) -> Duration {
    let out = ingest::ingest_cube(
        lake.catalog.as_ref(),
        &lake.zarr,
        cube,
        &CalibrationConfig::default(),
        &mut CpuCalibrator::default(),
    )
    .await
    .expect("ingest");
    let refs = reference::load(lake.catalog.as_ref(), &trial.plots, &trial.yields)
        .await
        .expect("refs");
    let rules = BreedingRules::embedded().expect("rules");
    let touched: BTreeSet<_> = out.touched.clone();
    let t = Instant::now();
    let g = gold::refresh(
        lake.catalog.as_ref(),
        &touched,
        &refs.plots,
        &refs.yields,
        &rules,
    )
    .await
    .expect("refresh");
    let took = t.elapsed();
    assert_eq!(g.partitions, 1, "only the new cube's partition");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let big = if full {
        env_usize("BENCH_SEASON_CUBES", 100)
    } else {
        2
    };
    let reps = if full { env_usize("BENCH_REPS", 3) } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    let started = Instant::now();
    let trial = synthesize(&dir.path().join("cubes"), big + 2 * reps);
    eprintln!(
        "synthesised {} cubes in {:?}",
        trial.cubes.len(),
        started.elapsed()
    );
    rt.block_on(async {
        let t = Instant::now();
        let small = season(&dir.path().join("small"), &trial, &trial.cubes[..1]).await;
        let large = season(&dir.path().join("large"), &trial, &trial.cubes[..big]).await;
        eprintln!("seasons of 1 and {big} cubes built in {:?}", t.elapsed());
        let (mut ts, mut tl) = (Vec::new(), Vec::new());
        for r in 0..reps {
            // The same new cube for both (its own Bronze/Silver in each warehouse).
            let extra_small = &trial.cubes[big + 2 * r];
            let extra_large = &trial.cubes[big + 2 * r + 1];
            ts.push(refresh_after(&small, &trial, extra_small).await);
            tl.push(refresh_after(&large, &trial, extra_large).await);
        }
        let (s, l) = (median(ts.clone()), median(tl.clone()));
        println!("gold refresh after one new cube (medians of {reps}):");
        println!(
            "  season of 1 cube:      {:>8.1} ms  {ts:?}",
            s.as_secs_f64() * 1e3
        );
        println!(
            "  season of {big} cubes:  {:>8.1} ms  {tl:?}",
            l.as_secs_f64() * 1e3
        );
        println!(
            "  ratio (large / small): {:.2}x  (goal <= 2x)",
            l.as_secs_f64() / s.as_secs_f64()
        );
    });
}
