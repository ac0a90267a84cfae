//! Calibration settings, read from TOML.
//!
//! Every table rejects unknown keys (a misspelt key is an error naming it, not a silently
//! ignored setting) and every key is optional: an empty file is the default configuration.
//!
//! ```toml
//! name = "field-2024"            # first part of calibration_version; [A-Za-z0-9._-]+
//! min_denominator = 1.0          # DN: white − dark must exceed this in every kept band
//! allow_uncalibrated_dn = false  # raw DN without frames: error (false) or pass DN through
//! binning = 1                    # k×k spatial mean (1 = none)
//! band_subset_nm = [670, 800]    # keep only the grid bands nearest these (optional)
//!
//! [empirical_line]               # R' = gain(λ)·R + offset(λ), linear in λ between knots
//! wavelength_nm = [400, 2500]
//! gain = [1.02, 0.98]
//! offset = [0.0, 0.01]
//!
//! [bad_bands]
//! ranges_nm = [[1340, 1460], [1790, 1960]]
//! drop_above_nm = 2450          # or false: keep every band up to the sensor's end
//! honour_bbl = true
//! drop_nonfinite = false         # drop bands whose wavelength/frames are NaN instead of failing
//!
//! [grid]
//! start_nm = 400                 # default: sensor range rounded inward (see `Grid`)
//! end_nm = 2490
//! step_nm = 10
//! fwhm_nm = 10                   # output response width; default = step_nm
//!
//! [savgol]                       # optional smoothing along the output bands
//! window = 5
//! order = 2
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Largest number of output grid bands accepted (guards absurd `step_nm` values).
pub const MAX_GRID_BANDS: usize = 4096;
/// Largest binning factor accepted.
pub const MAX_BINNING: usize = 64;
/// Largest Savitzky–Golay window accepted.
pub const MAX_SAVGOL_WINDOW: usize = 101;

/// Calibration settings (TOML). See the [module docs](self) for an example file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    /// Name, first part of `calibration_version` (`[A-Za-z0-9._-]+`).
    pub name: String,
    /// Flat-field denominator guard, in DN: `white − dark` must be greater than this (and
    /// finite) for every kept band and detector column.
    pub min_denominator: f32,
    /// Raw DN without dark/white or gain frames: pass the DN through as `f32` instead of
    /// failing with [`Error::Calibration`].
    pub allow_uncalibrated_dn: bool,
    /// Empirical-line correction `R' = a(λ)·R + c(λ)`; identity when absent.
    pub empirical_line: Option<EmpiricalLine>,
    /// Which input bands are dropped before resampling.
    pub bad_bands: BadBands,
    /// The output band grid.
    pub grid: Grid,
    /// k×k spatial binning (1 = none).
    pub binning: usize,
    /// Keep only the grid bands nearest to these wavelengths (the `field` profile).
    pub band_subset_nm: Option<Vec<f32>>,
    /// Optional Savitzky–Golay smoothing along the output spectral axis.
    pub savgol: Option<SavGol>,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            name: "default".into(),
            min_denominator: 1.0,
            allow_uncalibrated_dn: false,
            empirical_line: None,
            bad_bands: BadBands::default(),
            grid: Grid::default(),
            binning: 1,
            band_subset_nm: None,
            savgol: None,
        }
    }
}

/// Empirical-line coefficients at knot wavelengths, linearly interpolated to the sensor's band
/// centres and held constant beyond the first and last knot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmpiricalLine {
    /// Knot wavelengths in nm, strictly increasing.
    pub wavelength_nm: Vec<f32>,
    /// Multiplicative coefficient `a` at each knot.
    pub gain: Vec<f32>,
    /// Additive coefficient `c` at each knot.
    pub offset: Vec<f32>,
}

/// Bad-band removal (DESIGN §5 step 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BadBands {
    /// Closed wavelength ranges `[lo, hi]` (nm) to drop: water absorption by default.
    pub ranges_nm: Vec<[f32; 2]>,
    /// Drop every band centred above this wavelength (nm). In TOML, `false` turns it off
    /// (TOML has no null).
    #[serde(with = "number_or_false")]
    pub drop_above_nm: Option<f32>,
    /// Drop the bands the file's bad-band list (ENVI `bbl`) marks bad.
    pub honour_bbl: bool,
    /// Drop bands whose wavelength or calibration frames (dark, white, panel, gain, offset)
    /// hold a non-finite value, instead of failing.
    pub drop_nonfinite: bool,
}

