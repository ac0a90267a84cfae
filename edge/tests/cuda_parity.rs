//! The CUDA backend against the CPU backend (feature `cuda`).
//!
//! Every test opens a device first; where none can be opened (no driver, no GPU, no NVRTC or
//! cuBLAS) it prints `SKIPPED: no CUDA device (<reason>)` and returns. Otherwise the CUDA
//! output must match the CPU's: identical schema, row count, identity columns and no-data
//! pattern, and band values within 1e-4 absolute for reflectance, 2e-5 relative for DN and
//! radiance. The kernels reproduce the CPU's radiometric and binning arithmetic bit for bit;
//! what remains is the GEMM's summation order (cuBLAS vs matrixmultiply), a few ULP.
#![cfg(feature = "cuda")]

mod support;

use std::path::Path;

use arrow_array::{Array, Float32Array, RecordBatch};
use hsi_edge::calib::cuda::{self, CudaCalibrator, CudaOptions, InputKind};
use hsi_edge::calib::{
    CalibratedBlock, CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator, EmpiricalLine,
    SavGol,
};
use hsi_edge::cube::{
    Bands, CubeHeader, CubeInfo, DataKind, FlatFieldFrames, LineBlock, Radiometry, Shape,
};
use hsi_edge::flatten::schema::band_wavelength;
use hsi_edge::flatten::{BatchSink, Flattener, Pipeline, Profile};
use hsi_edge::process::{self, NoProgress};
use hsi_edge::read;
use ndarray::{Array1, Array2, Array3, s};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn gpu(options: CudaOptions) -> Option<CudaCalibrator> {
    match CudaCalibrator::with_options(options) {
        Ok(c) => Some(c),
        Err(e) => {
            println!("SKIPPED: no CUDA device ({e})");
            None
        }
    }
}

/// Small chunks: several per block, so the slots are reused and blocks are reassembled.
fn small_chunks(pack_u16: bool) -> CudaOptions {
    CudaOptions {
        chunk_bytes: 64 << 10,
        pack_u16,
        ..CudaOptions::default()
    }
}

/// Tolerance for a CPU value: 1e-4 absolute for reflectance, 2e-5 relative otherwise.
fn tolerance(kind: DataKind, cpu: f32) -> f32 {
    match kind {
        DataKind::Reflectance => 1e-4,
        _ => 2e-5 * cpu.abs().max(1.0),
    }
}

/// Compare two calibrated blocks; returns the largest absolute difference.
fn compare_blocks(kind: DataKind, cpu: &CalibratedBlock, gpu: &CalibratedBlock) -> f32 {
    assert_eq!(cpu.first_line, gpu.first_line);
    assert_eq!(cpu.data.dim(), gpu.data.dim());
    let mut max = 0.0f32;
    for (i, (&c, &g)) in cpu.data.iter().zip(gpu.data.iter()).enumerate() {
        assert_eq!(
            c.is_nan(),
            g.is_nan(),
            "no-data differs at flat index {i}: cpu {c}, cuda {g}"
        );
        if c.is_nan() {
            continue;
        }
        let d = (c - g).abs();
        assert!(d <= tolerance(kind, c), "value {i}: cpu {c}, cuda {g}");
        max = max.max(d);
    }
    max
}

