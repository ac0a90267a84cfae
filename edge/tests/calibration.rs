//! Calibration against hand-computed values (DESIGN §5).

use std::path::{Path, PathBuf};

use hsi_edge::Error;
use hsi_edge::calib::{
    CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator, EmpiricalLine, Grid,
    RadiometricMode, SavGol, badbands, savgol,
};
use hsi_edge::cube::{
    Bands, CubeHeader, CubeInfo, DataKind, FlatFieldFrames, GainFrames, LineBlock, Radiometry,
    Shape, StoredBlock,
};
use ndarray::{Array1, Array2, Array3, ShapeBuilder, s};

// ---------------------------------------------------------------------------------------------
// Helpers

fn info(lines: usize, samples: usize, wavelength_nm: Vec<f32>, kind: DataKind) -> CubeInfo {
    let bands = wavelength_nm.len();
    CubeInfo {
        path: PathBuf::from("/data/cube-7.h5"),
        header: CubeHeader::from_file_stem(Path::new("/data/cube-7.h5")),
        shape: Shape {
            lines,
            samples,
            bands,
        },
        bands: Bands {
            wavelength_nm,
            fwhm_nm: None,
            good: None,
        },
        kind,
        ignore_value: None,
        radiometry: None,
        raw_bytes: (lines * samples * bands * 2) as u64,
        format: "test".into(),
    }
}

/// A grid with one output band per input band at 500, 600, 700, 800 nm: with FWHM 10 nm each
/// output band sees exactly one input band (the next is 100 nm ≫ 3σ away), so outputs equal
/// the calibrated inputs.
fn identity_grid_cfg() -> CalibrationConfig {
    CalibrationConfig {
        grid: Grid {
            start_nm: Some(500.0),
            end_nm: Some(800.0),
            step_nm: 100.0,
            fwhm_nm: Some(10.0),
        },
        ..CalibrationConfig::default()
    }
}

const FOUR_BANDS: [f32; 4] = [500.0, 600.0, 700.0, 800.0];

fn block(first_line: usize, data: Array3<f32>) -> LineBlock {
    LineBlock { first_line, data }
}

fn calibrate(plan: &CalibrationPlan, b: &LineBlock) -> Array3<f32> {
    CpuCalibrator::default()
        .calibrate(plan, b)
        .expect("calibration succeeds")
        .data
}

fn assert_close(actual: f32, expected: f64, tol: f64, what: &str) {
    assert!(
        (f64::from(actual) - expected).abs() <= tol,
        "{what}: got {actual}, expected {expected}"
    );
}

/// The flat-field fixture: dark = 100 + 10·s, white − dark = 1000·(b+1), panel per band,
/// DN = dark + 100·(3·l + s + 1). So R = panel(b) · 100·(3l+s+1) / (1000·(b+1)).
fn flat_field_fixture() -> (CubeInfo, LineBlock) {
    let (lines, samples) = (2, 3);
    let mut i = info(lines, samples, FOUR_BANDS.to_vec(), DataKind::RawDn);
    let dark = Array2::from_shape_fn((samples, 4), |(s, _)| 100.0 + 10.0 * s as f32);
    let white = Array2::from_shape_fn((samples, 4), |(s, b)| {
        100.0 + 10.0 * s as f32 + 1000.0 * (b as f32 + 1.0)
    });
    let panel = Array1::from(vec![0.5, 0.99, 0.9, 0.8]);
    i.radiometry = Some(Radiometry::FlatField(FlatFieldFrames {
        dark,
        white,
        panel_reflectance: panel,
    }));
    let data = Array3::from_shape_fn((lines, samples, 4), |(l, s, _)| {
        100.0 + 10.0 * s as f32 + 100.0 * (3 * l + s + 1) as f32
    });
    (i, block(0, data))
}

// ---------------------------------------------------------------------------------------------
// Radiometric

#[test]
fn flat_field_gives_exact_reflectance() {
    let (info, b) = flat_field_fixture();
    let plan = CalibrationPlan::build(&info, &identity_grid_cfg()).expect("plan");
    assert_eq!(plan.mode(), RadiometricMode::FlatField);
    assert_eq!(plan.output_kind(), DataKind::Reflectance);
    assert_eq!(plan.grid_nm, FOUR_BANDS.to_vec());
    let out = calibrate(&plan, &b);
    assert_eq!(out.dim(), (2, 3, 4));
    // Spelled out: R[0,0,0] = 0.5·100/1000; R[1,2,3] = 0.8·600/4000; R[0,1,1] = 0.99·200/2000.
    assert_close(out[[0, 0, 0]], 0.05, 1e-6, "R[0,0,0]");
    assert_close(out[[1, 2, 3]], 0.12, 1e-6, "R[1,2,3]");
    assert_close(out[[0, 1, 1]], 0.099, 1e-6, "R[0,1,1]");
    let panel = [0.5, 0.99, 0.9, 0.8];
    for ((l, s, b), &v) in out.indexed_iter() {
        let expected = panel[b] * 100.0 * (3 * l + s + 1) as f64 / (1000.0 * (b + 1) as f64);
        assert_close(v, expected, 1e-6, &format!("R[{l},{s},{b}]"));
    }
}

