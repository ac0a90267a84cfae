//! Calibration (DESIGN §5). CONTRACT STUB: to be implemented.
use ndarray::Array3;
use serde::{Deserialize, Serialize};

use crate::cube::{CubeInfo, LineBlock};
use crate::error::{Error, Result};

/// Calibration settings (TOML).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    /// Name, first part of `calibration_version`.
    pub name: String,
    /// k×k spatial binning (1 = none).
    pub binning: usize,
    /// Keep only the grid bands nearest to these wavelengths (the `field` profile).
    pub band_subset_nm: Option<Vec<f32>>,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            name: "default".into(),
            binning: 1,
            band_subset_nm: None,
        }
    }
}

/// Everything precomputed for one cube.
#[derive(Debug, Clone)]
pub struct CalibrationPlan {
    /// `calibration_version`.
    pub version: String,
    /// Output band centres, nm.
    pub grid_nm: Vec<f32>,
    /// Binning factor.
    pub binning: usize,
    /// Output lines.
    pub out_lines: usize,
    /// Output samples.
    pub out_samples: usize,
}

impl CalibrationPlan {
    /// Build the plan.
    pub fn build(info: &CubeInfo, _cfg: &CalibrationConfig) -> Result<Self> {
        Err(Error::Calibration {
            cube_id: info.header.cube_id.clone(),
            reason: "not yet".into(),
        })
    }
}

/// A calibrated block `[out_lines, out_samples, grid bands]`; no-data pixels are NaN.
#[derive(Debug, Clone)]
pub struct CalibratedBlock {
    /// First output line.
    pub first_line: usize,
    /// Values.
    pub data: Array3<f32>,
}

/// A calibration backend.
pub trait Calibrator: Send {
    /// Name for logs/metrics.
    fn name(&self) -> &'static str;
    /// Calibrate one block.
    fn calibrate(&mut self, plan: &CalibrationPlan, block: &LineBlock) -> Result<CalibratedBlock>;
}

/// CPU backend.
#[derive(Debug, Default)]
pub struct CpuCalibrator;

impl Calibrator for CpuCalibrator {
    fn name(&self) -> &'static str {
        "cpu"
    }
    fn calibrate(
        &mut self,
        _plan: &CalibrationPlan,
        _block: &LineBlock,
    ) -> Result<CalibratedBlock> {
        Err(Error::Calibration {
            cube_id: String::new(),
            reason: "not yet".into(),
        })
    }
}
