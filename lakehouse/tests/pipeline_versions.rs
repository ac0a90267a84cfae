//! The identity and version model end to end through the local pipeline, read back by
//! pyiceberg with plain scans (what a user sees):
//!
//! - a later date added to a season: Gold holds exactly one row per key
//!   (`gold.breeding_decisions` per trial, season and line; `gold.plot_indices` per plot and
//!   date; `gold.row_period_indices` per crop, farm, field, row and week), each with its
//!   lineage (Silver snapshot, time);
//! - a cube reprocessed with a new calibration: Silver holds only the new version, Gold
//!   counts each pixel once and points at the new Silver snapshot, and time travel still
//!   shows the old version;
//! - a different capture reusing a cube id is refused with both digests, not skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::synth::{self, SynthConfig};
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::{self, CubeStatus, RunInputs};
use hsi_lakehouse::{LakehouseConfig, open_catalog};
use serde_json::Value;

const LINES: usize = 64;
const SAMPLES: usize = 90;

fn python() -> Option<String> {
    let py = std::env::var("HSI_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pyiceberg, pyarrow, sqlalchemy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let msg =
        format!("SKIPPED: {py} cannot import pyiceberg (run `eval \"$(scripts/bootstrap.sh)\"`)");
    if std::env::var_os("HSI_REQUIRE_PYTHON").is_some() {
        panic!("{msg} and HSI_REQUIRE_PYTHON is set");
    }
    eprintln!("{msg}");
    None
}

/// Plain scans of every Gold table and of Silver, plus Silver at an older snapshot.
const ORACLE: &str = r##"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
old = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
cat = SqlCatalog("hsi", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}")
out = {}
for name in ["gold.plot_indices", "gold.row_period_indices", "gold.breeding_decisions", "silver.reflectance"]:
    t = cat.load_table(name)
    cols = None if name != "silver.reflectance" else ("cube_id", "line", "sample", "pipeline", "calibration_version")
    a = (t.scan(selected_fields=cols) if cols else t.scan()).to_arrow()
    out[name] = a.to_pydict()
    out[name + "#snapshot"] = t.metadata.current_snapshot_id
    out[name + "#ops"] = [s.summary.operation.value for s in t.snapshots()]
if old is not None:
    t = cat.load_table("silver.reflectance")
    a = t.scan(snapshot_id=old, selected_fields=("cube_id", "calibration_version")).to_arrow()
    out["silver_old"] = a.to_pydict()
print(json.dumps(out, default=str))
"##;

fn oracle(py: &str, warehouse: &Path, old_silver: Option<i64>) -> Value {
    let out = Command::new(py)
        .arg("-c")
        .arg(ORACLE)
        .arg(warehouse)
        .arg(old_silver.map(|s| s.to_string()).unwrap_or_default())
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pyiceberg oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn column<'a>(v: &'a Value, table: &str, col: &str) -> &'a Vec<Value> {
    v[table][col]
        .as_array()
        .unwrap_or_else(|| panic!("{table}.{col} missing: {}", v[table]))
}

/// Every key of `cols` appears exactly once in `table`; returns the number of rows.
fn assert_one_row_per_key(v: &Value, table: &str, cols: &[&str]) -> usize {
    let n = column(v, table, cols[0]).len();
    let mut seen = BTreeMap::new();
    for i in 0..n {
        let key: Vec<String> = cols
            .iter()
            .map(|c| column(v, table, c)[i].to_string())
            .collect();
        *seen.entry(key).or_insert(0) += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dup.is_empty(), "{table}: duplicate keys {dup:?}");
    n
}