#[test]
fn gain_mode_gives_radiance() {
    let (lines, samples) = (2, 3);
    let mut i = info(lines, samples, FOUR_BANDS.to_vec(), DataKind::RawDn);
    i.radiometry = Some(Radiometry::Gain(GainFrames {
        dark: Array2::from_elem((samples, 4), 50.0),
        gain: Array2::from_shape_fn((samples, 4), |(s, _)| 0.01 * (s as f32 + 1.0)),
        offset: Array1::from(vec![0.0, 0.5, 1.0, 1.5]),
    }));
    let plan = CalibrationPlan::build(&i, &identity_grid_cfg()).expect("plan");
    assert_eq!(plan.mode(), RadiometricMode::Gain);
    assert_eq!(plan.output_kind(), DataKind::Radiance);
    // DN = 1050 everywhere: L = 0.01·(s+1)·1000 + 0.5·b = 10·(s+1) + 0.5·b.
    let out = calibrate(
        &plan,
        &block(0, Array3::from_elem((lines, samples, 4), 1050.0)),
    );
    assert_close(out[[1, 2, 3]], 31.5, 1e-4, "L[1,2,3]");
    for ((l, s, b), &v) in out.indexed_iter() {
        let expected = 10.0 * (s + 1) as f64 + 0.5 * b as f64;
        assert_close(v, expected, 1e-4, &format!("L[{l},{s},{b}]"));
    }
}

#[test]
fn empirical_line_is_interpolated_and_folded() {
    let el = EmpiricalLine {
        wavelength_nm: vec![500.0, 800.0],
        gain: vec![1.0, 2.0],
        offset: vec![0.0, 0.3],
    };
    let cfg = CalibrationConfig {
        empirical_line: Some(el),
        ..identity_grid_cfg()
    };
    // Pass-through reflectance 0.3: a = 1, 4/3, 5/3, 2 and c = 0, 0.1, 0.2, 0.3 at 500..800.
    let i = info(1, 2, FOUR_BANDS.to_vec(), DataKind::Reflectance);
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_eq!(plan.mode(), RadiometricMode::PassThrough);
    let out = calibrate(&plan, &block(0, Array3::from_elem((1, 2, 4), 0.3)));
    for (b, expected) in [0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
        assert_close(out[[0, 1, b]], expected, 1e-6, &format!("band {b}"));
    }
    // Folded into the flat field: R' = a·R + c with R from the fixture.
    let (ff_info, ff_block) = flat_field_fixture();
    let plan = CalibrationPlan::build(&ff_info, &cfg).expect("plan");
    let out = calibrate(&plan, &ff_block);
    // R[1,2,3] = 0.12 → 2·0.12 + 0.3; R[0,0,1] = 0.99·100/2000 = 0.0495 → (4/3)·0.0495 + 0.1.
    assert_close(out[[1, 2, 3]], 0.54, 1e-6, "R'[1,2,3]");
    assert_close(out[[0, 0, 1]], 0.0495 * 4.0 / 3.0 + 0.1, 1e-6, "R'[0,0,1]");
}

#[test]
fn raw_dn_without_frames_needs_permission() {
    let i = info(1, 2, FOUR_BANDS.to_vec(), DataKind::RawDn);
    let err = CalibrationPlan::build(&i, &identity_grid_cfg()).expect_err("refused");
    assert!(
        matches!(&err, Error::Calibration { cube_id, reason } if cube_id == "cube-7" && reason.contains("allow_uncalibrated_dn")),
        "{err}"
    );
    let cfg = CalibrationConfig {
        allow_uncalibrated_dn: true,
        ..identity_grid_cfg()
    };
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_eq!(plan.output_kind(), DataKind::RawDn);
    let out = calibrate(&plan, &block(0, Array3::from_elem((1, 2, 4), 1234.0)));
    assert!(out.iter().all(|&v| v == 1234.0));
}

// ---------------------------------------------------------------------------------------------
// Guards

fn reason(err: Error) -> String {
    match err {
        Error::Calibration { cube_id, reason } => {
            assert_eq!(cube_id, "cube-7");
            reason
        }
        other => panic!("expected Error::Calibration, got {other}"),
    }
}

fn white_mut(info: &mut CubeInfo) -> &mut Array2<f32> {
    match &mut info.radiometry {
        Some(Radiometry::FlatField(ff)) => &mut ff.white,
        _ => panic!("flat-field fixture"),
    }
}

#[test]
fn denominator_guard_names_band_and_sample() {
    let (mut i, _) = flat_field_fixture();
    // white == dark at band 2 (700 nm), sample 1.
    white_mut(&mut i)[[1, 2]] = 110.0;
    let r = reason(CalibrationPlan::build(&i, &identity_grid_cfg()).expect_err("guarded"));
    assert!(
        r.contains("band 2 (700 nm)") && r.contains("sample 1"),
        "{r}"
    );

    // Below min_denominator but positive also fails.
    let (mut i, _) = flat_field_fixture();
    white_mut(&mut i)[[2, 0]] = 120.5;
    let r = reason(CalibrationPlan::build(&i, &identity_grid_cfg()).expect_err("guarded"));
    assert!(
        r.contains("band 0 (500 nm)") && r.contains("sample 2"),
        "{r}"
    );

    // NaN white fails, naming the band and sample.
    let (mut i, _) = flat_field_fixture();
    white_mut(&mut i)[[0, 3]] = f32::NAN;
    let r = reason(CalibrationPlan::build(&i, &identity_grid_cfg()).expect_err("NaN"));
    assert!(
        r.contains("band 3 (800 nm)") && r.contains("sample 0"),
        "{r}"
    );

    // ... unless non-finite bands are dropped: then band 3 is gone and 800 nm leaves the grid.
    let mut cfg = identity_grid_cfg();
    cfg.bad_bands.drop_nonfinite = true;
    let plan = CalibrationPlan::build(&i, &cfg).expect("dropped");
    assert_eq!(plan.kept_bands(), &[0, 1, 2]);
    assert_eq!(plan.grid_nm, vec![500.0, 600.0, 700.0]);
    assert_eq!(plan.left_out_grid_nm(), &[800.0]);
}

