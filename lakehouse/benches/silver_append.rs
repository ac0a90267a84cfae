//! Silver append throughput: hsi-lakehouse (iceberg-rust writer stack) vs pyiceberg
//! `table.append(pa_table)`, same Arrow data, same kind of table (Silver schema, partitioned by
//! `identity(farm_id)`, `day(acquisition_time)`, SQLite catalog, local warehouse).
//!
//! ```text
//! cargo bench -p hsi-lakehouse --bench silver_append
//! BENCH_ROWS=200000 BENCH_REPS=3 HSI_PYTHON=.../python cargo bench -p hsi-lakehouse --bench silver_append
//! ```
//!
//! The data: `BENCH_ROWS` pixels (default 200 000) × 61 VNIR bands, four cubes over two farms
//! and two days, in (cube, line, sample) order as the edge produces it. It is also written to a
//! Parquet file that the Python side loads (untimed) before timing `append`. Each side appends
//! `BENCH_REPS` times into its own fresh warehouse; the median is reported. Throughput is
//! rows/s and MB/s of the Arrow data (in-memory size of the batches, identical for both).
//! The pyiceberg side runs when `HSI_PYTHON` (default `python3`) imports pyiceberg and
//! pyiceberg-core (needed for its partitioned writes). Under `cargo test --all-targets` (no
//! `--bench` argument) the bench only does a 4 000-row smoke run of the Rust side.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use chrono::{TimeZone, Utc};
use hsi_edge::flatten::schema::silver_schema;
use hsi_lakehouse::catalog::Warehouse;
use hsi_lakehouse::table::{self, default_vnir_grid, silver_reflectance};
use hsi_lakehouse::{LakehouseConfig, open_catalog};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One cube of `lines × samples` pixels.
fn cube_batch(
    index: usize,
    farm: &str,
    day: u32,
    lines: usize,
    samples: usize,
    grid: &[f32],
) -> RecordBatch {
    let n = lines * samples;
    let t = Utc
        .with_ymd_and_hms(2025, 7, day, 10, 0, 0)
        .single()
        .map(|t| t.timestamp_micros())
        .unwrap_or(0);
    let rep = |v: String| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let line: Vec<i32> = (0..n).map(|i| (i / samples) as i32).collect();
    let sample: Vec<i32> = (0..n).map(|i| (i % samples) as i32).collect();
    let mut cols: Vec<ArrayRef> = vec![
        rep(format!("cube-{index:04}")),
        rep(farm.to_owned()),
        rep(format!("{farm}-field-1")),
        rep("vnir-1".to_owned()),
        Arc::new(TimestampMicrosecondArray::from(vec![t; n]).with_timezone("UTC")),
        Arc::new(Int32Array::from(line.clone())),
        Arc::new(Int32Array::from(sample.clone())),
        Arc::new(Float64Array::from(
            sample
                .iter()
                .map(|&s| 500_000.0 + 0.5 * s as f64)
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            line.iter()
                .map(|&l| 4_000_000.0 - 0.5 * l as f64)
                .collect::<Vec<_>>(),
        )),
        rep("batch".to_owned()),
        rep("cal-bench".to_owned()),
    ];
    for (b, _) in grid.iter().enumerate() {
        // A smooth spectrum with some spatial texture, like calibrated reflectance.
        let v: Vec<f32> = (0..n)
            .map(|i| {
                let (l, s) = (line[i] as f32, sample[i] as f32);
                0.05 + 0.4 * (b as f32 / grid.len() as f32)
                    + 0.01 * ((l * 0.37).sin() + (s * 0.23).cos())
            })
            .collect();
        cols.push(Arc::new(Float32Array::from(v)));
    }
    match RecordBatch::try_new(silver_schema(grid), cols) {
        Ok(b) => b,
        Err(e) => panic!("bench batch: {e}"),
    }
}

/// Bytes of the Parquet data files under `dir` (recursively).
fn parquet_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                parquet_bytes(&p)
            } else if p.extension().is_some_and(|x| x == "parquet") {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            }
        })
        .sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

