//! End-to-end: synthetic raw cube → calibrate → Parquet, read back by pyarrow (an independent
//! implementation) and checked against the calibrator's own output and the generator's NDVI.

mod support;

use std::collections::HashMap;
use std::fs::File;

use arrow_array::{Array, Float32Array, Float64Array, RecordBatch};
use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator};
use hsi_edge::flatten::Profile;
use hsi_edge::flatten::schema::{ID_COLUMNS, band_column_name};
use hsi_edge::process::{self, NoProgress};
use hsi_edge::read;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn read_parquet(path: &std::path::Path) -> Vec<RecordBatch> {
    let f = File::open(path).expect("parquet exists");
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("valid parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

fn i32_col<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow_array::Int32Array {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<arrow_array::Int32Array>()
        .expect("i32")
}

fn f32_col<'a>(b: &'a RecordBatch, name: &str) -> &'a Float32Array {
    b.column_by_name(name)
        .unwrap_or_else(|| panic!("column {name}"))
        .as_any()
        .downcast_ref::<Float32Array>()
        .expect("f32")
}

/// Axis-aligned plot rectangles from the generator's GeoJSON: plot_id → (xmin, xmax, ymin, ymax).
fn plot_boxes(path: &std::path::Path) -> HashMap<String, (f64, f64, f64, f64)> {
    let v: serde_json::Value =
        serde_json::from_reader(File::open(path).expect("geojson")).expect("json");
    let mut out = HashMap::new();
    for f in v["features"].as_array().expect("features") {
        let id = f["properties"]["plot_id"]
            .as_str()
            .expect("plot_id")
            .to_owned();
        let ring = f["geometry"]["coordinates"][0].as_array().expect("ring");
        let xs: Vec<f64> = ring.iter().map(|p| p[0].as_f64().expect("x")).collect();
        let ys: Vec<f64> = ring.iter().map(|p| p[1].as_f64().expect("y")).collect();
        let (xmin, xmax) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let (ymin, ymax) = ys
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &y| (a.min(y), b.max(y)));
        out.insert(id, (xmin, xmax, ymin, ymax));
    }
    out
}

/// Mean per-pixel NDVI (b0800, b0680) per plot, from Parquet batches.
fn ndvi_per_plot(
    batches: &[RecordBatch],
    boxes: &HashMap<String, (f64, f64, f64, f64)>,
) -> HashMap<String, f64> {
    let mut acc: HashMap<String, (f64, usize)> = HashMap::new();
    for b in batches {
        let x = b
            .column_by_name("x")
            .expect("x")
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        let y = b
            .column_by_name("y")
            .expect("y")
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        let nir = f32_col(b, "b0800");
        let red = f32_col(b, "b0680");
        for i in 0..b.num_rows() {
            let (px, py) = (x.value(i), y.value(i));
            for (id, &(x0, x1, y0, y1)) in boxes {
                if px > x0 && px < x1 && py > y0 && py < y1 {
                    let (n, r) = (f64::from(nir.value(i)), f64::from(red.value(i)));
                    let e = acc.entry(id.clone()).or_insert((0.0, 0));
                    e.0 += (n - r) / (n + r);
                    e.1 += 1;
                }
            }
        }
    }
    acc.into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}

fn expected_ndvi(path: &std::path::Path, cube_id: &str) -> HashMap<String, f64> {
    let text = std::fs::read_to_string(path).expect("expected csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .unwrap_or_else(|| panic!("{n} column"))
    };
    let (c_cube, c_plot, c_ndvi) = (col("cube_id"), col("plot_id"), col("ndvi_mean"));
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[c_cube] == cube_id)
        .map(|r| {
            (
                r[c_plot].to_owned(),
                r[c_ndvi].parse::<f64>().expect("ndvi"),
            )
        })
        .collect()
}