#[test]
fn denominator_guard_ignores_dropped_bands() {
    // Band 2 moved to 1400 nm (default water range) and band 3 marked bad by bbl: zero and NaN
    // denominators there are fine.
    let (mut i, b) = flat_field_fixture();
    i.bands.wavelength_nm = vec![500.0, 600.0, 1400.0, 800.0];
    i.bands.good = Some(vec![true, true, true, false]);
    white_mut(&mut i)[[1, 2]] = 110.0;
    white_mut(&mut i)[[0, 3]] = f32::NAN;
    let plan = CalibrationPlan::build(&i, &identity_grid_cfg()).expect("dropped bands unchecked");
    assert_eq!(plan.kept_bands(), &[0, 1]);
    assert_eq!(plan.grid_nm, vec![500.0, 600.0]);
    let out = calibrate(&plan, &b);
    assert_close(out[[1, 2, 1]], 0.99 * 600.0 / 2000.0, 1e-6, "R[1,2,1]");
}

// ---------------------------------------------------------------------------------------------
// Bad bands

#[test]
fn bad_bands_honour_ranges_drop_above_and_bbl() {
    let wl = vec![
        400.0, 1000.0, 1350.0, 1459.9, 1460.1, 1800.0, 2000.0, 2449.0, 2451.0, 2500.0,
    ];
    let mut i = info(1, 1, wl, DataKind::Reflectance);
    i.bands.good = Some(vec![
        true, false, true, true, true, true, true, true, true, true,
    ]);
    let cfg = CalibrationConfig::default();
    assert_eq!(
        badbands::kept_bands(&i, &cfg.bad_bands).expect("ok"),
        vec![0, 4, 6, 7]
    );
    let mut bb = cfg.bad_bands.clone();
    bb.honour_bbl = false;
    assert_eq!(
        badbands::kept_bands(&i, &bb).expect("ok"),
        vec![0, 1, 4, 6, 7]
    );
    bb.ranges_nm.clear();
    bb.drop_above_nm = None;
    assert_eq!(
        badbands::kept_bands(&i, &bb).expect("ok"),
        (0..10).collect::<Vec<_>>()
    );
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_eq!(plan.kept_bands(), &[0, 4, 6, 7]);

    // A NaN centre is an error naming the band, or dropped on request.
    i.bands.wavelength_nm[6] = f32::NAN;
    let r = reason(badbands::kept_bands(&i, &cfg.bad_bands).expect_err("NaN centre"));
    assert!(r.contains("band 6"), "{r}");
    let mut bb = cfg.bad_bands.clone();
    bb.drop_nonfinite = true;
    assert_eq!(badbands::kept_bands(&i, &bb).expect("ok"), vec![0, 4, 7]);
}

// ---------------------------------------------------------------------------------------------
// Resampling

/// Reflectance cube with 1 nm bands 400..=1000 and one spectrum per sample.
fn dense(spectra: &[fn(f64) -> f64]) -> (CubeInfo, LineBlock) {
    let wl: Vec<f32> = (400..=1000).map(|v| v as f32).collect();
    let i = info(1, spectra.len(), wl.clone(), DataKind::Reflectance);
    let data = Array3::from_shape_fn((1, spectra.len(), wl.len()), |(_, s, b)| {
        spectra[s](f64::from(wl[b])) as f32
    });
    (i, block(0, data))
}

fn linear(nm: f64) -> f64 {
    0.1 + 0.0005 * (nm - 400.0)
}

fn wavy(nm: f64) -> f64 {
    0.3 + 0.2 * (nm / 37.0).sin() + 0.1 * (nm / 113.0).cos()
}

#[test]
fn linear_spectrum_is_reproduced_at_grid_centres() {
    let (i, b) = dense(&[linear]);
    let plan = CalibrationPlan::build(&i, &CalibrationConfig::default()).expect("plan");
    // Default grid: 400 + 10 → 410 up to 1000 − 10 → 990.
    let expected_grid: Vec<f32> = (41..=99).map(|v| v as f32 * 10.0).collect();
    assert_eq!(plan.grid_nm, expected_grid);
    for col in plan.resampling_matrix().columns() {
        assert!((col.sum() - 1.0).abs() < 1e-5);
    }
    let out = calibrate(&plan, &b);
    for (j, &mu) in plan.grid_nm.iter().enumerate() {
        assert_close(
            out[[0, 0, j]],
            linear(f64::from(mu)),
            1e-4,
            &format!("{mu} nm"),
        );
    }
}

#[test]
fn unsorted_bands_give_the_same_result() {
    let (i, b) = dense(&[wavy, linear]);
    let cfg = CalibrationConfig::default();
    let sorted = calibrate(&CalibrationPlan::build(&i, &cfg).expect("plan"), &b);

    // A fixed scrambling permutation: band p goes to position (p·211) mod n (n = 601 is prime).
    let n = i.shape.bands;
    let perm: Vec<usize> = (0..n).map(|p| (p * 211) % n).collect();
    let mut shuffled = i.clone();
    let mut data = b.data.clone();
    for (p, &q) in perm.iter().enumerate() {
        shuffled.bands.wavelength_nm[q] = i.bands.wavelength_nm[p];
        data.slice_mut(s![.., .., q])
            .assign(&b.data.slice(s![.., .., p]));
    }
    assert!(shuffled.bands.wavelength_nm.windows(2).any(|w| w[0] > w[1]));
    let plan = CalibrationPlan::build(&shuffled, &cfg).expect("plan");
    let out = calibrate(&plan, &block(0, data));
    assert_eq!(out.dim(), sorted.dim());
    for (a, b) in out.iter().zip(sorted.iter()) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
}

