//! The side files of a synthetic trial: plot boundaries, yield history and expected indices.
//!
//! * `plots.geojson`: a FeatureCollection of Polygon features, one per plot, in the cube's map
//!   coordinates (pixel edges from the geotransform; a legacy `crs` member names the EPSG code
//!   because the coordinates are projected, not WGS 84). Properties: `farm_id`, `field_id`,
//!   `plot_id`, `row`, `col`, `crop`, `line_id`, `trial_id`, `is_check`.
//! * `yields.csv`: `farm_id,field_id,line_id,season,yield_t_ha` for the three seasons before
//!   the first acquisition; yield grows with the line's vigor (checks and good lines yield
//!   more) plus a seeded season effect and noise.
//! * `expected_ndvi.csv`: one row per cube and plot, see [`ExpectedPlot`].
//!
//! # Expected indices
//!
//! Computed from the library spectra and the layout only, independently of the calibration
//! code: for every pixel of the plot (the pixels whose centre lies inside the plot polygon,
//! see [`layout`](super::layout)), the **noise-free** reflectance is the crop mixture
//! `v·green + (1 − v)·dry` (crop pixels) or the soil spectrum (inter-row pixels), the index is
//! computed per pixel at the bands nearest the index wavelengths
//! ([`normalized_difference`]), and the plot value is the mean over its pixels.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::Serialize;

use super::config::SynthConfig;
use super::layout::{Layout, PixelClass, TrialDesign};
use super::seed_for;
use super::spectra::normalized_difference;
use crate::error::{Error, Result};

/// The crop named in the plot boundaries.
pub const CROP: &str = "wheat";

/// Expected per-plot values of one cube.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectedPlot {
    /// Cube the values belong to.
    pub cube_id: String,
    /// Acquisition time of that cube.
    pub acquisition_time: DateTime<Utc>,
    /// Plot id.
    pub plot_id: String,
    /// Field row of the plot (1-based).
    pub row: usize,
    /// Field column of the plot (1-based).
    pub col: usize,
    /// Breeding line (genotype) in the plot.
    pub line_id: String,
    /// Trial id.
    pub trial_id: String,
    /// Whether the line is a check variety.
    pub is_check: bool,
    /// Green fraction of the canopy at this date (the generator's ground truth).
    pub vigor: f64,
    /// Pixels in the plot (centre inside the polygon).
    pub pixels: usize,
    /// Of which crop canopy.
    pub crop_pixels: usize,
    /// Mean per-pixel NDVI, `(R800 − R680)/(R800 + R680)`.
    pub ndvi_mean: f64,
    /// Mean per-pixel NDWI (Gao), `(R860 − R1240)/(R860 + R1240)`; `None` without SWIR.
    pub ndwi_mean: Option<f64>,
    /// Mean per-pixel NDRE, `(R750 − R705)/(R750 + R705)`.
    pub ndre_mean: Option<f64>,
}

/// The library spectra the scene is made of, in f64.
pub(crate) struct Endmembers<'a> {
    pub wavelength_nm: &'a [f32],
    pub green: Vec<f64>,
    pub dry: Vec<f64>,
    pub soil: Vec<f64>,
}

impl Endmembers<'_> {
    /// The crop canopy spectrum at vigor `v`.
    pub fn crop(&self, v: f64) -> Vec<f64> {
        self.green
            .iter()
            .zip(&self.dry)
            .map(|(g, d)| v * g + (1.0 - v) * d)
            .collect()
    }
}

/// Mean per-pixel normalised difference over a plot, memoised per pixel class.
fn plot_mean(
    layout: &Layout,
    plot: usize,
    wl: &[f32],
    crop: &[f64],
    soil: &[f64],
    a_nm: f32,
    b_nm: f32,
) -> Option<(f64, usize, usize)> {
    let cell = layout.plots().get(plot)?;
    let crop_value = normalized_difference(wl, crop, a_nm, b_nm)?;
    let soil_value = normalized_difference(wl, soil, a_nm, b_nm)?;
    let (mut sum, mut pixels, mut crops) = (0.0, 0usize, 0usize);
    for line in cell.lines.clone() {
        for sample in cell.samples.clone() {
            match layout.class_at(line, sample) {
                PixelClass::Crop(p) if p == plot => {
                    sum += crop_value;
                    crops += 1;
                }
                PixelClass::InterRow(p) if p == plot => sum += soil_value,
                _ => continue,
            }
            pixels += 1;
        }
    }
    (pixels > 0).then(|| (sum / pixels as f64, pixels, crops))
}