#[test]
fn full_profile_round_trips_through_pyarrow_with_exact_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let trial = support::small_trial(&dir.path().join("trial"), 48, 64, true, 1);
    let cube = &trial.cubes[0];
    let out = dir.path().join("out");
    let stats = process::process_file(
        cube,
        &out,
        &Profile::full(),
        &CalibrationConfig::default(),
        &mut CpuCalibrator::default(),
        &mut NoProgress,
    )
    .expect("processing succeeds");
    assert_eq!(stats.rows, 48 * 64);
    assert!(stats.parquet_bytes > 0 && stats.raw_bytes == 48 * 64 * stats_bands(cube) * 2);
    // The stage times are disjoint parts of the run.
    let st = stats.stages;
    assert!(!st.calibrate.is_zero() && !st.encode.is_zero(), "{st:?}");
    assert!(st.read_wait + st.calibrate + st.flatten + st.encode <= stats.elapsed);

    // Reference values straight from the calibrator, bypassing flatten + Parquet.
    let mut reader = read::open(cube).expect("open");
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, &CalibrationConfig::default()).expect("plan");
    let block = reader.read_block(0, info.shape.lines).expect("block");
    let cal = CpuCalibrator::default()
        .calibrate(&plan, &block)
        .expect("calibrate");
    let probes = [(0usize, 0usize), (7, 13), (47, 63), (30, 5)];
    let bands = [
        plan.grid_nm[0],
        680.0,
        800.0,
        *plan.grid_nm.last().expect("grid"),
    ];

    // Rust reader: schema and counts.
    let batches = read_parquet(&stats.output);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(&names[..ID_COLUMNS.len()], &ID_COLUMNS);
    assert_eq!(names.len(), ID_COLUMNS.len() + plan.grid_nm.len());

    let Some(py) = support::python_with_pyarrow() else {
        return;
    };
    let code = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
probes = json.loads(sys.argv[2]); bands = json.loads(sys.argv[3])
d = t.to_pydict()
idx = {(l, s): i for i, (l, s) in enumerate(zip(d["line"], d["sample"]))}
vals = [[d[b][idx[(l, s)]] for b in bands] for l, s in probes]
print(json.dumps({"rows": t.num_rows, "names": t.schema.names, "vals": vals,
                  "cube_id": d["cube_id"][0], "tz": str(t.schema.field("acquisition_time").type),
                  "x0": d["x"][idx[(0, 0)]], "y0": d["y"][idx[(0, 0)]]}))
