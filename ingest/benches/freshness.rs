//! Freshness of streamed data: the time from a cube landing on the equipment to its rows being
//! visible in Gold, through the real processes (tansu, `hsi-edge run`, `hsi-ingest stream`
//! with its Gold refresh), at the default commit interval (5 s) and the default Gold refresh
//! interval (10 s). Reports p50 and p95 over `BENCH_CUBES` cubes (default 12), with the
//! landing → Silver part beside it. Issue 8's goal: p95 ≤ 30 s.
//!
//! ```text
//! HSI_TANSU=~/.cache/hsi/tansu-0.6.0/bin/tansu cargo bench -p hsi-ingest --bench freshness
//! BENCH_CUBES=20 BENCH_LINES=256 BENCH_SAMPLES=320 cargo bench -p hsi-ingest --bench freshness
//! ```
//!
//! Cubes (synthetic, one trial, one per day) land one at a time, each after the previous one
//! reached Gold plus a random 0–3 s, so each measurement sees the commit and refresh timers at
//! a random phase. "Visible" means a plain scan of `gold.plot_indices` (and of Silver) returns
//! rows for the cube's date, polled every 100 ms. Under `cargo test --all-targets` (no
//! `--bench` argument, no `HSI_BENCH_RUN`) nothing runs: it needs a broker and takes minutes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use futures::TryStreamExt;
use hsi_edge::testkit::Tansu;
use hsi_lakehouse::pipeline::{reference, tables};
use hsi_lakehouse::{LakehouseConfig, open_catalog};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Rows of `table` whose `column` (a date or timestamp) falls on `day` (days since epoch).
async fn rows_on(warehouse: &Path, table: &iceberg::TableIdent, column: &str, day: i32) -> usize {
    use arrow_array::Array;
    let Ok(catalog) = open_catalog(&LakehouseConfig::local(warehouse)).await else {
        return 0;
    };
    let Ok(t) = catalog.load_table(table).await else {
        return 0;
    };
    if t.metadata().current_snapshot_id().is_none() {
        return 0;
    }
    let Ok(scan) = t.scan().select([column]).build() else {
        return 0;
    };
    let Ok(stream) = scan.to_arrow().await else {
        return 0;
    };
    let batches: Vec<arrow_array::RecordBatch> = stream.try_collect().await.unwrap_or_default();
    let mut n = 0;
    for b in &batches {
        let c = b.column(0);
        if let Some(d) = c.as_any().downcast_ref::<arrow_array::Date32Array>() {
            n += (0..d.len()).filter(|&i| d.value(i) == day).count();
        } else if let Some(ts) = c
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
        {
            n += (0..ts.len())
                .filter(|&i| ts.value(i).div_euclid(86_400_000_000) as i32 == day)
                .count();
        }
    }
    n
}

