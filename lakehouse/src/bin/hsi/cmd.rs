//! Subcommands of `hsi`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use arrow_array::RecordBatch;
use hsi_edge::calib::{CalibrationConfig, CpuCalibrator};
use hsi_edge::synth::{self, SynthConfig};
use hsi_lakehouse::breeding::BreedingRules;
use hsi_lakehouse::pipeline::{self, CubeStatus, RunInputs, RunSummary};
use hsi_lakehouse::snapshots::{self, AsOf};
use hsi_lakehouse::{LakehouseConfig, open_catalog, table};

use crate::cli::{Cli, Command, RunArgs, ScanArgs};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cfg = LakehouseConfig {
        catalog_uri: cli.catalog_uri.clone().unwrap_or_default(),
        warehouse: cli.warehouse.clone(),
        s3: None,
    };
    match cli.command {
        Command::Run(args) => run_pipeline(&cfg, args).await,
        Command::Init => {
            let catalog = open_catalog(&cfg).await?;
            pipeline::tables::init_all(catalog.as_ref()).await?;
            println!("initialised {}", cfg.warehouse);
            Ok(ExitCode::SUCCESS)
        }
        Command::Snapshots { table } => list_snapshots(&cfg, &table).await,
        Command::Scan(args) => scan(&cfg, args).await,
        Command::Rollback { table, to } => {
            let catalog = open_catalog(&cfg).await?;
            let ident = parse_ident(&table)?;
            snapshots::rollback(catalog.as_ref(), &ident, to).await?;
            println!("{table}: main now points at snapshot {to}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_ident(name: &str) -> anyhow::Result<iceberg::TableIdent> {
    let (ns, t) = name.split_once('.').with_context(|| {
        format!("table `{name}` must be NAMESPACE.TABLE, e.g. silver.reflectance")
    })?;
    Ok(table::ident(ns, t))
}

async fn run_pipeline(cfg: &LakehouseConfig, args: RunArgs) -> anyhow::Result<ExitCode> {
    let inputs = match &args.cubes {
        Some(dir) => RunInputs {
            cubes: list_cubes(dir)?,
            plots: args
                .plots
                .clone()
                .context("--plots FILE is required with --cubes")?,
            yields: args
                .yields
                .clone()
                .context("--yields FILE is required with --cubes")?,
        },
        None => {
            let dir = args.trial_dir.clone().unwrap_or_else(|| {
                Path::new(&cfg.warehouse)
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("hsi-trial")
            });
            let mut sc = SynthConfig::with_target_bytes(SynthConfig::parse_size(&args.synth_size)?);
            sc.n_cubes = args.synth_cubes.max(1);
            println!("synthesising a field trial in {} ...", dir.display());
            let out = synth::generate(&sc, &hsi_edge::testdata::usgs_spectra()?, &dir)?;
            RunInputs {
                cubes: out.cubes,
                plots: out.plots_geojson,
                yields: out.yields_csv,
            }
        }
    };
    let calibration = match &args.calibration {
        Some(p) => CalibrationConfig::from_toml_file(p)?,
        None => CalibrationConfig::default(),
    };
    let rules = match &args.rules {
        Some(p) => BreedingRules::from_file(p)?,
        None => BreedingRules::embedded()?,
    };
    std::fs::create_dir_all(&cfg.warehouse)
        .with_context(|| format!("creating warehouse {}", cfg.warehouse))?;
    let catalog = open_catalog(cfg).await?;
    let zarr_root = Path::new(&cfg.warehouse).join("bronze_zarr");
    println!(
        "processing {} cube(s) into {} ...",
        inputs.cubes.len(),
        cfg.warehouse
    );
    let mut bars = crate::progress::RunBars::new();
    let summary = pipeline::run_local_with_progress(
        catalog.as_ref(),
        &zarr_root,
        &inputs,
        &calibration,
        &mut CpuCalibrator::default(),
        &rules,
        &mut bars,
    )
    .await?;
    drop(bars);
    print_summary(cfg, &summary, &rules);
    Ok(if summary.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn list_cubes(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| hsi_edge::read::is_cube_file(p))
        .collect();
    v.sort();
    Ok(v)
}

fn print_summary(cfg: &LakehouseConfig, s: &RunSummary, rules: &BreedingRules) {
    println!("\ncubes:");
    for c in &s.cubes {
        match &c.status {
            CubeStatus::Skipped => println!(
                "  {:<24} skipped (already in bronze.cubes at {})",
                c.cube_id, c.calibration_version
            ),
            CubeStatus::Ingested {
                rows,
                silver_snapshot_id,
            } => println!(
                "  {:<24} {rows:>9} Silver rows  snapshot {}  ({})",
                c.cube_id,
                silver_snapshot_id
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
                c.calibration_version
            ),
        }
    }
    for (p, e) in &s.failed {
        println!("  FAILED {}: {e}", p.display());
    }
    let Some(g) = &s.gold else { return };
    let plots: std::collections::BTreeSet<_> =
        g.current_plot_rows.iter().map(|r| &r.plot_id).collect();
    println!(
        "\nGold: {} plots, {} plot-dates ({} recomputed from {} partition(s))",
        plots.len(),
        g.current_plot_rows.len(),
        g.plot_rows,
        g.partitions
    );
    let mut by_line: BTreeMap<&str, (f64, usize, bool)> = BTreeMap::new();
    for r in &g.current_plot_rows {
        if let Some(v) = r.ndvi_mean {
            let e = by_line.entry(&r.line_id).or_insert((0.0, 0, r.is_check));
            e.0 += v;
            e.1 += 1;
        }
    }
    println!(
        "\n{:<14} {:>6} {:>10}   {:<8} reasons",
        "line", "check", "mean NDVI", "decision"
    );
    let decisions: BTreeMap<&str, _> = g
        .decisions
        .iter()
        .map(|d| (d.line_id.as_str(), d))
        .collect();
    for (line, (sum, n, check)) in &by_line {
        let (dec, why) = decisions
            .get(line)
            .map(|d| (d.decision.as_str(), d.reasons.join("; ")))
            .unwrap_or(("-", String::new()));
        println!(
            "{line:<14} {:>6} {:>10.3}   {dec:<8} {why}",
            if *check { "yes" } else { "" },
            sum / *n as f64
        );
    }
    println!(
        "\nrules version {}; warehouse {} (catalog: {})",
        rules.rules_version,
        cfg.warehouse,
        if cfg.catalog_uri.is_empty() {
            format!("sqlite://{}/catalog.db", cfg.warehouse)
        } else {
            cfg.catalog_uri.clone()
        }
    );
}

async fn list_snapshots(cfg: &LakehouseConfig, name: &str) -> anyhow::Result<ExitCode> {
    let catalog = open_catalog(cfg).await?;
    let t = catalog
        .load_table(&parse_ident(name)?)
        .await
        .with_context(|| format!("loading {name}"))?;
    for s in snapshots::list_snapshots(&t) {
        println!("{}", serde_json::to_string(&s)?);
    }
    Ok(ExitCode::SUCCESS)
}

async fn scan(cfg: &LakehouseConfig, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let catalog = open_catalog(cfg).await?;
    let t = catalog
        .load_table(&parse_ident(&args.table)?)
        .await
        .with_context(|| format!("loading {}", args.table))?;
    let as_of = match (args.as_of_snapshot, &args.as_of_time) {
        (Some(id), _) => AsOf::Snapshot(id),
        (None, Some(ts)) => AsOf::Timestamp(
            chrono::DateTime::parse_from_rfc3339(ts)
                .with_context(|| format!("--as-of-time {ts} is not RFC 3339"))?
                .timestamp_millis(),
        ),
        (None, None) => match t.metadata().current_snapshot_id() {
            Some(id) => AsOf::Snapshot(id),
            None => {
                println!("{}: no snapshots (empty table)", args.table);
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let batches: Vec<RecordBatch> = snapshots::scan_at(&t, as_of).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!("{}: {rows} rows", args.table);
    if let Some(b) = batches.first() {
        let head = b.slice(0, args.limit.min(b.num_rows()));
        println!("{}", arrow_cast::pretty::pretty_format_batches(&[head])?);
    }
    Ok(ExitCode::SUCCESS)
}
