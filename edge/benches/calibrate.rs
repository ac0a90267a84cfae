//! Calibration throughput on one core, in bytes of raw u16 input per second.
//!
//! A 64-line × 512-sample × 224-band block of u16-like DN (AVIRIS-like band centres
//! 400–2500 nm, flat field with per-detector dark/white frames, default bad bands and 10 nm
//! grid), through:
//! - `radiometric_pass`: the fused flat field + bad-band gather into `[pixels, kept]`;
//! - `resample_gemm`: the `[pixels, kept] · [kept, grid]` GEMM alone;
//! - `calibrate`: the whole `CpuCalibrator::calibrate` (k = 1, and k = 2 binning), and at k = 1
//!   with the dense-GEMM reference (`CpuCalibrator::dense`) beside the blocked product;
//! - `calibrate_k1_u16`: k = 1 from the u16 block as the HDF5 reader hands it over
//!   (`calibrate_stored`, converted in the kernel).
//!
//! Run: `cargo bench -p hsi-edge --bench calibrate` (well under 2 minutes).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator};
use hsi_edge::cube::{
    Bands, CubeHeader, CubeInfo, DataKind, FlatFieldFrames, LineBlock, Radiometry, Shape,
    StoredBlock,
};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array3};

const LINES: usize = 64;
const SAMPLES: usize = 512;
const BANDS: usize = 224;

/// A small deterministic generator (no dependency on `rand` for reproducible inputs).
struct Lcg(u64);

impl Lcg {
    fn next_unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn fixture() -> (CubeInfo, LineBlock) {
    let mut rng = Lcg(42);
    let wavelength_nm: Vec<f32> = (0..BANDS)
        .map(|b| 400.0 + b as f32 * (2100.0 / (BANDS - 1) as f32))
        .collect();
    let dark = Array2::from_shape_fn((SAMPLES, BANDS), |_| 900.0 + 200.0 * rng.next_unit());
    let white = Array2::from_shape_fn((SAMPLES, BANDS), |(s, b)| {
        dark[[s, b]] + 20_000.0 + 10_000.0 * rng.next_unit()
    });
    let data = Array3::from_shape_fn((LINES, SAMPLES, BANDS), |(_, s, b)| {
        // Whole numbers in the u16 range, between dark and white.
        (dark[[s, b]] + (white[[s, b]] - dark[[s, b]]) * rng.next_unit()).round()
    });
    let info = CubeInfo {
        path: PathBuf::from("bench.h5"),
        header: CubeHeader::from_file_stem(Path::new("bench.h5")),
        shape: Shape {
            lines: LINES,
            samples: SAMPLES,
            bands: BANDS,
        },
        bands: Bands {
            wavelength_nm,
            fwhm_nm: Some(vec![10.0; BANDS]),
            good: None,
        },
        kind: DataKind::RawDn,
        ignore_value: Some(0.0),
        radiometry: Some(Radiometry::FlatField(FlatFieldFrames {
            dark,
            white,
            panel_reflectance: Array1::from_elem(BANDS, 0.99),
        })),
        raw_bytes: (LINES * SAMPLES * BANDS * 2) as u64,
        format: "synthetic".into(),
    };
    (
        info,
        LineBlock {
            first_line: 0,
            data,
        },
    )
}

fn benches(c: &mut Criterion) {
    let (info, block) = fixture();
    let plan = CalibrationPlan::build(&info, &CalibrationConfig::default()).expect("plan");
    let binned = CalibrationPlan::build(
        &info,
        &CalibrationConfig {
            binning: 2,
            ..CalibrationConfig::default()
        },
    )
    .expect("plan");
    let raw_bytes = (LINES * SAMPLES * BANDS * std::mem::size_of::<u16>()) as u64;

    let mut group = c.benchmark_group("calibrate");
    group
        .throughput(Throughput::Bytes(raw_bytes))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let mut cpu = CpuCalibrator::default();
    group.bench_function("radiometric_pass", |b| {
        b.iter(|| {
            let (m, valid) = cpu
                .radiometric_pass(&plan, black_box(&block))
                .expect("pass");
            black_box((m[[0, 0]], valid.len()))
        })
    });

    let gathered = cpu
        .radiometric_pass(&plan, &block)
        .expect("pass")
        .0
        .to_owned();
    let spectral = plan.spectral_matrix();
    let mut out = Array2::<f32>::zeros((gathered.nrows(), spectral.ncols()));
    group.bench_function("resample_gemm", |b| {
        b.iter(|| {
            general_mat_mul(1.0, black_box(&gathered), spectral, 0.0, &mut out);
            black_box(out[[0, 0]])
        })
    });

    group.bench_function("calibrate_k1", |b| {
        b.iter(|| black_box(cpu.calibrate(&plan, black_box(&block)).expect("calibrate")))
    });
    // The same block as the u16 the HDF5 reader hands over (`read_block_stored`): converted
    // inside the kernel, no `f32` copy of the block.
    let stored = StoredBlock::U16 {
        first_line: 0,
        data: block.data.mapv(|v| v as u16).into_shared(),
    };
    group.bench_function("calibrate_k1_u16", |b| {
        b.iter(|| {
            black_box(
                cpu.calibrate_stored(&plan, black_box(&stored))
                    .expect("calibrate"),
            )
        })
    });
    // The blocked GEMM (session 3's default), then the whole dense matrix (zeros included):
    // the baselines of the sparse band-major product.
    let mut blocked = CpuCalibrator::blocked();
    group.bench_function("calibrate_k1_blocked_gemm", |b| {
        b.iter(|| {
            black_box(
                blocked
                    .calibrate(&plan, black_box(&block))
                    .expect("calibrate"),
            )
        })
    });
    let mut dense = CpuCalibrator::dense();
    group.bench_function("calibrate_k1_dense_gemm", |b| {
        b.iter(|| {
            black_box(
                dense
                    .calibrate(&plan, black_box(&block))
                    .expect("calibrate"),
            )
        })
    });
    group.bench_function("calibrate_k2", |b| {
        b.iter(|| {
            black_box(
                cpu.calibrate(&binned, black_box(&block))
                    .expect("calibrate"),
            )
        })
    });
    group.finish();

    eprintln!(
        "block {LINES}×{SAMPLES}×{BANDS}: {} kept bands → {} grid bands ({} GEMM MFLOP at k = 1)",
        plan.kept_bands().len(),
        plan.grid_nm.len(),
        2 * LINES * SAMPLES * plan.kept_bands().len() * plan.grid_nm.len() / 1_000_000
    );
    let (blocked, full) =
        hsi_edge::calib::blocks::work_per_pixel(plan.spectral_blocks(), plan.spectral_matrix());
    eprintln!(
        "blocked GEMM: {} blocks, {blocked} of {full} multiply-adds per pixel ({:.1}× fewer)",
        plan.spectral_blocks().len(),
        full as f64 / blocked.max(1) as f64
    );
    let (taps, _) = plan.spectral_taps().work_per_pixel();
    eprintln!(
        "sparse product: {taps} of {full} multiply-adds per pixel ({:.1}× fewer)",
        full as f64 / taps.max(1) as f64
    );
}

criterion_group!(calibrate, benches);
criterion_main!(calibrate);