/// The sparse band-major product (the default) and the blocked GEMM (non-zero blocks of the
/// banded matrix) equal the dense product, with sorted and scrambled bands, Savitzky–Golay
/// smoothing (a wider band) and 2×2 binning; the sparse one returns band-major memory.
#[test]
fn sparse_and_blocked_products_equal_the_dense_product() {
    let (i, b) = dense(&[wavy, linear, wavy, linear]);
    let n = i.shape.bands;
    let mut shuffled = i.clone();
    let mut scrambled = b.data.clone();
    for p in 0..n {
        let q = (p * 211) % n;
        shuffled.bands.wavelength_nm[q] = i.bands.wavelength_nm[p];
        scrambled
            .slice_mut(s![.., .., q])
            .assign(&b.data.slice(s![.., .., p]));
    }
    let smoothing = CalibrationConfig {
        savgol: Some(SavGol {
            window: 7,
            order: 2,
        }),
        ..CalibrationConfig::default()
    };
    let binned = CalibrationConfig {
        binning: 2,
        ..CalibrationConfig::default()
    };
    // Two lines for the binned case.
    let mut two = i.clone();
    two.shape.lines = 2;
    let two_lines =
        ndarray::concatenate(ndarray::Axis(0), &[b.data.view(), b.data.view()]).expect("stack");
    let cases = [
        ("sorted", &i, CalibrationConfig::default(), b.data.clone()),
        (
            "scrambled",
            &shuffled,
            CalibrationConfig::default(),
            scrambled,
        ),
        ("savgol", &i, smoothing, b.data.clone()),
        ("binned", &two, binned, two_lines),
    ];
    for (name, info, cfg, data) in cases {
        let plan = CalibrationPlan::build(info, &cfg).expect("plan");
        let blk = block(0, data);
        let full = CpuCalibrator::dense()
            .calibrate(&plan, &blk)
            .expect("dense");
        for (product, mut calibrator) in [
            ("sparse", CpuCalibrator::new()),
            ("blocked", CpuCalibrator::blocked()),
        ] {
            let out = calibrator.calibrate(&plan, &blk).expect(product);
            assert_eq!(out.data.dim(), full.data.dim(), "{name} {product}");
            // Indexing is layout-independent: element (l, s, j) of both.
            for ((idx, x), y) in out.data.indexed_iter().zip(full.data.iter()) {
                assert!(
                    (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                    "{name} {product} {idx:?}: {x} vs {y}"
                );
            }
            let band_major = out
                .data
                .view()
                .permuted_axes([2, 0, 1])
                .is_standard_layout();
            assert_eq!(band_major, product == "sparse", "{name} {product} layout");
        }
        let (taps, dense_taps) = plan.spectral_taps().work_per_pixel();
        assert_eq!(dense_taps, plan.spectral_matrix().len());
        assert!(taps * 4 < dense_taps, "{name}: {taps} taps of {dense_taps}");
        let (work, dense_work) =
            hsi_edge::calib::blocks::work_per_pixel(plan.spectral_blocks(), plan.spectral_matrix());
        if name != "scrambled" {
            // 601 input bands at 1 nm, 59 grid bands: a 32-band block spans ~340 of the rows.
            assert!(work * 10 < dense_work * 6, "{name}: {work} of {dense_work}");
        }
    }
}

#[test]
fn band_subset_picks_the_nearest_grid_bands() {
    let (i, b) = dense(&[wavy]);
    let full = calibrate(
        &CalibrationPlan::build(&i, &CalibrationConfig::default()).expect("plan"),
        &b,
    );
    let cfg = CalibrationConfig {
        band_subset_nm: Some(vec![672.0, 801.0, 799.0, 5000.0]),
        ..CalibrationConfig::default()
    };
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_eq!(plan.grid_nm, vec![670.0, 800.0, 990.0]);
    assert_eq!(plan.resampling_matrix().ncols(), 3);
    let out = calibrate(&plan, &b);
    assert_eq!(out.dim(), (1, 1, 3));
    // Full grid starts at 410: columns 26, 39, 58.
    for (k, j) in [26, 39, 58].into_iter().enumerate() {
        assert!((out[[0, 0, k]] - full[[0, 0, j]]).abs() < 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------
// Binning and no-data

#[test]
fn binning_2x2_with_partial_bins_and_no_data() {
    // 3×3 pixels, each spectrum flat at v = 10·l + s; pixel (1,1) is fill (−1 everywhere);
    // pixel (2,2) has a NaN in one kept band.
    let mut i = info(3, 3, FOUR_BANDS.to_vec(), DataKind::Reflectance);
    i.ignore_value = Some(-1.0);
    let mut data = Array3::from_shape_fn((3, 3, 4), |(l, s, _)| (10 * l + s) as f32);
    data.slice_mut(s![1, 1, ..]).fill(-1.0);
    data[[2, 2, 1]] = f32::NAN;
    let cfg = CalibrationConfig {
        binning: 2,
        ..identity_grid_cfg()
    };
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_eq!((plan.out_lines, plan.out_samples), (2, 2));

    // Blocks of 2 lines, the last one partial.
    let mut cpu = CpuCalibrator::default();
    let top = cpu
        .calibrate(&plan, &block(0, data.slice(s![0..2, .., ..]).to_owned()))
        .expect("top");
    let bottom = cpu
        .calibrate(&plan, &block(2, data.slice(s![2..3, .., ..]).to_owned()))
        .expect("bottom");
    assert_eq!((top.first_line, bottom.first_line), (0, 1));
    assert_eq!(top.data.dim(), (1, 2, 4));
    assert_eq!(bottom.data.dim(), (1, 2, 4));
    for b in 0..4 {
        // (0,0): pixels 0, 1, 10 (fill pixel excluded) → 11/3; (0,1): 2, 12 → 7.
        assert_close(top.data[[0, 0, b]], 11.0 / 3.0, 1e-5, "bin (0,0)");
        assert_close(top.data[[0, 1, b]], 7.0, 1e-5, "bin (0,1)");
        // (1,0): 20, 21 → 20.5; (1,1): only the NaN pixel → no data.
        assert_close(bottom.data[[0, 0, b]], 20.5, 1e-5, "bin (1,0)");
        assert!(
            bottom.data[[0, 1, b]].is_nan(),
            "bin (1,1) has no valid pixel"
        );
    }

    // Without binning the no-data pixels are NaN in every band and the others untouched.
    let plan = CalibrationPlan::build(&i, &identity_grid_cfg()).expect("plan");
    let out = calibrate(&plan, &block(0, data.clone()));
    assert!(out.slice(s![1, 1, ..]).iter().all(|v| v.is_nan()));
    assert!(out.slice(s![2, 2, ..]).iter().all(|v| v.is_nan()));
    assert_eq!(out[[2, 1, 3]], 21.0);
}

#[test]
fn misaligned_blocks_are_refused() {
    let i = info(4, 2, FOUR_BANDS.to_vec(), DataKind::Reflectance);
    let cfg = CalibrationConfig {
        binning: 2,
        ..identity_grid_cfg()
    };
    let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
    let mut cpu = CpuCalibrator::default();
    let err = cpu
        .calibrate(&plan, &block(1, Array3::zeros((2, 2, 4))))
        .expect_err("starts mid-bin");
    assert!(reason(err).contains("aligned"));
    let err = cpu
        .calibrate(&plan, &block(0, Array3::zeros((1, 2, 4))))
        .expect_err("odd lines but not last");
    assert!(reason(err).contains("aligned"));
    let err = cpu
        .calibrate(&plan, &block(0, Array3::zeros((2, 3, 4))))
        .expect_err("wrong samples");
    assert!(reason(err).contains("does not fit"));
}

/// u16 blocks calibrated as stored (converted inside the kernel) give the bits the `f32` path
/// gives, for every product and with binning, fill pixels included; and the same checks
/// refuse the same blocks.
#[test]
fn u16_blocks_calibrate_as_stored_to_the_same_bits() {
    let (lines, samples) = (6, 70);
    let wl: Vec<f32> = (0..40).map(|b| 420.0 + 15.0 * b as f32).collect();
    let mut i = info(lines, samples, wl, DataKind::RawDn);
    i.ignore_value = Some(0.0);
    i.radiometry = Some(Radiometry::FlatField(FlatFieldFrames {
        dark: Array2::from_shape_fn((samples, 40), |(s, b)| 90.0 + (s % 7) as f32 + b as f32),
        white: Array2::from_shape_fn((samples, 40), |(s, b)| 20_000.0 + 13.0 * (s + b) as f32),
        panel_reflectance: Array1::from_elem(40, 0.98),
    }));
    let dn = Array3::from_shape_fn((lines, samples, 40), |(l, s, b)| {
        if (l, s) == (2, 5) {
            0 // a fill pixel: no-data in every output band
        } else {
            (500 + 37 * l + 101 * s + 53 * b + (l * s * b) % 97) as u16
        }
    });
    let as_f32 = block(0, dn.mapv(f32::from));
    for (binning, product) in [
        (1, hsi_edge::calib::Product::Sparse),
        (2, hsi_edge::calib::Product::Sparse),
        (1, hsi_edge::calib::Product::Dense),
    ] {
        let cfg = CalibrationConfig {
            binning,
            ..CalibrationConfig::default()
        };
        let plan = CalibrationPlan::build(&i, &cfg).expect("plan");
        let mut cpu = CpuCalibrator::with_product(product);
        let want = cpu.calibrate(&plan, &as_f32).expect("f32 block");
        let stored = StoredBlock::U16 {
            first_line: 0,
            data: dn.clone().into_shared(),
        };
        let got = cpu.calibrate_stored(&plan, &stored).expect("u16 block");
        assert_eq!(got.first_line, want.first_line);
        assert_eq!(got.data.dim(), want.data.dim(), "k={binning} {product:?}");
        for ((idx, a), b) in got.data.indexed_iter().zip(want.data.iter()) {
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "k={binning} {product:?} at {idx:?}"
            );
        }
        if binning == 1 {
            assert!(got.data.slice(s![2, 5, ..]).iter().all(|v| v.is_nan()));
            assert!(got.data.slice(s![2, 6, ..]).iter().all(|v| v.is_finite()));
        }
    }
    let plan = CalibrationPlan::build(&i, &CalibrationConfig::default()).expect("plan");
    let wrong = StoredBlock::U16 {
        first_line: 0,
        data: Array3::<u16>::zeros((2, samples - 1, 40)).into_shared(),
    };
    let err = CpuCalibrator::default()
        .calibrate_stored(&plan, &wrong)
        .expect_err("wrong samples");
    assert!(reason(err).contains("does not fit"));
}

/// A block buffer given back through `Flattened::into_buffer` and `Calibrator::recycle` is
/// reused without zero-filling: the next block (different values, and a shorter last block)
/// must come out bit for bit as from a fresh calibrator. A batch still held keeps its buffer.
#[test]
fn recycled_block_buffers_give_the_same_bits() {
    let (lines, samples, bands) = (5, 70, 40);
    let wl: Vec<f32> = (0..bands).map(|b| 420.0 + 15.0 * b as f32).collect();
    let mut i = info(lines, samples, wl, DataKind::RawDn);
    i.radiometry = Some(Radiometry::FlatField(FlatFieldFrames {
        dark: Array2::from_shape_fn((samples, bands), |(s, b)| 90.0 + (s % 7) as f32 + b as f32),
        white: Array2::from_shape_fn((samples, bands), |(s, b)| 20_000.0 + 13.0 * (s + b) as f32),
        panel_reflectance: Array1::from_elem(bands, 0.98),
    }));
    let plan = CalibrationPlan::build(&i, &CalibrationConfig::default()).expect("plan");
    let stored = |first_line: usize, n: usize, seed: usize| StoredBlock::U16 {
        first_line,
        data: Array3::from_shape_fn((n, samples, bands), |(l, s, b)| {
            (700 + seed * 311 + 41 * l + 97 * s + 59 * b + (l * s * b) % 89) as u16
        })
        .into_shared(),
    };
    let f = hsi_edge::flatten::Flattener::new(
        &i.header,
        &plan,
        hsi_edge::flatten::Pipeline::Edge,
        None,
    );
    let mut cpu = CpuCalibrator::default();
    let first = cpu
        .calibrate_stored(&plan, &stored(0, 3, 1))
        .expect("block 1");
    let want_first: Vec<f32> = first
        .data
        .permuted_axes([2, 0, 1])
        .iter()
        .copied()
        .collect();
    let first = cpu
        .calibrate_stored(&plan, &stored(0, 3, 1))
        .expect("block 1");
    let flat = f.flatten_reusable(first).expect("flatten").expect("rows");
    let buffer = flat
        .into_buffer()
        .expect("nothing else holds the block's buffer");
    assert_eq!(buffer, want_first, "the buffer is the band-major block");
    cpu.recycle(buffer);
    // Same size, shorter (the last block), then longer than the buffer given back.
    for (first_line, n, seed) in [(0, 3, 3), (3, 2, 2), (0, 3, 4)] {
        let got = cpu
            .calibrate_stored(&plan, &stored(first_line, n, seed))
            .expect("recycled");
        let want = CpuCalibrator::default()
            .calibrate_stored(&plan, &stored(first_line, n, seed))
            .expect("fresh");
        assert_eq!(got.data.dim(), want.data.dim());
        for ((idx, a), b) in got.data.indexed_iter().zip(want.data.iter()) {
            assert_eq!(a.to_bits(), b.to_bits(), "block at {first_line}, {idx:?}");
        }
        let flat = f.flatten_reusable(got).expect("flatten").expect("rows");
        assert_eq!(flat.batch.num_rows(), n * samples);
        cpu.recycle(flat.into_buffer().expect("buffer back"));
    }
    let last = cpu
        .calibrate_stored(&plan, &stored(0, 3, 5))
        .expect("block");
    let flat = f.flatten_reusable(last).expect("flatten").expect("rows");
    let held = flat.batch.clone();
    assert!(
        flat.into_buffer().is_none(),
        "a held batch keeps its buffer"
    );
    assert_eq!(held.num_rows(), 3 * samples);
    // A block longer than any before rebuilds the flattener's cached constant columns.
    let whole = cpu
        .calibrate_stored(&plan, &stored(0, 5, 6))
        .expect("block");
    let batch = f.flatten_owned(whole).expect("flatten").expect("rows");
    assert_eq!(batch.num_rows(), 5 * samples);
    for (name, want) in [("cube_id", i.header.cube_id.as_str()), ("pipeline", "edge")] {
        let col = batch.column_by_name(name).expect("column");
        let col = col
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .expect("strings");
        assert_eq!(arrow_array::Array::len(col), 5 * samples);
        assert!(col.iter().all(|v| v == Some(want)), "{name}");
    }
    let time = batch.column_by_name("acquisition_time").expect("time");
    assert_eq!(time.len(), 5 * samples);
}

// ---------------------------------------------------------------------------------------------
// Savitzky–Golay

#[test]
fn savgol_standard_coefficients_and_quadratic() {
    let c = savgol::savgol_coefficients(5, 2, 2).expect("fit");
    for (a, b) in c.iter().zip([-3.0, 12.0, 17.0, 12.0, -3.0]) {
        assert!((a - b / 35.0).abs() < 1e-12, "{c:?}");
    }

    fn quadratic(nm: f64) -> f64 {
        0.2 + 0.8e-3 * (nm - 700.0) - 1.5e-6 * (nm - 700.0).powi(2)
    }
    let (i, b) = dense(&[quadratic, wavy]);
    // Grid ends kept 20 nm inside the 400–1000 nm input, so every output band sees the same
    // symmetric set of input offsets (±12 nm) and the resampled quadratic stays a quadratic.
    let grid = Grid {
        start_nm: Some(420.0),
        end_nm: Some(980.0),
        ..Grid::default()
    };
    let cfg = CalibrationConfig {
        grid: grid.clone(),
        ..CalibrationConfig::default()
    };
    let plain = CalibrationPlan::build(&i, &cfg).expect("plan");
    let cfg = CalibrationConfig {
        grid,
        savgol: Some(SavGol {
            window: 5,
            order: 2,
        }),
        ..CalibrationConfig::default()
    };
    let smoothed = CalibrationPlan::build(&i, &cfg).expect("plan");
    assert_ne!(plain.version, smoothed.version);

    // The resampled quadratic is a quadratic in μ: smoothing reproduces it everywhere, edges
    // included.
    let (p, q) = (calibrate(&plain, &b), calibrate(&smoothed, &b));
    for j in 0..plain.grid_nm.len() {
        assert!((p[[0, 0, j]] - q[[0, 0, j]]).abs() < 1e-5, "band {j}");
    }
    // The folded matrix applies (−3, 12, 17, 12, −3)/35 to interior resampled columns, so the
    // wavy spectrum's interior values match a direct convolution of the unsmoothed output.
    for j in 2..plain.grid_nm.len() - 2 {
        let direct: f64 = [-3.0, 12.0, 17.0, 12.0, -3.0]
            .iter()
            .enumerate()
            .map(|(t, c)| c / 35.0 * f64::from(p[[0, 1, j + t - 2]]))
            .sum();
        assert_close(q[[0, 1, j]], direct, 1e-5, &format!("band {j}"));
    }
    // And it is not the identity on a non-polynomial spectrum.
    assert!((p[[0, 1, 20]] - q[[0, 1, 20]]).abs() > 1e-5);
}

// ---------------------------------------------------------------------------------------------
// Version

#[test]
fn version_is_stable_and_changes_with_any_input() {
    let (i, _) = flat_field_fixture();
    let cfg = identity_grid_cfg();
    let v1 = CalibrationPlan::build(&i, &cfg).expect("plan").version;
    let v2 = CalibrationPlan::build(&i.clone(), &cfg.clone())
        .expect("plan")
        .version;
    assert_eq!(v1, v2);
    let hash = v1.strip_prefix("default-").expect("name prefix");
    assert_eq!(hash.len(), 12);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));

    // The same frame in column-major memory hashes the same.
    let mut fortran = i.clone();
    if let Some(Radiometry::FlatField(ff)) = &mut fortran.radiometry {
        let mut f = Array2::zeros(ff.dark.raw_dim().f());
        f.assign(&ff.dark);
        ff.dark = f;
        assert!(!ff.dark.is_standard_layout());
    }
    assert_eq!(
        CalibrationPlan::build(&fortran, &cfg)
            .expect("plan")
            .version,
        v1
    );

    let mut changed = Vec::new();
    let mut i2 = i.clone();
    if let Some(Radiometry::FlatField(ff)) = &mut i2.radiometry {
        ff.dark[[2, 3]] += 0.5;
    }
    changed.push(("dark", i2, cfg.clone()));
    let mut i2 = i.clone();
    i2.bands.wavelength_nm[0] = 500.5;
    changed.push(("wavelength", i2, cfg.clone()));
    let mut i2 = i.clone();
    i2.bands.fwhm_nm = Some(vec![10.0; 4]);
    changed.push(("fwhm", i2, cfg.clone()));
    let mut i2 = i.clone();
    i2.bands.good = Some(vec![true; 4]);
    changed.push(("bbl", i2, cfg.clone()));
    changed.push((
        "binning",
        i.clone(),
        CalibrationConfig {
            binning: 2,
            ..cfg.clone()
        },
    ));
    changed.push((
        "guard",
        i.clone(),
        CalibrationConfig {
            min_denominator: 2.0,
            ..cfg.clone()
        },
    ));
    for (what, info, c) in changed {
        let v = CalibrationPlan::build(&info, &c).expect("plan").version;
        assert_ne!(v, v1, "{what} must change the version");
    }
    let named = CalibrationConfig {
        name: "field-2024".into(),
        ..cfg
    };
    let v = CalibrationPlan::build(&i, &named).expect("plan").version;
    assert!(v.starts_with("field-2024-") && !v.ends_with(hash));
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn config_toml_round_trip() {
    let cfg = CalibrationConfig {
        name: "trial.7".into(),
        min_denominator: 5.0,
        allow_uncalibrated_dn: true,
        empirical_line: Some(EmpiricalLine {
            wavelength_nm: vec![400.0, 2500.0],
            gain: vec![1.02, 0.98],
            offset: vec![0.0, 0.01],
        }),
        bad_bands: hsi_edge::calib::BadBands {
            ranges_nm: vec![[1350.0, 1450.0]],
            drop_above_nm: None,
            honour_bbl: false,
            drop_nonfinite: true,
        },
        grid: Grid {
            start_nm: Some(420.0),
            end_nm: Some(2400.0),
            step_nm: 5.0,
            fwhm_nm: Some(7.5),
        },
        binning: 3,
        band_subset_nm: Some(vec![670.0, 800.0]),
        savgol: Some(SavGol {
            window: 7,
            order: 3,
        }),
    };
    let text = cfg.to_toml_string().expect("serialise");
    let back = CalibrationConfig::from_toml_str("round-trip", &text).expect("parse");
    assert_eq!(back, cfg);
    // An empty document is the default, and defaults are as documented.
    let d = CalibrationConfig::from_toml_str("empty", "").expect("parse");
    assert_eq!(d, CalibrationConfig::default());
    assert_eq!(
        d.bad_bands.ranges_nm,
        vec![[1340.0, 1460.0], [1790.0, 1960.0]]
    );
    assert_eq!(d.bad_bands.drop_above_nm, Some(2450.0));
    assert!(d.bad_bands.honour_bbl && !d.bad_bands.drop_nonfinite);
    assert_eq!(
        (d.grid.step_nm, d.min_denominator, d.binning),
        (10.0, 1.0, 1)
    );

    // TOML has no null: `false` switches drop_above_nm off; integers are accepted as nm.
    let parse = |t: &str| CalibrationConfig::from_toml_str("t", t);
    let off = parse("[bad_bands]\ndrop_above_nm = false").expect("false");
    assert_eq!(off.bad_bands.drop_above_nm, None);
    let at = parse("[bad_bands]\ndrop_above_nm = 2400").expect("integer");
    assert_eq!(at.bad_bands.drop_above_nm, Some(2400.0));
    assert!(parse("[bad_bands]\ndrop_above_nm = true").is_err());

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("calib.toml");
    std::fs::write(&path, &text).expect("write");
    assert_eq!(CalibrationConfig::from_toml_file(&path).expect("file"), cfg);
}

#[test]
fn config_errors_name_the_problem() {
    let err = CalibrationConfig::from_toml_str("cal.toml", "name = \"x\"\nbinnig = 2\n")
        .expect_err("unknown field");
    assert!(
        matches!(&err, Error::Config { origin, reason } if origin == "cal.toml" && reason.contains("binnig") && reason.contains("line 2")),
        "{err}"
    );
    let err =
        CalibrationConfig::from_toml_str("cal.toml", "[grid]\nstep = 5\n").expect_err("nested");
    assert!(err.to_string().contains("`step`"), "{err}");
    let err = CalibrationConfig::from_toml_str("cal.toml", "[savgol]\nwindow = 4\norder = 2\n")
        .expect_err("even window");
    assert!(err.to_string().contains("odd"), "{err}");
    let err = CalibrationConfig::from_toml_str("cal.toml", "binning = 0").expect_err("k = 0");
    assert!(err.to_string().contains("binning"), "{err}");
    let err = CalibrationConfig::from_toml_str(
        "cal.toml",
        "[empirical_line]\nwavelength_nm = [500, 400]\ngain = [1, 1]\noffset = [0, 0]\n",
    )
    .expect_err("unsorted knots");
    assert!(err.to_string().contains("increasing"), "{err}");
    let missing = Path::new("/nonexistent/calib.toml");
    let err = CalibrationConfig::from_toml_file(missing).expect_err("missing file");
    assert!(
        matches!(&err, Error::Config { origin, .. } if origin == "/nonexistent/calib.toml"),
        "{err}"
    );
}

/// The CPU calibrator's band-major blocks flatten to the same rows as the same values in
/// pixel-major memory, borrowed or owned, with and without no-data pixels and with mantissa
/// quantisation; no-data pixels (NaN in every band) are dropped.
#[test]
fn band_major_and_pixel_major_blocks_flatten_to_the_same_rows() {
    use hsi_edge::flatten::{Flattener, Pipeline};

    let mut i = info(3, 3, FOUR_BANDS.to_vec(), DataKind::Reflectance);
    i.ignore_value = Some(-1.0);
    let mut data = Array3::from_shape_fn((3, 3, 4), |(l, s, b)| {
        0.1 + (10 * l + s) as f32 * 0.01 + b as f32 * 0.001
    });
    let plan = CalibrationPlan::build(&i, &identity_grid_cfg()).expect("plan");
    let clean = data.clone();
    data.slice_mut(s![1, 1, ..]).fill(-1.0);
    for (name, input, rows) in [("dense", clean, 9), ("no-data", data, 8)] {
        let cal = CpuCalibrator::default()
            .calibrate(&plan, &block(0, input.clone()))
            .expect("calibrate");
        assert!(
            cal.data
                .view()
                .permuted_axes([2, 0, 1])
                .is_standard_layout()
        );
        let pixel_major = hsi_edge::calib::CalibratedBlock {
            first_line: cal.first_line,
            data: cal.data.as_standard_layout().into_owned(),
        };
        for bits in [None, Some(7)] {
            let f = Flattener::new(&i.header, &plan, Pipeline::Edge, bits);
            let a = f.flatten(&cal).expect("band-major").expect("rows");
            let b = f.flatten(&pixel_major).expect("pixel-major").expect("rows");
            let c = f
                .flatten_owned(hsi_edge::calib::CalibratedBlock {
                    first_line: cal.first_line,
                    data: cal.data.clone(),
                })
                .expect("owned")
                .expect("rows");
            assert_eq!(a.num_rows(), rows, "{name}");
            assert_eq!(a, b, "{name} {bits:?}: band-major vs pixel-major");
            assert_eq!(a, c, "{name} {bits:?}: borrowed vs owned");
            // Hand check: row 4 is pixel (1, 1) when dense, (1, 2) when (1, 1) is no-data.
            let line = a
                .column(5)
                .as_any()
                .downcast_ref::<arrow_array::Int32Array>();
            let sample = a
                .column(6)
                .as_any()
                .downcast_ref::<arrow_array::Int32Array>();
            let (line, sample) = (line.expect("line"), sample.expect("sample"));
            let want = if rows == 9 { (1, 1) } else { (1, 2) };
            assert_eq!((line.value(4), sample.value(4)), want, "{name}");
            let band0 = a
                .column(11)
                .as_any()
                .downcast_ref::<arrow_array::Float32Array>();
            let v = band0.expect("band").value(4);
            let exact = cal.data[[want.0 as usize, want.1 as usize, 0]];
            match bits {
                None => assert_eq!(v, exact, "{name}"),
                Some(b) => {
                    assert_eq!(v, hsi_edge::flatten::encoding::quantize_mantissa(exact, b));
                    assert!(((v - exact) / exact).abs() <= 2f32.powi(-8), "{name}");
                }
            }
        }
    }
}