/// Expected values of every plot of cube `k`.
pub(crate) fn expected_plots(
    cfg: &SynthConfig,
    k: usize,
    layout: &Layout,
    design: &TrialDesign,
    em: &Endmembers<'_>,
) -> Result<Vec<ExpectedPlot>> {
    let cube_id = cfg.cube_id_for(k);
    let wl = em.wavelength_nm;
    layout
        .plots()
        .iter()
        .map(|cell| {
            let line = design.line_of(cell.index).ok_or_else(|| Error::Config {
                origin: "synth".into(),
                reason: format!("plot {} has no breeding line", cell.plot_id),
            })?;
            let vigor = design.vigor(cell.index, k);
            let crop = em.crop(vigor);
            let mean = |a, b| plot_mean(layout, cell.index, wl, &crop, &em.soil, a, b);
            let (ndvi_mean, pixels, crop_pixels) =
                mean(800.0, 680.0).ok_or_else(|| Error::Config {
                    origin: "synth".into(),
                    reason: "the spectral library does not cover 680 and 800 nm".into(),
                })?;
            Ok(ExpectedPlot {
                cube_id: cube_id.clone(),
                acquisition_time: cfg.acquisition_time_for(k),
                plot_id: cell.plot_id.clone(),
                row: cell.row,
                col: cell.col,
                line_id: line.line_id.clone(),
                trial_id: cfg.trial_id.clone(),
                is_check: line.is_check,
                vigor,
                pixels,
                crop_pixels,
                ndvi_mean,
                ndwi_mean: mean(860.0, 1240.0).map(|m| m.0),
                ndre_mean: mean(750.0, 705.0).map(|m| m.0),
            })
        })
        .collect()
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    std::fs::File::create(path)
        .map(std::io::BufWriter::new)
        .map_err(|e| Error::io(path, e))
}

fn finish(path: &Path, mut w: std::io::BufWriter<std::fs::File>) -> Result<()> {
    w.flush().map_err(|e| Error::io(path, e))
}

/// Write `expected_ndvi.csv`.
pub(crate) fn write_expected_csv(path: &Path, rows: &[ExpectedPlot]) -> Result<()> {
    let mut w = create(path)?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    let mut text = String::from(
        "cube_id,plot_id,line_id,pixels,ndvi_mean,ndwi_mean,ndre_mean,trial_id,is_check,vigor,crop_pixels,row,col,acquisition_time\n",
    );
    for r in rows {
        text.push_str(&format!(
            "{},{},{},{},{:.6},{},{},{},{},{:.6},{},{},{},{}\n",
            r.cube_id,
            r.plot_id,
            r.line_id,
            r.pixels,
            r.ndvi_mean,
            opt(r.ndwi_mean),
            opt(r.ndre_mean),
            r.trial_id,
            r.is_check,
            r.vigor,
            r.crop_pixels,
            r.row,
            r.col,
            r.acquisition_time
                .to_rfc3339_opts(SecondsFormat::Secs, true),
        ));
    }
    w.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    finish(path, w)
}

/// Write `plots.geojson`.
pub(crate) fn write_plots_geojson(
    path: &Path,
    cfg: &SynthConfig,
    layout: &Layout,
    design: &TrialDesign,
) -> Result<()> {
    let gt = cfg.geotransform();
    let features: Vec<serde_json::Value> = layout
        .plots()
        .iter()
        .map(|cell| {
            let line = design.line_of(cell.index);
            serde_json::json!({
                "type": "Feature",
                "id": cell.plot_id,
                "properties": {
                    "farm_id": cfg.farm_id,
                    "field_id": cfg.field_id,
                    "plot_id": cell.plot_id,
                    "row": cell.row,
                    "col": cell.col,
                    "crop": CROP,
                    "line_id": line.map(|l| l.line_id.as_str()),
                    "trial_id": cfg.trial_id,
                    "is_check": line.is_some_and(|l| l.is_check),
                },
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [layout.polygon(cell, &gt)],
                },
            })
        })
        .collect();
    let doc = serde_json::json!({
        "type": "FeatureCollection",
        "name": format!("{}/{}", cfg.farm_id, cfg.field_id),
        "crs": { "type": "name", "properties": { "name": format!("urn:ogc:def:crs:EPSG::{}", cfg.crs) } },
        "features": features,
    });
    let mut w = create(path)?;
    serde_json::to_writer_pretty(&mut w, &doc).map_err(|e| Error::io(path, e.into()))?;
    w.write_all(b"\n").map_err(|e| Error::io(path, e))?;
    finish(path, w)
}

/// Write `yields.csv`: three past seasons per line.
pub(crate) fn write_yields_csv(path: &Path, cfg: &SynthConfig, design: &TrialDesign) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed_for(cfg.seed, &[0x11e1d]));
    let year = cfg.acquisition_time.year();
    let mut text = String::from("farm_id,field_id,line_id,season,yield_t_ha\n");
    for season in year - 3..year {
        let season_effect: f64 = 0.3 * rng.sample::<f64, _>(StandardNormal);
        for line in &design.lines {
            let noise: f64 = 0.25 * rng.sample::<f64, _>(StandardNormal);
            let y = (1.5 + 6.5 * line.vigor + season_effect + noise).max(0.1);
            text.push_str(&format!(
                "{},{},{},{season},{y:.2}\n",
                cfg.farm_id, cfg.field_id, line.line_id
            ));
        }
    }
    let mut w = create(path)?;
    w.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    finish(path, w)
}