fn spawn(cmd: &mut Command, log: &Path) -> Child {
    let f = std::fs::File::create(log).expect("log");
    cmd.stdout(Stdio::null())
        .stderr(f)
        .spawn()
        .expect("spawn process")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") && std::env::var_os("HSI_BENCH_RUN").is_none() {
        return;
    }
    let n = env_usize("BENCH_CUBES", 12);
    let lines = env_usize("BENCH_LINES", 128);
    let samples = env_usize("BENCH_SAMPLES", 160);
    let Some(tansu) = Tansu::start("freshness") else {
        eprintln!("SKIPPED: freshness bench needs tansu (HSI_TANSU)");
        return;
    };
    tansu.create_topic("hsi.silver.v1", 3).expect("topic");
    tansu.create_topic("hsi.silver.v1.dlq", 1).expect("dlq");
    let edge = Path::new(env!("CARGO_BIN_EXE_hsi-ingest")).with_file_name("hsi-edge");
    assert!(edge.exists(), "build hsi-edge in the same profile first");
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // Cubes: one trial, one per day.
    let spectra = hsi_edge::testdata::usgs_spectra().expect("spectra");
    let base = Utc
        .with_ymd_and_hms(2024, 5, 1, 16, 0, 0)
        .single()
        .expect("time");
    let mut cubes: Vec<(PathBuf, i32)> = Vec::new();
    let mut refs = None;
    for k in 0..n {
        let cfg = hsi_edge::synth::SynthConfig {
            lines,
            samples,
            plot_rows: 3,
            plot_cols: 4,
            n_cubes: 1,
            acquisition_time: base + chrono::Duration::days(k as i64),
            ..hsi_edge::synth::SynthConfig::default()
        };
        let out =
            hsi_edge::synth::generate(&cfg, &spectra, &root.join(format!("t{k}"))).expect("synth");
        let day = cfg.acquisition_time.timestamp().div_euclid(86_400) as i32;
        cubes.push((out.cubes[0].clone(), day));
        refs.get_or_insert((out.plots_geojson, out.yields_csv));
    }
    let (plots, yields) = refs.expect("refs");
    let warehouse = root.join("warehouse");
    std::fs::create_dir_all(&warehouse).expect("mkdir");
    rt.block_on(async {
        let c = open_catalog(&LakehouseConfig::local(&warehouse))
            .await
            .expect("catalog");
        tables::init_all(c.as_ref()).await.expect("init");
        reference::load(c.as_ref(), &plots, &yields)
            .await
            .expect("refs");
    });

    let landing = root.join("landing");
    std::fs::create_dir_all(&landing).expect("mkdir");
    let edge_cfg = root.join("edge.toml");
    std::fs::write(
        &edge_cfg,
        format!(
            "[landing]\ndir = \"{}\"\npoll_interval = \"200ms\"\nsettle = \"0s\"\n\
             [outbox]\ndir = \"{r}/outbox\"\n[state]\ndir = \"{r}/state\"\n\
             [processing]\nprofile = \"field\"\ndevice = \"cpu\"\n\
             [kafka]\nbootstrap = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            landing.display(),
            tansu.bootstrap(),
            r = root.display()
        ),
    )
    .expect("edge config");
    let ingest_cfg = root.join("ingest.toml");
    std::fs::write(
        &ingest_cfg,
        format!(
            "[lakehouse]\nwarehouse = \"{}\"\n[stream]\nbrokers = \"{}\"\nassignment = \"manual\"\n",
            warehouse.display(),
            tansu.bootstrap()
        ),
    )
    .expect("ingest config");
    let mut daemon = spawn(
        Command::new(&edge)
            .args(["run", "--config"])
            .arg(&edge_cfg)
            .env("RUST_LOG", "warn"),
        &root.join("edge.log"),
    );
    let mut stream = spawn(
        Command::new(env!("CARGO_BIN_EXE_hsi-ingest"))
            .arg("--config")
            .arg(&ingest_cfg)
            .arg("stream")
            .env("RUST_LOG", "warn"),
        &root.join("stream.log"),
    );

    let silver = hsi_lakehouse::table::silver_reflectance();
    let gold = tables::plot_indices();
    let mut to_silver = Vec::new();
    let mut to_gold = Vec::new();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for (k, (cube, day)) in cubes.iter().enumerate() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(rng % 3000));
        let name = cube.file_name().expect("name");
        let partial = landing.join(format!("{}.partial", name.to_string_lossy()));
        std::fs::copy(cube, &partial).expect("copy");
        let t0 = Instant::now();
        std::fs::rename(&partial, landing.join(name)).expect("land");
        let mut silver_at = None;
        loop {
            if t0.elapsed() > Duration::from_secs(300) {
                panic!("cube {k} not in Gold after 300 s; see {}", root.display());
            }
            if silver_at.is_none()
                && rt.block_on(rows_on(&warehouse, &silver, "acquisition_time", *day)) > 0
            {
                silver_at = Some(t0.elapsed());
            }
            if rt.block_on(rows_on(&warehouse, &gold, "acquisition_date", *day)) > 0 {
                let g = t0.elapsed();
                to_silver.push(silver_at.unwrap_or(g).as_secs_f64());
                to_gold.push(g.as_secs_f64());
                eprintln!(
                    "cube {k}: Silver after {:.1} s, Gold after {:.1} s",
                    silver_at.unwrap_or(g).as_secs_f64(),
                    g.as_secs_f64()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = daemon.kill();
    let _ = stream.kill();
    let _ = daemon.wait();
    let _ = stream.wait();
    to_silver.sort_by(f64::total_cmp);
    to_gold.sort_by(f64::total_cmp);
    println!(
        "freshness over {n} cubes of {lines}x{samples} (field profile, commit 5 s, Gold refresh 10 s):"
    );
    println!(
        "  landing -> Silver: p50 {:.1} s, p95 {:.1} s",
        percentile(&to_silver, 0.5),
        percentile(&to_silver, 0.95)
    );
    println!(
        "  landing -> Gold:   p50 {:.1} s, p95 {:.1} s  (goal: p95 <= 30 s)",
        percentile(&to_gold, 0.5),
        percentile(&to_gold, 0.95)
    );
}