async fn fresh_lake(dir: &Path) -> (LakehouseConfig, Arc<dyn hsi_lakehouse::LakeCatalog>) {
    let cfg = LakehouseConfig::local(dir);
    let catalog = open_catalog(&cfg)
        .await
        .unwrap_or_else(|e| panic!("open catalog: {e}"));
    table::init(catalog.as_ref())
        .await
        .unwrap_or_else(|e| panic!("init: {e}"));
    (cfg, catalog)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; under `cargo test --all-targets` this is a smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let rows = if smoke {
        4_000
    } else {
        env_usize("BENCH_ROWS", 200_000)
    };
    let reps = if smoke {
        1
    } else {
        env_usize("BENCH_REPS", 3).max(1)
    };
    let grid = default_vnir_grid();
    let samples = 500;
    let lines_per_cube = (rows / 4).div_ceil(samples);
    let cubes: Vec<RecordBatch> = [
        ("farm-a", 14),
        ("farm-a", 15),
        ("farm-b", 14),
        ("farm-b", 15),
    ]
    .iter()
    .enumerate()
    .map(|(i, (farm, day))| cube_batch(i, farm, *day, lines_per_cube, samples, &grid))
    .collect();
    // Arrow bytes of the data, measured before slicing (slices share their cube's buffers).
    let bytes: usize = cubes.iter().map(|b| b.get_array_memory_size()).sum();
    // Edge-sized batches: 64 lines each.
    let step = 64 * samples;
    let batches: Vec<RecordBatch> = cubes
        .iter()
        .flat_map(|cube| {
            (0..cube.num_rows())
                .step_by(step)
                .map(move |off| cube.slice(off, step.min(cube.num_rows() - off)))
        })
        .collect();
    let total_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mb = bytes as f64 / 1e6;
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    eprintln!(
        "data: {total_rows} rows x {} bands, {mb:.1} MB of Arrow data, {} batches",
        grid.len(),
        batches.len()
    );

    // Parquet copy for the Python side.
    let parquet_path = tmp.path().join("silver_bench.parquet");
    {
        let file =
            std::fs::File::create(&parquet_path).unwrap_or_else(|e| panic!("create parquet: {e}"));
        let mut w = parquet::arrow::ArrowWriter::try_new(file, silver_schema(&grid), None)
            .unwrap_or_else(|e| panic!("parquet writer: {e}"));
        for b in &batches {
            w.write(b).unwrap_or_else(|e| panic!("write parquet: {e}"));
        }
        w.close().unwrap_or_else(|e| panic!("close parquet: {e}"));
    }

    // Rust.
    let (_cfg, catalog) = fresh_lake(&tmp.path().join("rust")).await;
    let mut rust_s = Vec::new();
    for rep in 0..reps {
        let t0 = Instant::now();
        let props = BTreeMap::from([("hsi.bench.rep".to_owned(), rep.to_string())]);
        table::append_batches(catalog.as_ref(), &silver_reflectance(), &batches, props)
            .await
            .unwrap_or_else(|e| panic!("append: {e}"));
        rust_s.push(t0.elapsed().as_secs_f64());
    }
    let r = median(rust_s.clone());
    println!(
        "hsi-lakehouse (iceberg-rust 0.10): median {r:.3} s  {:>10.0} rows/s  {:>7.1} MB/s  (runs: {rust_s:.3?})",
        total_rows as f64 / r,
        mb / r
    );

    // pyiceberg.
    let python = std::env::var("HSI_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    if smoke {
        println!("pyiceberg: not run in smoke mode (use cargo bench)");
        return;
    }
    let has_pyiceberg = Command::new(&python)
        .args([
            "-c",
            "import pyiceberg, pyiceberg_core, pyarrow, sqlalchemy",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_pyiceberg {
        println!(
            "pyiceberg: SKIPPED ({python} cannot import pyiceberg + pyiceberg_core; set HSI_PYTHON)"
        );
        return;
    }
    let py_dir = tmp.path().join("py");
    let (cfg, _catalog) = fresh_lake(&py_dir).await;
    let Ok(Warehouse::Local(root)) = cfg.resolve_warehouse() else {
        panic!("local warehouse expected")
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/silver_append_pyiceberg.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg("--parquet")
        .arg(&parquet_path)
        .args([
            "--uri",
            &format!("sqlite:///{}", root.join("catalog.db").display()),
        ])
        .args(["--warehouse", &format!("file://{}", root.display())])
        .args(["--reps", &reps.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    if !out.status.success() {
        panic!(
            "pyiceberg bench failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let j: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("python output: {e}"));
    let py_s: Vec<f64> = j["seconds"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    let p = median(py_s.clone());
    println!(
        "pyiceberg {}:               median {p:.3} s  {:>10.0} rows/s  {:>7.1} MB/s  (runs: {py_s:.3?})",
        j["pyiceberg"].as_str().unwrap_or("?"),
        total_rows as f64 / p,
        mb / p
    );
    println!("ratio (pyiceberg time / hsi-lakehouse time): {:.2}x", p / r);
    let per_rep =
        |dir: &Path| parquet_bytes(&dir.join("silver/reflectance/data")) as f64 / reps as f64 / 1e6;
    println!(
        "Parquet written per append: hsi-lakehouse {:.1} MB (ZSTD(1), BYTE_STREAM_SPLIT floats), pyiceberg {:.1} MB (its defaults)",
        per_rep(&tmp.path().join("rust")),
        per_rep(&py_dir)
    );
}