impl Default for BadBands {
    fn default() -> Self {
        BadBands {
            ranges_nm: vec![[1340.0, 1460.0], [1790.0, 1960.0]],
            drop_above_nm: Some(2450.0),
            honour_bbl: true,
            drop_nonfinite: false,
        }
    }
}

/// The standard output band grid: centres at integer multiples of `step_nm`.
///
/// By default it spans the sensor's range (the finite band centres) moved inward by one step
/// and rounded inward to multiples of the step, so that every output band has input bands on
/// both sides: 383–2500 nm input gives 400, 410, …, 2490. Grid bands that cannot be produced
/// (centre in a bad-band range, or no kept input band within half an output FWHM) are left
/// out of the plan's grid; see [`CalibrationPlan`](super::CalibrationPlan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grid {
    /// First centre (nm); default from the sensor range.
    pub start_nm: Option<f32>,
    /// Last centre (nm, inclusive); default from the sensor range.
    pub end_nm: Option<f32>,
    /// Spacing of the centres (nm).
    pub step_nm: f32,
    /// FWHM of each output band's Gaussian response (nm); default `step_nm`.
    pub fwhm_nm: Option<f32>,
}

impl Default for Grid {
    fn default() -> Self {
        Grid {
            start_nm: None,
            end_nm: None,
            step_nm: 10.0,
            fwhm_nm: None,
        }
    }
}

/// Savitzky–Golay smoothing parameters. Smoothing runs over the full output grid, before the
/// band subset is taken, and never across a gap in the grid (see
/// [`savgol`](super::savgol)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavGol {
    /// Window length in output bands: odd, greater than `order`.
    pub window: usize,
    /// Polynomial order.
    pub order: usize,
}

impl CalibrationConfig {
    /// Read and validate a TOML file. Errors are [`Error::Config`] with the path as origin
    /// (an unreadable file included).
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            origin: origin.clone(),
            reason: format!("cannot read the file: {e}"),
        })?;
        Self::from_toml_str(&origin, &text)
    }

    /// Parse and validate TOML text; `origin` names its source in errors.
    pub fn from_toml_str(origin: &str, text: &str) -> Result<Self> {
        let cfg: CalibrationConfig = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|span| {
                let line = text
                    .get(..span.start)
                    .map_or(0, |t| t.matches('\n').count())
                    + 1;
                format!("line {line}: ")
            });
            Error::Config {
                origin: origin.to_owned(),
                reason: format!("{}{}", at.unwrap_or_default(), e.message().trim_end()),
            }
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Serialise to TOML (the inverse of [`from_toml_str`](Self::from_toml_str)).
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config {
            origin: format!("calibration config `{}`", self.name),
            reason: format!("cannot serialise to TOML: {e}"),
        })
    }

    /// Check the values a type cannot express (ranges, lengths, odd windows...).
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| Error::Config {
            origin: origin.to_owned(),
            reason,
        };
        if self.name.is_empty()
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad(format!(
                "name {:?} must be non-empty and use only A-Z a-z 0-9 . _ -",
                self.name
            )));
        }
        if !self.min_denominator.is_finite() || self.min_denominator < 0.0 {
            return Err(bad(format!(
                "min_denominator = {} must be a finite number ≥ 0",
                self.min_denominator
            )));
        }
        if self.binning == 0 || self.binning > MAX_BINNING {
            return Err(bad(format!(
                "binning = {} must be between 1 and {MAX_BINNING}",
                self.binning
            )));
        }
        if let Some(el) = &self.empirical_line {
            el.validate()
                .map_err(|r| bad(format!("empirical_line: {r}")))?;
        }
        for (i, [lo, hi]) in self.bad_bands.ranges_nm.iter().enumerate() {
            if !lo.is_finite() || !hi.is_finite() || lo > hi {
                return Err(bad(format!(
                    "bad_bands.ranges_nm[{i}] = [{lo}, {hi}] must be finite with lo ≤ hi"
                )));
            }
        }
        if let Some(v) = self.bad_bands.drop_above_nm
            && !v.is_finite()
        {
            return Err(bad(format!("bad_bands.drop_above_nm = {v} must be finite")));
        }
        self.grid
            .validate()
            .map_err(|r| bad(format!("grid: {r}")))?;
        if let Some(subset) = &self.band_subset_nm {
            if subset.is_empty() {
                return Err(bad(
                    "band_subset_nm is empty: omit it to keep every band".into()
                ));
            }
            if let Some(v) = subset.iter().find(|v| !v.is_finite()) {
                return Err(bad(format!("band_subset_nm holds a non-finite value {v}")));
            }
        }
        if let Some(sg) = self.savgol {
            sg.validate().map_err(|r| bad(format!("savgol: {r}")))?;
        }
        Ok(())
    }

    /// The output FWHM in nm (`grid.fwhm_nm`, else `grid.step_nm`).
    pub fn output_fwhm_nm(&self) -> f32 {
        self.grid.fwhm_nm.unwrap_or(self.grid.step_nm)
    }
}

