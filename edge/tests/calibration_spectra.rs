//! Calibration of real spectra: 23 USGS library spectra convolved to AVIRIS-1995 bands
//! (`shared/data/spectra/usgs_av95_vegetation_soil.csv`, see PROVENANCE.md), resampled to the
//! 10 nm grid; NDVI on the grid must agree with NDVI on the original bands.
//!
//! The file's quirks are real: its band centres are not monotonic (664–687 nm overlap between
//! two spectrometers), and deleted channels hold −1.23e34. Deleted channels are marked bad
//! through the cube's bad-band list (a band deleted in any spectrum is bad for the cube).
//!
//! About the PROVENANCE NDVI values (lawn grass 0.892, dry long grass 0.059, mixtures 0.580 …
//! 0.151): they are reproduced to ±0.0004 by the original bands at 667.33 nm and 798.46 nm,
//! i.e. red at **670 nm**, not 680 nm as the note says (at 677.17/798.46 the dry long grass is
//! 0.053). So they are checked against the grid columns 670 and 800; the 680/800 grid NDVI is
//! checked against the nearest-band 680/800 NDVI.

use std::path::Path;

use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator};
use hsi_edge::cube::{Bands, CubeHeader, CubeInfo, DataKind, LineBlock, Shape};
use hsi_edge::testdata;
use ndarray::Array3;

/// Deleted channels hold −1.23e34; anything below this is deleted.
const DELETED_BELOW: f32 = -1e30;

struct Library {
    wavelength_nm: Vec<f32>,
    names: Vec<String>,
    /// One row per spectrum, bands in file order.
    spectra: Vec<Vec<f32>>,
}

fn load_library() -> Library {
    let path = testdata::usgs_spectra().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().expect("header row");
    let mut cols = header.split(',');
    assert_eq!((cols.next(), cols.next()), (Some("library"), Some("name")));
    let wavelength_nm: Vec<f32> = cols
        .map(|c| {
            c.trim()
                .parse()
                .unwrap_or_else(|e| panic!("band centre {c:?}: {e}"))
        })
        .collect();
    let (mut names, mut spectra) = (vec![], vec![]);
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut cols = line.split(',');
        let (_, name) = (cols.next(), cols.next().expect("name").trim().to_owned());
        let values: Vec<f32> = cols
            .map(|c| {
                c.trim()
                    .parse()
                    .unwrap_or_else(|e| panic!("{name}: value {c:?}: {e}"))
            })
            .collect();
        assert_eq!(values.len(), wavelength_nm.len(), "{name}");
        names.push(name);
        spectra.push(values);
    }
    Library {
        wavelength_nm,
        names,
        spectra,
    }
}

/// A 1 × N reflectance cube, one spectrum per sample, bands in file order.
fn cube(lib: &Library) -> (CubeInfo, LineBlock) {
    let (n, bands) = (lib.spectra.len(), lib.wavelength_nm.len());
    let good: Vec<bool> = (0..bands)
        .map(|b| lib.spectra.iter().all(|s| s[b] > DELETED_BELOW))
        .collect();
    let info = CubeInfo {
        path: "usgs_av95_vegetation_soil.csv".into(),
        header: CubeHeader::from_file_stem(Path::new("usgs_av95_vegetation_soil.csv")),
        shape: Shape {
            lines: 1,
            samples: n,
            bands,
        },
        bands: Bands {
            wavelength_nm: lib.wavelength_nm.clone(),
            // AVIRIS bands are ≈10 nm wide (92AV3C.spc, 9.8–10.1 nm); that file's 220 centres
            // (400.02 nm …) do not align with these 224 (383.15 nm …), so it is not used.
            fwhm_nm: Some(vec![10.0; bands]),
            good: Some(good),
        },
        kind: DataKind::Reflectance,
        ignore_value: None,
        radiometry: None,
        raw_bytes: (n * bands * 4) as u64,
        format: "csv".into(),
    };
    let data = Array3::from_shape_fn((1, n, bands), |(_, s, b)| lib.spectra[s][b]);
    (
        info,
        LineBlock {
            first_line: 0,
            data,
        },
    )
}

fn ndvi(red: f64, nir: f64) -> f64 {
    (nir - red) / (nir + red)
}

fn nearest_band(wl: &[f32], nm: f32) -> usize {
    (0..wl.len())
        .min_by(|&a, &b| (wl[a] - nm).abs().total_cmp(&(wl[b] - nm).abs()))
        .expect("bands")
}

struct Resampled {
    names: Vec<String>,
    /// Grid NDVI with red at 680 nm and at 670 nm.
    ndvi_680: Vec<f64>,
    ndvi_670: Vec<f64>,
    /// Original-band NDVI at the bands nearest 680 and 800 nm.
    nearest_680: Vec<f64>,
}

