//! The synthetic field-trial generator: realistic raw cubes whose answers are known.
//!
//! [`generate`] builds a breeding trial on one field from **real** USGS spectra
//! (`shared/data/spectra/usgs_av95_vegetation_soil.csv`, see [`SpectralLibrary`]) and writes:
//!
//! | file | what |
//! |---|---|
//! | `cubes/{cube_id}.h5` | one raw cube per acquisition date (a week apart), DESIGN §4 layout |
//! | `plots.geojson` | plot polygons with farm, field, plot, row, crop, line, trial, check flag |
//! | `yields.csv` | yield history of every breeding line over three past seasons |
//! | `expected_ndvi.csv` | per cube and plot: pixel count and mean NDVI / NDWI / NDRE |
//!
//! # The scene
//!
//! A grid of plots separated by soil alleys (Stonewall playa mud); in each plot, crop rows
//! alternate with inter-row soil ([`layout`] documents the exact geometry). The crop spectrum
//! of a plot is the linear mixture `v·Lawn_Grass + (1 − v)·Dry_Long_Grass` at the plot's vigor
//! `v`: stressed plots hold more dry grass. Each plot grows one breeding line, every line is
//! replicated in at least two plots, and some lines are check varieties; vigor drifts from date
//! to date with a per-line trend (the season).
//!
//! # The sensor
//!
//! The sensor's bands are the library's band centres **in file order** (non-monotonic around
//! 664–687 nm, as AVIRIS's overlapping spectrometers are), FWHM from the band spacing
//! ([`SpectralLibrary::fwhm_from_spacing`]). DNs follow the flat-field model of DESIGN §5 with a
//! column-patterned dark frame, a vignetted white panel and a ≈0.99 panel, plus Gaussian shot
//! and read noise ([`sensor`] documents the numbers). With `noise = false`,
//! `(DN − dark)/(white − dark)·panel` gives back the scene reflectance within 2e-4.
//!
//! # Determinism and memory
//!
//! Every random choice derives from [`SynthConfig::seed`]; the same configuration gives the
//! same side files byte for byte and the same pixel values. Cubes are written block by block
//! in bounded memory (one block of `lines_per_block` lines), so 4 GB cubes need well under
//! 1 GB of RAM.

mod config;
mod cube;
pub mod layout;
mod outputs;
pub mod sensor;
mod spectra;

use std::path::{Path, PathBuf};

pub use config::{LIBRARY_BANDS, MAX_CUBES, MAX_TARGET_BYTES, MIN_TARGET_BYTES, SynthConfig};
pub use layout::{BreedingLine, Layout, PixelClass, PlotCell, TrialDesign};
pub use outputs::{CROP, ExpectedPlot};
pub use sensor::SensorModel;
pub use spectra::{DELETED_BELOW, SpectralLibrary, nearest_band, normalized_difference};

use crate::cube::{Bands, CubeHeader, Shape};
use crate::error::{Error, Result};
use cube::{CubeScene, write_cube};
use outputs::{
    Endmembers, expected_plots, write_expected_csv, write_plots_geojson, write_yields_csv,
};

/// Name fragments of the library spectra the scene is made of.
pub const GREEN_SPECTRUM: &str = "Lawn_Grass";
/// Dry vegetation end member.
pub const DRY_SPECTRUM: &str = "Dry_Long_Grass";
/// Soil (alleys and inter-row).
pub const SOIL_SPECTRUM: &str = "Stonewall_Playa";

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct SynthOutput {
    /// One cube per acquisition date, in date order.
    pub cubes: Vec<PathBuf>,
    /// Plot boundaries.
    pub plots_geojson: PathBuf,
    /// Yield history.
    pub yields_csv: PathBuf,
    /// Expected per-plot indices.
    pub expected_csv: PathBuf,
    /// The rows of `expected_csv`, cube by cube, plot by plot.
    pub expected: Vec<ExpectedPlot>,
}