#[tokio::test(flavor = "multi_thread")]
async fn refreshes_replace_gold_and_recalibration_replaces_silver() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SynthConfig {
        lines: LINES,
        samples: SAMPLES,
        plot_rows: 2,
        plot_cols: 3,
        n_cubes: 2,
        ..SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared data");
    let trial = synth::generate(&cfg, &spectra, &dir.path().join("trial")).expect("synth");
    let warehouse = dir.path().join("warehouse");
    std::fs::create_dir_all(&warehouse).expect("mkdir");
    let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
        .await
        .expect("catalog");
    let rules = BreedingRules::embedded().expect("rules");
    let zarr_root = warehouse.join("bronze_zarr");
    let run = |cubes: Vec<std::path::PathBuf>, calibration: CalibrationConfig| {
        let catalog = catalog.clone();
        let zarr_root = zarr_root.clone();
        let rules = rules.clone();
        let inputs = RunInputs {
            cubes,
            plots: trial.plots_geojson.clone(),
            yields: trial.yields_csv.clone(),
        };
        async move {
            pipeline::run_local(
                catalog.as_ref(),
                &zarr_root,
                &inputs,
                &calibration,
                &mut CpuCalibrator::default(),
                &rules,
            )
            .await
            .expect("run")
        }
    };

    // Day 1, then day 2 added to the same season (what a new user did: 48 rows for 24 lines).
    let first = run(vec![trial.cubes[0].clone()], CalibrationConfig::default()).await;
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    let second = run(trial.cubes.clone(), CalibrationConfig::default()).await;
    assert!(second.failed.is_empty(), "{:?}", second.failed);
    assert_eq!(second.cubes[0].status, CubeStatus::Skipped);
    let lines_decided = second.gold.as_ref().expect("gold").decisions.len();
    assert!(lines_decided > 0);

    let Some(py) = python() else { return };
    let v = oracle(&py, &warehouse, None);
    let decisions = assert_one_row_per_key(
        &v,
        "gold.breeding_decisions",
        &["trial_id", "season", "line_id"],
    );
    assert_eq!(
        decisions, lines_decided,
        "one decision per line, not one per refresh"
    );
    let plots = assert_one_row_per_key(
        &v,
        "gold.plot_indices",
        &["farm_id", "field_id", "plot_id", "acquisition_date"],
    );
    assert_eq!(plots, 6 * 2, "6 plots on 2 dates");
    assert_one_row_per_key(
        &v,
        "gold.row_period_indices",
        &["crop", "farm_id", "field_id", "row", "week_start"],
    );
    // Lineage: every decision names the Silver snapshot it came from and when.
    let silver_now = v["silver.reflectance#snapshot"]
        .as_i64()
        .expect("silver snapshot");
    for (table, time) in [
        ("gold.breeding_decisions", "decided_at"),
        ("gold.plot_indices", "computed_at"),
        ("gold.row_period_indices", "computed_at"),
    ] {
        assert!(
            column(&v, table, time).iter().all(|t| !t.is_null()),
            "{table}.{time}"
        );
        assert!(
            column(&v, table, "silver_snapshot_id")
                .iter()
                .all(|s| s.is_i64())
        );
    }
    assert!(
        column(&v, "gold.breeding_decisions", "silver_snapshot_id")
            .iter()
            .all(|s| s.as_i64() == Some(silver_now)),
        "decisions come from the current Silver snapshot"
    );
    assert!(
        v["gold.breeding_decisions#ops"]
            .as_array()
            .expect("ops")
            .iter()
            .any(|o| o == "overwrite"),
        "the second refresh replaced the first one's decisions"
    );
    let pixel_counts_before: BTreeMap<String, i64> = pixel_counts(&v);

    // Reprocess every cube with a new calibration (same maths, new version).
    let recal = CalibrationConfig {
        name: "recalibrated".into(),
        ..CalibrationConfig::default()
    };
    let third = run(trial.cubes.clone(), recal).await;
    assert!(third.failed.is_empty(), "{:?}", third.failed);
    assert!(
        third
            .cubes
            .iter()
            .all(|c| matches!(c.status, CubeStatus::Ingested { .. })),
        "{:?}",
        third.cubes
    );
    let new_version = third.cubes[0].calibration_version.clone();
    let v2 = oracle(&py, &warehouse, Some(silver_now));
    // Silver: only the new version, each pixel once.
    let versions: BTreeSet<String> = column(&v2, "silver.reflectance", "calibration_version")
        .iter()
        .map(|x| x.as_str().expect("str").to_owned())
        .collect();
    assert_eq!(versions, BTreeSet::from([new_version.clone()]));
    assert_one_row_per_key(&v2, "silver.reflectance", &["cube_id", "line", "sample"]);
    assert_eq!(
        column(&v2, "silver.reflectance", "cube_id").len(),
        2 * LINES * SAMPLES
    );
    // Time travel still shows the old version.
    let old_versions: BTreeSet<String> = v2["silver_old"]["calibration_version"]
        .as_array()
        .expect("old")
        .iter()
        .map(|x| x.as_str().expect("str").to_owned())
        .collect();
    assert_eq!(old_versions.len(), 1);
    assert_ne!(old_versions.into_iter().next(), Some(new_version));
    assert_eq!(
        v2["silver_old"]["cube_id"].as_array().expect("old").len(),
        2 * LINES * SAMPLES
    );
    // Gold: the same pixel counts (not doubled), from the new Silver snapshot, one row per key.
    assert_eq!(pixel_counts(&v2), pixel_counts_before);
    let silver_new = v2["silver.reflectance#snapshot"]
        .as_i64()
        .expect("snapshot");
    assert!(
        column(&v2, "gold.plot_indices", "silver_snapshot_id")
            .iter()
            .all(|s| s.as_i64() == Some(silver_new))
    );
    assert_one_row_per_key(
        &v2,
        "gold.breeding_decisions",
        &["trial_id", "season", "line_id"],
    );
    assert_one_row_per_key(
        &v2,
        "gold.plot_indices",
        &["farm_id", "field_id", "plot_id", "acquisition_date"],
    );
}

