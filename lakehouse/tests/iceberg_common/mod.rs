//! Shared fixtures of the `iceberg_*` tests: a temp warehouse, hand-made Silver batches and
//! the pyiceberg oracle (`tests/py/iceberg_read.py`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use chrono::{DateTime, TimeZone, Utc};
use hsi_edge::flatten::schema::{band_column_name, silver_schema};
use hsi_lakehouse::LakeCatalog;
use hsi_lakehouse::catalog::{LakehouseConfig, Warehouse};
use serde_json::Value;

/// A throwaway warehouse with its SQLite catalog.
pub struct Lake {
    pub dir: tempfile::TempDir,
    pub cfg: LakehouseConfig,
    pub catalog: Arc<dyn LakeCatalog>,
    pub root: PathBuf,
}

impl Lake {
    pub async fn new() -> Lake {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = LakehouseConfig::local(dir.path().join("warehouse"));
        let catalog = hsi_lakehouse::open_catalog(&cfg)
            .await
            .expect("open catalog");
        let Warehouse::Local(root) = cfg.resolve_warehouse().expect("warehouse") else {
            panic!("local warehouse expected")
        };
        Lake {
            dir,
            cfg,
            catalog,
            root,
        }
    }

    pub fn catalog(&self) -> &dyn LakeCatalog {
        self.catalog.as_ref()
    }

    /// The SQLAlchemy URI pyiceberg needs for the same SQLite file.
    pub fn sqlalchemy_uri(&self) -> String {
        format!("sqlite:///{}", self.root.join("catalog.db").display())
    }
}

/// One synthetic cube of Silver rows.
#[derive(Debug, Clone)]
pub struct TestCube {
    pub index: u32,
    pub cube_id: String,
    pub farm_id: String,
    pub field_id: String,
    pub sensor_id: String,
    pub acquisition_time: DateTime<Utc>,
    pub lines: i32,
    pub samples: i32,
    pub calibration_version: String,
}

pub fn day1() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 14, 10, 30, 0)
        .single()
        .expect("valid date")
}

pub fn day2() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 7, 15, 11, 0, 0)
        .single()
        .expect("valid date")
}

/// Three cubes: two farms, two days (farm-a on both days, farm-b on day 1).
pub fn three_cubes() -> Vec<TestCube> {
    vec![
        cube(1, "C1", "farm-a", day1(), 3, 4),
        cube(2, "C2", "farm-a", day2(), 2, 5),
        cube(3, "C3", "farm-b", day1(), 4, 2),
    ]
}

pub fn cube(
    index: u32,
    id: &str,
    farm: &str,
    t: DateTime<Utc>,
    lines: i32,
    samples: i32,
) -> TestCube {
    TestCube {
        index,
        cube_id: id.to_owned(),
        farm_id: farm.to_owned(),
        field_id: format!("{farm}-f1"),
        sensor_id: "vnir-1".to_owned(),
        acquisition_time: t,
        lines,
        samples,
        calibration_version: "cal-v1".to_owned(),
    }
}

/// The reflectance of pixel (line, sample) of cube `index` at band `nm` — a deterministic
/// formula the tests use both to build batches and to check what readers return.
pub fn reflectance(index: u32, line: i32, sample: i32, nm: f32) -> f32 {
    0.01 * (index as f32) + 0.001 * (line as f32) + 0.0001 * (sample as f32) + nm / 10_000.0
}

/// Map x of a pixel (hand-made geotransform: 500000 + 0.5 m per sample).
pub fn map_x(sample: i32) -> f64 {
    500_000.0 + 0.5 * sample as f64
}

/// Map y of a pixel (4_000_000 − 0.5 m per line).
pub fn map_y(line: i32) -> f64 {
    4_000_000.0 - 0.5 * line as f64
}

/// All pixels of `cube`, row-major, in the Silver schema for `grid`.
pub fn silver_batch(cube: &TestCube, grid: &[f32]) -> RecordBatch {
    let n = (cube.lines * cube.samples) as usize;
    let mut lines = Vec::with_capacity(n);
    let mut samples = Vec::with_capacity(n);
    for l in 0..cube.lines {
        for s in 0..cube.samples {
            lines.push(l);
            samples.push(s);
        }
    }
    let rep = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let mut columns: Vec<ArrayRef> = vec![
        rep(&cube.cube_id),
        rep(&cube.farm_id),
        rep(&cube.field_id),
        rep(&cube.sensor_id),
        Arc::new(
            TimestampMicrosecondArray::from(vec![cube.acquisition_time.timestamp_micros(); n])
                .with_timezone("UTC"),
        ),
        Arc::new(Int32Array::from(lines.clone())),
        Arc::new(Int32Array::from(samples.clone())),
        Arc::new(Float64Array::from(
            samples.iter().map(|&s| map_x(s)).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            lines.iter().map(|&l| map_y(l)).collect::<Vec<_>>(),
        )),
        rep("batch"),
        rep(&cube.calibration_version),
    ];
    for &nm in grid {
        let v: Vec<f32> = lines
            .iter()
            .zip(&samples)
            .map(|(&l, &s)| reflectance(cube.index, l, s, nm))
            .collect();
        columns.push(Arc::new(Float32Array::from(v)));
    }
    RecordBatch::try_new(silver_schema(grid), columns).expect("silver batch")
}

/// 400, 410, …, 1000 nm.
pub fn vnir_grid() -> Vec<f32> {
    (0..=60).map(|i| 400.0 + 10.0 * i as f32).collect()
}

pub fn band(nm: f32) -> String {
    band_column_name(nm)
}

pub fn total_rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// The Python interpreter with pyiceberg, or `None` (after printing `SKIPPED: …`) when it is
/// unavailable and `HSI_REQUIRE_PYTHON` is unset.
pub fn python(test: &str) -> Option<String> {
    let python = std::env::var("HSI_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let ok = Command::new(&python)
        .args(["-c", "import pyiceberg, pyarrow, sqlalchemy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(python);
    }
    let msg = format!("{python} cannot import pyiceberg/pyarrow/sqlalchemy (set HSI_PYTHON)");
    if std::env::var_os("HSI_REQUIRE_PYTHON").is_some() {
        panic!("{test}: {msg}");
    }
    eprintln!("SKIPPED: {test}: pyiceberg checks skipped: {msg}");
    None
}

/// Run `tests/py/iceberg_read.py` for `table` with extra `args`; the parsed JSON.
pub fn pyiceberg_read(python: &str, lake: &Lake, table: &str, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/iceberg_read.py");
    let warehouse = lake.cfg.resolve_warehouse().expect("warehouse").location();
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--uri",
            &lake.sqlalchemy_uri(),
            "--warehouse",
            &warehouse,
            "--table",
            table,
        ])
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed on {table}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("pyiceberg JSON")
}

/// `json[key]` as a list of f32 (from pyiceberg's float output).
pub fn f32s(v: &Value) -> Vec<Option<f32>> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

pub fn i64s(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect()
}

pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().expect("str").to_owned())
        .collect()
}