/// Generate the trial described by `cfg` from the spectra at `spectra_csv` into `out_dir`
/// (created if needed; existing files of the same names are replaced).
pub fn generate(cfg: &SynthConfig, spectra_csv: &Path, out_dir: &Path) -> Result<SynthOutput> {
    cfg.validate()?;
    let library = SpectralLibrary::load(spectra_csv)?;
    let to_f64 = |name: &str| -> Result<Vec<f64>> {
        let spectrum = library.get(name).map_err(|_| {
            Error::missing(spectra_csv, name, "the synthetic scene needs this spectrum")
        })?;
        Ok(spectrum.iter().map(|v| f64::from(*v)).collect())
    };
    let em = Endmembers {
        wavelength_nm: &library.wavelength_nm,
        green: to_f64(GREEN_SPECTRUM)?,
        dry: to_f64(DRY_SPECTRUM)?,
        soil: to_f64(SOIL_SPECTRUM)?,
    };
    let n_bands = library.wavelength_nm.len();
    let shape = Shape::checked(
        out_dir,
        cfg.lines as u64,
        cfg.samples as u64,
        n_bands as u64,
    )?;
    let bands = Bands {
        wavelength_nm: library.wavelength_nm.clone(),
        fwhm_nm: Some(library.fwhm_from_spacing()),
        good: None,
    };
    let layout = Layout::new(cfg)?;
    let design = TrialDesign::new(cfg.seed, layout.plots().len());
    let sensor = SensorModel::new(&library.wavelength_nm, cfg.samples, cfg.seed);

    let cube_dir = out_dir.join("cubes");
    std::fs::create_dir_all(&cube_dir).map_err(|e| Error::io(&cube_dir, e))?;
    let mut cubes = Vec::with_capacity(cfg.n_cubes);
    let mut expected = vec![];
    for k in 0..cfg.n_cubes {
        let header = CubeHeader {
            cube_id: cfg.cube_id_for(k),
            sensor_id: cfg.sensor_id.clone(),
            farm_id: cfg.farm_id.clone(),
            field_id: cfg.field_id.clone(),
            region: cfg.region.clone(),
            acquisition_time: cfg.acquisition_time_for(k),
            crs: Some(cfg.crs),
            geotransform: Some(cfg.geotransform()),
            calibration_id: None,
        };
        let scene = CubeScene {
            cfg,
            k,
            layout: &layout,
            sensor: &sensor,
            soil: em.soil.iter().map(|v| *v as f32).collect(),
            crop: (0..layout.plots().len())
                .map(|p| {
                    em.crop(design.vigor(p, k))
                        .iter()
                        .map(|v| *v as f32)
                        .collect()
                })
                .collect(),
        };
        let path = cube_dir.join(format!("{}.h5", header.cube_id));
        let started = std::time::Instant::now();
        cubes.push(write_cube(&path, &header, shape, &bands, &scene)?);
        tracing::info!(
            cube = %header.cube_id,
            bytes = shape.elements() * 2,
            seconds = started.elapsed().as_secs_f64(),
            "synthetic cube written"
        );
        expected.extend(expected_plots(cfg, k, &layout, &design, &em)?);
    }

    let plots_geojson = out_dir.join("plots.geojson");
    write_plots_geojson(&plots_geojson, cfg, &layout, &design)?;
    let yields_csv = out_dir.join("yields.csv");
    write_yields_csv(&yields_csv, cfg, &design)?;
    let expected_csv = out_dir.join("expected_ndvi.csv");
    write_expected_csv(&expected_csv, &expected)?;
    Ok(SynthOutput {
        cubes,
        plots_geojson,
        yields_csv,
        expected_csv,
        expected,
    })
}

/// Derive an independent 64-bit seed from `seed` and a path of indices (SplitMix64 steps).
pub(crate) fn seed_for(seed: u64, path: &[u64]) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    path.iter()
        .fold(splitmix(seed), |acc, p| splitmix(acc ^ splitmix(*p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_differ_by_path() {
        assert_eq!(seed_for(1, &[2, 3]), seed_for(1, &[2, 3]));
        assert_ne!(seed_for(1, &[2, 3]), seed_for(1, &[3, 2]));
        assert_ne!(seed_for(1, &[2]), seed_for(2, &[2]));
    }
}