fn pixel_counts(v: &Value) -> BTreeMap<String, i64> {
    let plots = column(v, "gold.plot_indices", "plot_id");
    let dates = column(v, "gold.plot_indices", "acquisition_date");
    let counts = column(v, "gold.plot_indices", "pixel_count");
    (0..plots.len())
        .map(|i| {
            (
                format!("{}@{}", plots[i], dates[i]),
                counts[i].as_i64().expect("count"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_cube_id_with_other_content_is_refused_not_skipped() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SynthConfig {
        lines: 24,
        samples: 30,
        plot_rows: 2,
        plot_cols: 2,
        n_cubes: 2,
        ..SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared data");
    let trial = synth::generate(&cfg, &spectra, &dir.path().join("trial")).expect("synth");
    let warehouse = dir.path().join("warehouse");
    std::fs::create_dir_all(&warehouse).expect("mkdir");
    let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
        .await
        .expect("catalog");
    let rules = BreedingRules::embedded().expect("rules");
    let inputs = RunInputs {
        cubes: vec![trial.cubes[0].clone()],
        plots: trial.plots_geojson.clone(),
        yields: trial.yields_csv.clone(),
    };
    let calibration = CalibrationConfig::default();
    let zarr_root = warehouse.join("bronze_zarr");
    let first = pipeline::run_local(
        catalog.as_ref(),
        &zarr_root,
        &inputs,
        &calibration,
        &mut CpuCalibrator::default(),
        &rules,
    )
    .await
    .expect("run");
    assert!(first.failed.is_empty());

    // A different capture carrying the first cube's id: the same trial layout with another
    // seed (same ids, other pixels).
    let other = synth::generate(
        &SynthConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        },
        &spectra,
        &dir.path().join("other"),
    )
    .expect("synth");
    let impostor = dir.path().join("impostor.h5");
    std::fs::copy(&other.cubes[0], &impostor).expect("copy");
    let id = hsi_edge::read::open(&trial.cubes[0])
        .expect("open")
        .info()
        .header
        .cube_id
        .clone();
    let other_id = hsi_edge::read::open(&impostor)
        .expect("open")
        .info()
        .header
        .cube_id
        .clone();
    assert_eq!(id, other_id, "same id");
    let again = pipeline::run_local(
        catalog.as_ref(),
        &zarr_root,
        &RunInputs {
            cubes: vec![impostor.clone()],
            ..inputs
        },
        &calibration,
        &mut CpuCalibrator::default(),
        &rules,
    )
    .await
    .expect("run");
    assert_eq!(again.failed.len(), 1, "{:?}", again.cubes);
    let reason = &again.failed[0].1;
    assert!(
        reason.contains(&id) && reason.contains("sha256") && reason.contains("impostor.h5"),
        "{reason}"
    );
}

/// A Silver commit whose Gold refresh never ran (the process died in between, or a Batch
/// retry skipped every cube) stays pending in the tables, and the next refresh of anything
/// does it.
#[tokio::test(flavor = "multi_thread")]
async fn a_silver_commit_without_its_refresh_stays_pending_until_the_next_refresh() {
    use hsi_lakehouse::pipeline::gold::{pending_partitions, refresh};
    use hsi_lakehouse::pipeline::{ingest, reference};
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = SynthConfig {
        lines: 24,
        samples: 30,
        plot_rows: 2,
        plot_cols: 2,
        n_cubes: 2,
        ..SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared data");
    let trial = synth::generate(&cfg, &spectra, &dir.path().join("trial")).expect("synth");
    let warehouse = dir.path().join("warehouse");
    std::fs::create_dir_all(&warehouse).expect("mkdir");
    let catalog = open_catalog(&LakehouseConfig::local(&warehouse))
        .await
        .expect("catalog");
    let rules = BreedingRules::embedded().expect("rules");
    let zarr_root = warehouse.join("bronze_zarr");
    let inputs = RunInputs {
        cubes: vec![trial.cubes[0].clone()],
        plots: trial.plots_geojson.clone(),
        yields: trial.yields_csv.clone(),
    };
    let calibration = CalibrationConfig::default();
    pipeline::run_local(
        catalog.as_ref(),
        &zarr_root,
        &inputs,
        &calibration,
        &mut CpuCalibrator::default(),
        &rules,
    )
    .await
    .expect("run");
    assert!(
        pending_partitions(catalog.as_ref())
            .await
            .expect("pending")
            .touched
            .is_empty(),
        "a finished run leaves nothing pending"
    );

    // Cube 2 reaches Silver, and the process "dies" before refreshing Gold.
    let out = ingest::ingest_cube(
        catalog.as_ref(),
        &zarr_root,
        &trial.cubes[1],
        &calibration,
        &mut CpuCalibrator::default(),
    )
    .await
    .expect("ingest");
    let pending = pending_partitions(catalog.as_ref()).await.expect("pending");
    assert_eq!(
        pending.touched, out.touched,
        "exactly cube 2's partition is pending"
    );

    // Any later refresh, even one with nothing of its own to do, carries it into Gold.
    let refs = reference::load(catalog.as_ref(), &inputs.plots, &inputs.yields)
        .await
        .expect("refs");
    let g = refresh(
        catalog.as_ref(),
        &BTreeSet::new(),
        &refs.plots,
        &refs.yields,
        &rules,
    )
    .await
    .expect("refresh");
    assert_eq!(g.partitions, 1);
    assert_eq!(g.plot_rows, 4, "4 plots on cube 2's date");
    assert_eq!(g.current_plot_rows.len(), 8, "4 plots on 2 dates");
    assert!(
        pending_partitions(catalog.as_ref())
            .await
            .expect("pending")
            .touched
            .is_empty()
    );
}