/// Compare record batches column by column, whatever their batching; returns the largest
/// band difference.
fn compare_batches(kind: DataKind, cpu: &[RecordBatch], gpu: &[RecordBatch]) -> f32 {
    let rows = |b: &[RecordBatch]| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    assert_eq!(rows(cpu), rows(gpu), "row counts");
    let (Some(c0), Some(g0)) = (cpu.first(), gpu.first()) else {
        return 0.0;
    };
    assert_eq!(c0.schema(), g0.schema(), "schemas");
    // Walk both lists in segments that lie within one batch on each side.
    let (mut ci, mut co, mut gi, mut go) = (0, 0, 0, 0);
    let mut max = 0.0f32;
    while ci < cpu.len() && gi < gpu.len() {
        let (c, g) = (&cpu[ci], &gpu[gi]);
        let len = (c.num_rows() - co).min(g.num_rows() - go);
        for (i, field) in c.schema().fields().iter().enumerate() {
            let (cc, gc) = (c.column(i).slice(co, len), g.column(i).slice(go, len));
            if band_wavelength(field.name()).is_none() {
                assert_eq!(cc.as_ref(), gc.as_ref(), "column {}", field.name());
                continue;
            }
            let f32s = |a: &dyn Array| {
                a.as_any()
                    .downcast_ref::<Float32Array>()
                    .expect("band columns are Float32")
                    .values()
                    .to_vec()
            };
            for (x, y) in f32s(cc.as_ref()).into_iter().zip(f32s(gc.as_ref())) {
                let d = (x - y).abs();
                assert!(
                    d <= tolerance(kind, x),
                    "{}: cpu {x}, cuda {y}",
                    field.name()
                );
                max = max.max(d);
            }
        }
        co += len;
        go += len;
        if co == c.num_rows() {
            (ci, co) = (ci + 1, 0);
        }
        if go == g.num_rows() {
            (gi, go) = (gi + 1, 0);
        }
    }
    max
}

#[derive(Default)]
struct Batches(Vec<RecordBatch>);

impl BatchSink for Batches {
    fn write(&mut self, batch: &RecordBatch) -> hsi_edge::Result<()> {
        self.0.push(batch.clone());
        Ok(())
    }
}