fn resample_library() -> Resampled {
    let lib = load_library();
    assert_eq!(lib.spectra.len(), 23);
    assert_eq!(lib.wavelength_nm.len(), 224);
    assert!(
        lib.wavelength_nm.windows(2).any(|w| w[0] > w[1]),
        "file order is not monotonic"
    );
    let (info, block) = cube(&lib);
    let plan = CalibrationPlan::build(&info, &CalibrationConfig::default()).expect("plan");
    // 383.15–2508.2 nm → candidates 400 … 2490. Left out: the water ranges and > 2450 nm (by
    // configuration), and the centres with no kept band within ±5 nm: the deleted channels
    // 383–412, 962–1000 and 1970–2050 nm (Aspen, Cheatgrass, dried oak) and 2448.8 nm.
    let tens = |a: u32, b: u32| (a..=b).step_by(10).map(|v| v as f32).collect::<Vec<_>>();
    let left_out = [
        tens(400, 410),
        tens(960, 1000),
        tens(1340, 1460),
        tens(1790, 2050),
        tens(2450, 2490),
    ]
    .concat();
    assert_eq!(plan.left_out_grid_nm(), left_out.as_slice());
    assert_eq!(plan.grid_nm.len(), 210 - left_out.len());
    assert_eq!(plan.grid_nm.first(), Some(&420.0));
    assert_eq!(plan.grid_nm.last(), Some(&2440.0));
    let out = CpuCalibrator::default()
        .calibrate(&plan, &block)
        .expect("calibrate")
        .data;
    assert_eq!(out.dim(), (1, 23, plan.grid_nm.len()));
    assert!(out.iter().all(|v| v.is_finite()));

    let col = |nm: f32| {
        plan.grid_nm
            .iter()
            .position(|&g| g == nm)
            .expect("grid column")
    };
    let (c670, c680, c800) = (col(670.0), col(680.0), col(800.0));
    let (i680, i800) = (
        nearest_band(&lib.wavelength_nm, 680.0),
        nearest_band(&lib.wavelength_nm, 800.0),
    );
    assert_eq!(
        (lib.wavelength_nm[i680], lib.wavelength_nm[i800]),
        (677.17, 798.46)
    );
    let g = |s: usize, c: usize| f64::from(out[[0, s, c]]);
    let o = |s: usize, b: usize| f64::from(lib.spectra[s][b]);
    let n = lib.spectra.len();
    Resampled {
        ndvi_680: (0..n).map(|s| ndvi(g(s, c680), g(s, c800))).collect(),
        ndvi_670: (0..n).map(|s| ndvi(g(s, c670), g(s, c800))).collect(),
        nearest_680: (0..n).map(|s| ndvi(o(s, i680), o(s, i800))).collect(),
        names: lib.names,
    }
}

#[test]
fn grid_ndvi_matches_nearest_band_ndvi() {
    let r = resample_library();
    // The one exception is a dried oak leaf whose red edge starts right above 680 nm: the
    // 10 nm Gaussian at 680 nm reaches 687 nm where the nearest band (677 nm) does not.
    // Measured 0.0081 (NumPy reference of the same definition); bounded here at 0.009.
    let tolerance = |name: &str| {
        if name.starts_with("Oak Oak-Leaf-2 dried") {
            0.009
        } else {
            0.005
        }
    };
    for ((name, grid), nearest) in r.names.iter().zip(&r.ndvi_680).zip(&r.nearest_680) {
        let diff = (grid - nearest).abs();
        assert!(
            diff <= tolerance(name),
            "{name}: grid NDVI {grid:.4} vs nearest-band {nearest:.4} (Δ {diff:.4})"
        );
    }
}

#[test]
fn grid_ndvi_matches_provenance_values() {
    let r = resample_library();
    let expected = [
        ("Lawn_Grass GDS91 (Green)", 0.892),
        ("Dry_Long_Grass AV87-2", 0.059),
        ("Grass_dry.4+.6green AMX27", 0.580),
        ("Grass_dry.5+.5green AMX28", 0.498),
        ("Grass_dry.6+.4green AMX29", 0.414),
        ("Grass_dry.7+.3green AMX30", 0.328),
        ("Grass_dry.8+.2green AMX31", 0.240),
        ("Grass_dry.9+.1green AMX32", 0.151),
    ];
    for (prefix, value) in expected {
        let s = r
            .names
            .iter()
            .position(|n| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} not in the library"));
        let grid = r.ndvi_670[s];
        assert!(
            (grid - value).abs() <= 0.005,
            "{prefix}: grid NDVI(670/800) {grid:.4} vs PROVENANCE {value}"
        );
    }
    // Ordering sanity: more dry grass, lower NDVI, on the 680 nm column too.
    let mixtures: Vec<f64> = (4..=9)
        .map(|k| {
            let prefix = format!("Grass_dry.{k}+");
            let s = r
                .names
                .iter()
                .position(|n| n.starts_with(&prefix))
                .expect("mixture");
            r.ndvi_680[s]
        })
        .collect();
    assert!(mixtures.windows(2).all(|w| w[0] > w[1]), "{mixtures:?}");
}