"#;
    let band_names: Vec<String> = bands.iter().map(|&b| band_column_name(b)).collect();
    let out = support::run_python(
        &py,
        code,
        &[
            stats.output.to_str().expect("utf8"),
            &serde_json::to_string(&probes).expect("json"),
            &serde_json::to_string(&band_names).expect("json"),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("python json");
    assert_eq!(v["rows"], 48 * 64);
    assert_eq!(v["cube_id"], info.header.cube_id.as_str());
    assert_eq!(v["tz"], "timestamp[us, tz=UTC]");
    let (x0, y0) = info.header.map_xy(0.0, 0.0);
    assert!((v["x0"].as_f64().expect("x") - x0).abs() < 1e-9);
    assert!((v["y0"].as_f64().expect("y") - y0).abs() < 1e-9);
    let grid_idx = |nm: f32| {
        plan.grid_nm
            .iter()
            .position(|&g| (g - nm).abs() < 0.5)
            .expect("band in grid")
    };
    for (pi, &(l, s)) in probes.iter().enumerate() {
        for (bi, &nm) in bands.iter().enumerate() {
            let want = cal.data[[l, s, grid_idx(nm)]];
            let got = v["vals"][pi][bi].as_f64().expect("value") as f32;
            assert_eq!(
                got, want,
                "pixel ({l},{s}) band {nm}: pyarrow {got} vs calibrator {want}"
            );
        }
    }
}

fn stats_bands(cube: &std::path::Path) -> u64 {
    read::open(cube).expect("open").info().shape.bands as u64
}

#[test]
fn plot_ndvi_matches_the_generator_and_field_bins_are_means_of_full() {
    let dir = tempfile::tempdir().expect("tmp");
    let trial = support::small_trial(&dir.path().join("trial"), 96, 120, false, 1);
    let cube = &trial.cubes[0];
    let out = dir.path().join("out");
    let run = |p: Profile| {
        process::process_file(
            cube,
            &out,
            &p,
            &CalibrationConfig::default(),
            &mut CpuCalibrator::default(),
            &mut NoProgress,
        )
        .expect("process")
    };
    let full = run(Profile::full());
    let field = run(Profile::field());
    let binned = run(Profile {
        name: "binned".into(),
        binning: 4,
        encoding: Profile::full().encoding, // lossless, so bin means compare tightly
        ..Profile::field()
    });
    assert_eq!(full.rows, 96 * 120);
    assert_eq!(field.rows, 96 * 120);
    assert_eq!(binned.rows, (96 / 4) * (120 / 4));
    assert!(
        field.parquet_bytes * 10 < full.parquet_bytes,
        "field {} vs full {}",
        field.parquet_bytes,
        full.parquet_bytes
    );

    let boxes = plot_boxes(&trial.plots_geojson);
    let cube_id = read::open(cube)
        .expect("open")
        .info()
        .header
        .cube_id
        .clone();
    let expected = expected_ndvi(&trial.expected_csv, &cube_id);
    assert_eq!(expected.len(), boxes.len());
    let got_full = ndvi_per_plot(&read_parquet(&full.output), &boxes);
    let mae = |a: &HashMap<String, f64>| {
        expected.iter().map(|(k, e)| (a[k] - e).abs()).sum::<f64>() / expected.len() as f64
    };
    let mae_full = mae(&got_full);
    assert!(mae_full <= 0.01, "full NDVI MAE vs generator {mae_full}");
    let got_field = ndvi_per_plot(&read_parquet(&field.output), &boxes);
    let mae_field = got_full
        .iter()
        .map(|(k, v)| (got_field[k] - v).abs())
        .sum::<f64>()
        / got_full.len() as f64;
    assert!(
        mae_field <= 0.01,
        "field vs full per-plot NDVI MAE {mae_field}"
    );
    // A 4x4-binned profile is 4x4 bins of the same reflectance: each field value must equal the
    // mean of the 16 full-resolution values of its bin (up to float rounding).
    // Its NDVI differs from the mean of per-pixel NDVI where bins mix crop and soil; that error
    // is measured and reported by scripts/bench/size.sh, not asserted here.
    let full_b = read_parquet(&full.output);
    let field_b = read_parquet(&binned.output);
    let mut sums: HashMap<(i32, i32), [f64; 2]> = HashMap::new();
    for b in &full_b {
        let (l, s) = (i32_col(b, "line"), i32_col(b, "sample"));
        let (red, nir) = (f32_col(b, "b0680"), f32_col(b, "b0800"));
        for i in 0..b.num_rows() {
            let e = sums
                .entry((l.value(i) / 4, s.value(i) / 4))
                .or_insert([0.0; 2]);
            e[0] += f64::from(red.value(i)) / 16.0;
            e[1] += f64::from(nir.value(i)) / 16.0;
        }
    }
    let mut checked = 0;
    for b in &field_b {
        let (l, s) = (i32_col(b, "line"), i32_col(b, "sample"));
        let (red, nir) = (f32_col(b, "b0680"), f32_col(b, "b0800"));
        for i in 0..b.num_rows() {
            let want = sums[&(l.value(i), s.value(i))];
            for (got, want) in [(red.value(i), want[0]), (nir.value(i), want[1])] {
                let rel = ((f64::from(got) - want) / want).abs();
                assert!(
                    rel < 1e-3,
                    "bin ({}, {}): field {got} vs mean of full {want}",
                    l.value(i),
                    s.value(i)
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24 * 30);
}

#[test]
fn cli_processes_good_cubes_and_reports_bad_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let trial = support::small_trial(&dir.path().join("trial"), 24, 32, true, 1);
    let cubes = dir.path().join("trial/cubes");
    std::fs::write(cubes.join("broken.h5"), b"this is not an HDF5 file").expect("write");
    let out = dir.path().join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hsi-edge"))
        .args(["process", "--quiet", "--json", "-o"])
        .arg(&out)
        .arg("-i")
        .arg(&cubes)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("broken.h5"),
        "the error names the bad file: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let v: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("one summary")).expect("json");
    assert_eq!(v["rows"], 24 * 32);
    let good = read::open(&trial.cubes[0])
        .expect("open")
        .info()
        .header
        .cube_id
        .clone();
    assert!(out.join(format!("{good}.full.parquet")).exists());
    assert!(std::fs::read_dir(&out).expect("out").all(|e| {
        !e.expect("entry")
            .path()
            .to_string_lossy()
            .ends_with(".partial")
    }));
}
