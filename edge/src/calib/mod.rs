//! Calibration (DESIGN §5): raw cube blocks in, calibrated blocks on the standard band grid
//! out.
//!
//! ## Pipeline
//! A [`CalibrationPlan`] is built once per cube from its [`CubeInfo`](crate::cube::CubeInfo)
//! and a [`CalibrationConfig`]; a [`Calibrator`] then turns each [`LineBlock`] into a
//! [`CalibratedBlock`]:
//!
//! 1. radiometric calibration, folded with the empirical line into one multiply-add per
//!    value ([`radiometric`]): flat field `ρ·(DN − dark)/(white − dark)` → reflectance, or
//!    gains `gain·(DN − dark) + offset` → radiance, or pass-through;
//! 2. bad-band removal ([`badbands`]): ranges, `drop_above_nm`, ENVI `bbl`, non-finite;
//! 3. Gaussian resampling to the grid ([`resample`]), one GEMM per block;
//! 4. optional k×k binning ([`binning`]) and Savitzky–Golay smoothing ([`savgol`]).
//!
//! Every output carries the plan's `calibration_version` ([`version`]), a name plus a hash of
//! the configuration and all calibration inputs.
//!
//! ## Output block
//! `CalibratedBlock::data` is `[out_lines, out_samples, grid]` with `out_lines =
//! ceil(lines / k)` for the block and `out_samples = ceil(samples / k)`; its `first_line` is
//! the input block's first line divided by k. Blocks must start on a multiple of k, and only
//! the cube's last block may have a line count that is not a multiple of k. No-data pixels
//! (and bins without a valid pixel) are NaN in every band.
//!
//! ## Example
//! ```no_run
//! use hsi_edge::calib::{CalibrationConfig, CalibrationPlan, Calibrator, CpuCalibrator};
//! use hsi_edge::cube::CubeReader;
//!
//! # fn main() -> hsi_edge::Result<()> {
//! let mut reader = hsi_edge::read::open(std::path::Path::new("cube.h5"))?;
//! let cfg = CalibrationConfig::from_toml_str("inline", "binning = 2")?;
//! let plan = CalibrationPlan::build(reader.info(), &cfg)?;
//! let mut cpu = CpuCalibrator::default();
//! for block in hsi_edge::cube::blocks(reader.as_mut(), 64) {
//!     let out = cpu.calibrate(&plan, &block?)?;
//!     println!("{} lines from output line {}", out.data.dim().0, out.first_line);
//! }
//! # Ok(()) }
//! ```

use ndarray::Array3;

use crate::cube::{LineBlock, StoredBlock};
use crate::error::Result;

pub mod badbands;
pub mod binning;
pub mod blocks;
pub mod config;
pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod plan;
pub mod radiometric;
pub mod resample;
pub mod savgol;
pub mod select;
pub mod taps;
pub mod version;

pub use config::{BadBands, CalibrationConfig, EmpiricalLine, Grid, SavGol};
pub use cpu::{CpuCalibrator, Product};
pub use plan::{CalibrationPlan, GatherRun};
pub use radiometric::{Radiometric, RadiometricMode};
pub use version::calibration_version;

/// A calibrated block `[out_lines, out_samples, grid bands]`; no-data pixels are NaN.
#[derive(Debug, Clone)]
pub struct CalibratedBlock {
    /// First output line: the input block's first line divided by the binning factor.
    pub first_line: usize,
    /// Values, `[out_lines_in_block, out_samples, grid_nm.len()]`.
    pub data: Array3<f32>,
}

/// A calibration backend (CPU here; a GPU backend implements the same trait).
pub trait Calibrator: Send {
    /// Name for logs/metrics.
    fn name(&self) -> &'static str;
    /// Calibrate one block with a plan built for its cube.
    fn calibrate(&mut self, plan: &CalibrationPlan, block: &LineBlock) -> Result<CalibratedBlock>;

    /// [`calibrate`](Self::calibrate) a block in the cube's stored element type: the same
    /// output. Backends that convert while they compute override it; the default converts
    /// the block to `f32` first.
    fn calibrate_stored(
        &mut self,
        plan: &CalibrationPlan,
        block: &StoredBlock,
    ) -> Result<CalibratedBlock> {
        self.calibrate(plan, &block.to_f32())
    }

    /// Give back the buffer of a block this calibrator produced, once nothing refers to it
    /// any more, for a later block's output: a fresh buffer would be zero-filled first. The
    /// default drops it.
    fn recycle(&mut self, buffer: Vec<f32>) {
        drop(buffer);
    }
}