/// `process::run_blocks` on a file into record batches; returns (batches, rows, output kind).
fn pipeline(
    path: &Path,
    cfg: &CalibrationConfig,
    calibrator: &mut dyn Calibrator,
) -> (Vec<RecordBatch>, u64, DataKind) {
    let mut reader = read::open(path).expect("open");
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, cfg).expect("plan");
    let flattener = Flattener::new(&info.header, &plan, Pipeline::Edge, None);
    let mut sink = Batches::default();
    let rows = process::run_blocks(
        reader.as_mut(),
        &plan,
        calibrator,
        &flattener,
        &mut sink,
        &mut NoProgress,
    )
    .expect("run_blocks");
    (sink.0, rows, plan.output_kind())
}

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).expect("parquet exists");
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("valid parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

#[test]
fn synthetic_cube_to_parquet_matches_the_cpu() {
    let Some(mut cuda) = gpu(CudaOptions::default()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let trial = support::small_trial(&dir.path().join("trial"), 48, 64, true, 1);
    let cube = &trial.cubes[0];
    let run = |out: &str, c: &mut dyn Calibrator| {
        process::process_file(
            cube,
            &dir.path().join(out),
            &Profile::full(),
            &CalibrationConfig::default(),
            c,
            &mut NoProgress,
        )
        .expect("process")
    };
    let cpu = run("cpu", &mut CpuCalibrator::new());
    let gpu = run("cuda", &mut cuda);
    assert_eq!(gpu.calibrator, "cuda");
    assert_eq!((cpu.rows, gpu.rows), (48 * 64, 48 * 64));
    let (cb, gb) = (read_parquet(&cpu.output), read_parquet(&gpu.output));
    let max = compare_batches(DataKind::Reflectance, &cb, &gb);
    println!("synthetic 48×64: max |cpu − cuda| = {max:e}");

    // The streamed pipeline gives the same batches as the CPU's block pipeline.
    let (want, want_rows, _) = pipeline(
        cube,
        &CalibrationConfig::default(),
        &mut CpuCalibrator::new(),
    );
    let mut reader = read::open(cube).expect("open");
    let info = reader.info().clone();
    let plan = CalibrationPlan::build(&info, &CalibrationConfig::default()).expect("plan");
    let flattener = Flattener::new(&info.header, &plan, Pipeline::Edge, None);
    let mut sink = Batches::default();
    let rows = cuda::run_blocks(
        reader.as_mut(),
        &plan,
        &mut cuda,
        &flattener,
        &mut sink,
        &mut NoProgress,
    )
    .expect("streamed run");
    assert_eq!((rows, want_rows), (cpu.rows, cpu.rows));
    compare_batches(DataKind::Reflectance, &want, &sink.0);
}

/// Calibrate `info`'s cube (`block` is all of it) in blocks of `step` lines with both backends.
fn compare_in_blocks(
    info: &CubeInfo,
    block: &LineBlock,
    cfg: &CalibrationConfig,
    step: usize,
    cuda: &mut CudaCalibrator,
) -> f32 {
    let plan = CalibrationPlan::build(info, cfg).expect("plan");
    let lines = info.shape.lines;
    let blocks: Vec<LineBlock> = (0..lines)
        .step_by(step)
        .map(|first| LineBlock {
            first_line: first,
            data: block
                .data
                .slice(s![first..(first + step).min(lines), .., ..])
                .to_owned(),
        })
        .collect();
    let mut cpu = CpuCalibrator::new();
    let want: Vec<CalibratedBlock> = blocks
        .iter()
        .map(|b| cpu.calibrate(&plan, b).expect("cpu"))
        .collect();
    let mut max = 0.0f32;
    for (b, w) in blocks.iter().zip(&want) {
        let got = cuda.calibrate(&plan, b).expect("cuda");
        max = max.max(compare_blocks(plan.output_kind(), w, &got));
    }
    let mut streamed = vec![];
    let n = cuda
        .calibrate_stream(&plan, blocks.iter().cloned().map(Ok), |b| {
            streamed.push(b);
            Ok(())
        })
        .expect("stream");
    assert_eq!(n as usize, blocks.len());
    assert_eq!(streamed.len(), want.len());
    for (w, g) in want.iter().zip(&streamed) {
        max = max.max(compare_blocks(plan.output_kind(), w, g));
    }
    max
}

#[test]
fn binning_smoothing_and_partial_bins_match_the_cpu() {
    let dir = tempfile::tempdir().expect("tmp");
    // 37 × 45: neither a multiple of 2 nor of 3, so the last bins are partial.
    let trial = support::small_trial(&dir.path().join("trial"), 37, 45, true, 1);
    let mut reader = read::open(&trial.cubes[0]).expect("open");
    let info = reader.info().clone();
    let block = reader.read_block(0, info.shape.lines).expect("read");
    let configs = [
        CalibrationConfig::default(),
        CalibrationConfig {
            binning: 2,
            ..CalibrationConfig::default()
        },
        CalibrationConfig {
            binning: 3,
            savgol: Some(SavGol {
                window: 7,
                order: 2,
            }),
            ..CalibrationConfig::default()
        },
        CalibrationConfig {
            empirical_line: Some(EmpiricalLine {
                wavelength_nm: vec![400.0, 2500.0],
                gain: vec![1.02, 0.97],
                offset: vec![0.01, -0.005],
            }),
            band_subset_nm: Some(vec![550.0, 680.0, 800.0, 1650.0]),
            binning: 2,
            ..CalibrationConfig::default()
        },
    ];
    for pack in [true, false] {
        let Some(mut cuda) = gpu(small_chunks(pack)) else {
            return;
        };
        for cfg in &configs {
            let max = compare_in_blocks(&info, &block, cfg, 12, &mut cuda);
            println!(
                "k={} pack_u16={pack}: max |cpu − cuda| = {max:e}",
                cfg.binning
            );
        }
    }
}

/// A hand-made raw cube with fill pixels (every band 0) and NaN/inf pixels.
fn nodata_cube() -> (CubeInfo, LineBlock) {
    let (lines, samples, bands) = (9, 7, 60);
    let wavelength_nm: Vec<f32> = (0..bands).map(|b| 400.0 + 10.0 * b as f32).collect();
    let dark = Array2::from_shape_fn((samples, bands), |(s, b)| 100.0 + (s * 3 + b % 5) as f32);
    let white = Array2::from_shape_fn((samples, bands), |(s, b)| {
        dark[[s, b]] + 4000.0 + 37.0 * ((s * 7 + b) % 11) as f32
    });
    let mut data = Array3::from_shape_fn((lines, samples, bands), |(l, s, b)| {
        (dark[[s, b]] + 1500.0 + 13.0 * ((l * 5 + s * 3 + b) % 17) as f32).round()
    });
    // Fill pixels, including a whole 2×2 bin (lines 2–3, samples 2–3) and an edge pixel.
    for (l, s) in [(2, 2), (2, 3), (3, 2), (3, 3), (8, 6), (0, 5)] {
        data.slice_mut(s![l, s, ..]).fill(0.0);
    }
    // Non-finite input in one kept band: those pixels are no-data too.
    data[[5, 1, 10]] = f32::NAN;
    data[[6, 4, 30]] = f32::INFINITY;
    let info = CubeInfo {
        path: "nodata.h5".into(),
        header: CubeHeader::from_file_stem(Path::new("nodata.h5")),
        shape: Shape {
            lines,
            samples,
            bands,
        },
        bands: Bands {
            wavelength_nm,
            fwhm_nm: Some(vec![10.0; bands]),
            good: None,
        },
        kind: DataKind::RawDn,
        ignore_value: Some(0.0),
        radiometry: Some(Radiometry::FlatField(FlatFieldFrames {
            dark,
            white,
            panel_reflectance: Array1::from_elem(bands, 0.98),
        })),
        raw_bytes: (lines * samples * bands * 2) as u64,
        format: "hand-made".into(),
    };
    (
        info,
        LineBlock {
            first_line: 0,
            data,
        },
    )
}

#[test]
fn nodata_pixels_and_bins_match_the_cpu() {
    let (info, block) = nodata_cube();
    for pack in [true, false] {
        let Some(mut cuda) = gpu(small_chunks(pack)) else {
            return;
        };
        for k in [1, 2, 3] {
            let cfg = CalibrationConfig {
                binning: k,
                ..CalibrationConfig::default()
            };
            compare_in_blocks(&info, &block, &cfg, 6, &mut cuda);
        }
        // The whole-bin fill at k = 2 is NaN on the device too; its neighbours are not.
        let cfg = CalibrationConfig {
            binning: 2,
            ..CalibrationConfig::default()
        };
        let plan = CalibrationPlan::build(&info, &cfg).expect("plan");
        let out = cuda.calibrate(&plan, &block).expect("cuda");
        assert!(out.data.slice(s![1, 1, ..]).iter().all(|v| v.is_nan()));
        assert!(out.data.slice(s![1, 0, ..]).iter().all(|v| v.is_finite()));
    }
}

fn envi(stem: &str) -> std::path::PathBuf {
    hsi_edge::testdata::shared_file(format!("envi/{stem}.hdr")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn real_envi_chips_match_the_cpu() {
    let Some(mut cuda) = gpu(CudaOptions::default()) else {
        return;
    };
    let chips = [
        "ang20140912t192359_corr_v1c_img_2580-2590_540-550",
        "ang20140912t192359_corr_v1c_img_400-410_10-20",
        "ang20150420t182808_corr_v1e_img_4200-4210_70-80",
        "ang20150422t163638_corr_v1e_img_4000-4010_550-560",
        "ang20150422t163638_corr_v1e_img_987_654",
        "f080702t01p00r08rdn_c_sc01_ort_img_123_456",
    ];
    let cfg = CalibrationConfig::default();
    for chip in chips {
        let path = envi(chip);
        let (cb, cpu_rows, kind) = pipeline(&path, &cfg, &mut CpuCalibrator::new());
        let (gb, gpu_rows, _) = pipeline(&path, &cfg, &mut cuda);
        assert_eq!(cpu_rows, gpu_rows, "{chip}");
        let max = compare_batches(kind, &cb, &gb);
        println!("{chip}: {cpu_rows} rows, max |cpu − cuda| = {max:e}");
    }
    // Reflectance is fractional: it travels as f32.
    let mut reader = read::open(&envi(chips[0])).expect("open");
    let plan = CalibrationPlan::build(reader.info(), &cfg).expect("plan");
    let block = reader.read_block(0, 10).expect("read");
    let profile = cuda.profile(&plan, &block, 2).expect("profile");
    assert_eq!(profile.input, InputKind::F32);
    assert_eq!((profile.pixels, profile.bands), (100, 432));
}

#[test]
fn corn_kernel_raw_dn_matches_the_cpu() {
    let Some(mut cuda) = gpu(CudaOptions::default()) else {
        return;
    };
    let path = envi("corn-kernel-hyperspectral");
    let cfg = CalibrationConfig {
        allow_uncalibrated_dn: true,
        ..CalibrationConfig::default()
    };
    let (cb, cpu_rows, kind) = pipeline(&path, &cfg, &mut CpuCalibrator::new());
    let (gb, gpu_rows, _) = pipeline(&path, &cfg, &mut cuda);
    assert_eq!(kind, DataKind::RawDn);
    assert_eq!((cpu_rows, gpu_rows), (31 * 43, 31 * 43));
    let max = compare_batches(kind, &cb, &gb);
    println!("corn kernel: max |cpu − cuda| = {max:e} DN");
    // u16 DN travel packed.
    let mut reader = read::open(&path).expect("open");
    let plan = CalibrationPlan::build(reader.info(), &cfg).expect("plan");
    let block = reader.read_block(0, 31).expect("read");
    let profile = cuda.profile(&plan, &block, 3).expect("profile");
    assert_eq!(profile.input, InputKind::U16);
    assert_eq!((profile.pixels, profile.rows), (31 * 43, 31 * 43));
    assert!(profile.calibrate_ms > 0.0 && profile.gemm_ms > 0.0);
    assert!(profile.calibrate_bandwidth() > 0.0 && profile.gemm_rate() > 0.0);
}

#[test]
fn bad_blocks_are_refused_like_on_the_cpu() {
    let Some(mut cuda) = gpu(CudaOptions::default()) else {
        return;
    };
    let (info, block) = nodata_cube();
    let cfg = CalibrationConfig {
        binning: 2,
        ..CalibrationConfig::default()
    };
    let plan = CalibrationPlan::build(&info, &cfg).expect("plan");
    let misaligned = LineBlock {
        first_line: 1,
        data: block.data.slice(s![1..5, .., ..]).to_owned(),
    };
    let wrong_bands = LineBlock {
        first_line: 0,
        data: block.data.slice(s![0..2, .., 0..50]).to_owned(),
    };
    for bad in [misaligned, wrong_bands] {
        let c = CpuCalibrator::new()
            .calibrate(&plan, &bad)
            .expect_err("cpu refuses");
        let g = cuda.calibrate(&plan, &bad).expect_err("cuda refuses");
        assert_eq!(c.to_string(), g.to_string());
    }
    // A stream stops at the first error, and the calibrator stays usable.
    let blocks = vec![
        Ok(LineBlock {
            first_line: 0,
            data: block.data.slice(s![0..4, .., ..]).to_owned(),
        }),
        Err(hsi_edge::Error::invalid("x.h5", "/cube", "truncated")),
    ];
    let mut delivered = 0;
    let e = cuda
        .calibrate_stream(&plan, blocks, |_| {
            delivered += 1;
            Ok(())
        })
        .expect_err("the reader's error comes through");
    assert!(e.to_string().contains("truncated"), "{e}");
    assert!(delivered <= 1);
    let again = cuda
        .calibrate(&plan, &block)
        .expect("usable after an error");
    let want = CpuCalibrator::new().calibrate(&plan, &block).expect("cpu");
    compare_blocks(plan.output_kind(), &want, &again);
}