impl EmpiricalLine {
    fn validate(&self) -> std::result::Result<(), String> {
        let n = self.wavelength_nm.len();
        if n == 0 {
            return Err("wavelength_nm is empty".into());
        }
        if self.gain.len() != n || self.offset.len() != n {
            return Err(format!(
                "wavelength_nm, gain and offset must have the same length (found {n}, {}, {})",
                self.gain.len(),
                self.offset.len()
            ));
        }
        let all = self
            .wavelength_nm
            .iter()
            .chain(&self.gain)
            .chain(&self.offset);
        if let Some(v) = all.into_iter().find(|v| !v.is_finite()) {
            return Err(format!("non-finite value {v}"));
        }
        if self.wavelength_nm.windows(2).any(|w| w[0] >= w[1]) {
            return Err("wavelength_nm must be strictly increasing".into());
        }
        Ok(())
    }

    /// The coefficients `(a, c)` at `nm`: linear between knots, constant beyond the ends.
    pub fn coefficients_at(&self, nm: f32) -> (f32, f32) {
        let knots = &self.wavelength_nm;
        // Index of the first knot strictly above `nm`.
        let hi = knots.partition_point(|&k| k <= nm);
        let pick = |i: usize| {
            (
                self.gain.get(i).copied().unwrap_or(1.0),
                self.offset.get(i).copied().unwrap_or(0.0),
            )
        };
        if hi == 0 {
            return pick(0);
        }
        if hi >= knots.len() {
            return pick(knots.len().saturating_sub(1));
        }
        let (lo_nm, hi_nm) = (knots[hi - 1], knots[hi]);
        let t = (nm - lo_nm) / (hi_nm - lo_nm);
        let ((a0, c0), (a1, c1)) = (pick(hi - 1), pick(hi));
        (a0 + t * (a1 - a0), c0 + t * (c1 - c0))
    }
}

impl Grid {
    fn validate(&self) -> std::result::Result<(), String> {
        if !self.step_nm.is_finite() || self.step_nm <= 0.0 {
            return Err(format!(
                "step_nm = {} must be a positive number",
                self.step_nm
            ));
        }
        if let Some(f) = self.fwhm_nm
            && (!f.is_finite() || f <= 0.0)
        {
            return Err(format!("fwhm_nm = {f} must be a positive number"));
        }
        for (key, v) in [("start_nm", self.start_nm), ("end_nm", self.end_nm)] {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                return Err(format!("{key} = {v} must be a finite number ≥ 0"));
            }
        }
        if let (Some(s), Some(e)) = (self.start_nm, self.end_nm) {
            if s > e {
                return Err(format!("start_nm = {s} is above end_nm = {e}"));
            }
            let n = ((e - s) / self.step_nm).floor() as f64 + 1.0;
            if n > MAX_GRID_BANDS as f64 {
                return Err(format!("{n} grid bands is above {MAX_GRID_BANDS}"));
            }
        }
        Ok(())
    }
}

impl SavGol {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.window.is_multiple_of(2)
            || self.window <= self.order
            || self.window > MAX_SAVGOL_WINDOW
        {
            return Err(format!(
                "window = {} must be odd, greater than order = {} and at most {MAX_SAVGOL_WINDOW}",
                self.window, self.order
            ));
        }
        Ok(())
    }
}

/// `Option<f32>` as a TOML number, or `false` for `None` (TOML has no null).
mod number_or_false {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrFlag {
        Number(f32),
        Flag(bool),
    }

    pub(super) fn serialize<S: Serializer>(v: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_f32(*x),
            None => s.serialize_bool(false),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f32>, D::Error> {
        match NumberOrFlag::deserialize(d)? {
            NumberOrFlag::Number(x) => Ok(Some(x)),
            NumberOrFlag::Flag(false) => Ok(None),
            NumberOrFlag::Flag(true) => Err(D::Error::custom(
                "expected a wavelength in nm, or `false` to keep every band",
            )),
        }
    }
}
