//! The CUDA calibration backend (feature `cuda`): the same [`CalibratedBlock`]s as
//! [`CpuCalibrator`](super::CpuCalibrator), computed on an NVIDIA GPU.
//!
//! ## Per chunk, on one CUDA stream
//! 1. pinned host → device copy of the raw values, packed as `u16` when every value of the
//!    chunk is a whole number in `0..=65535` (raw DN: half the bytes), else `f32`;
//! 2. **one fused elementwise kernel** (`calibrate_u16`/`calibrate_f32`, compiled at run time
//!    with NVRTC): bad-band gather into the kept-band contiguous layout, the folded flat
//!    field / gain / empirical line `raw·factor + offset`, and the per-pixel no-data flag;
//! 3. with k > 1, **k×k binning** (`bin_mean`), before the GEMM as on the CPU (binning
//!    commutes with the linear resampling, so the GEMM shrinks k² times);
//! 4. **spectral resampling** (with the Savitzky–Golay filter folded in) as one cuBLAS `sgemm`,
//!    in FP32 (TF32 disabled);
//! 5. NaN into every band of rows without data (`mask_nodata`);
//! 6. device → pinned host copy of the result.
//!
//! The kernels mirror the CPU's arithmetic exactly (see [`kernels`]), so the calibrated and
//! binned values are bit-identical and the outputs differ only by the GEMM's summation order
//! (a few ULP; the `cuda_parity` tests bound it by 1e-4 in reflectance).
//!
//! ## Streaming and memory
//! Blocks are cut into chunks of about [`CudaOptions::chunk_bytes`] (whole multiples of k
//! lines), and chunks go round-robin through [`CudaOptions::streams`] slots, each a CUDA stream
//! with its own pinned and device buffers sized for one chunk. With three slots the copy-in of
//! chunk i+1, the kernels of chunk i and the copy-out of chunk i−1 run at the same time, while
//! the host stages the next chunk. Device memory is bounded by `streams × chunk size × a
//! small factor` whatever the size of the blocks or of the cube. Use
//! [`CudaCalibrator::calibrate_stream`] (or [`run_blocks`]) to keep the pipeline full across
//! blocks; [`Calibrator::calibrate`] overlaps the chunks of one block only.
//!
//! ## Errors
//! Opening fails with [`Error::Config`] when there is no driver, no device, or NVRTC or cuBLAS
//! cannot be loaded (see [`device`]), or when the one-value self-test of copies and a kernel
//! launch fails on a stream. A failure while calibrating is an [`Error::Calibration`] naming
//! the cube and the CUDA step.
#![allow(unsafe_code)]

pub mod device;
mod geometry;
pub mod kernels;
mod nvrtc;
pub mod profile;
mod slot;
mod stream;

use std::sync::Arc;

use cudarc::driver::CudaContext;

pub use device::{DeviceInfo, fp32_lanes_per_sm, opened_device};
pub use kernels::{InputKind, SOURCE as KERNEL_SOURCE};
pub use profile::KernelProfile;
pub use stream::run_blocks;

use self::geometry::{Constants, Geometry, HostConstants};
use self::kernels::Kernels;
use self::slot::Slot;
// The CPU backend's block check: both backends accept and reject the same blocks.
use super::cpu::check_block;
use super::{CalibratedBlock, CalibrationPlan, Calibrator};
use crate::cube::LineBlock;
use crate::error::{Error, Result};

/// Tuning of the CUDA backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaOptions {
    /// Device ordinal.
    pub ordinal: usize,
    /// CUDA streams (slots of chunks in flight), 2..=8; 3 overlaps copy-in, compute and
    /// copy-out.
    pub streams: usize,
    /// Target chunk size in bytes of `f32` input (rounded to whole multiples of k lines, at
    /// least k lines). Device memory is a few times this per stream.
    pub chunk_bytes: usize,
    /// Send whole-number chunks as `u16` (half the bytes over the bus).
    pub pack_u16: bool,
}

impl Default for CudaOptions {
    fn default() -> Self {
        CudaOptions {
            ordinal: 0,
            streams: 3,
            chunk_bytes: 16 << 20,
            pack_u16: true,
        }
    }
}

/// The CUDA backend (see the [module docs](self)).
#[derive(Debug)]
pub struct CudaCalibrator {
    ctx: Arc<CudaContext>,
    info: DeviceInfo,
    options: CudaOptions,
    kernels: Kernels,
    slots: Vec<Slot>,
    constants: Option<Constants>,
    queue: stream::Queue,
}

impl CudaCalibrator {
    /// Open device 0 with the default [`CudaOptions`].
    ///
    /// Errors: [`Error::Config`] when no usable device, driver, NVRTC or cuBLAS is found.
    pub fn new() -> Result<Self> {
        Self::with_options(CudaOptions::default())
    }

    /// Open a device: load the libraries, compile the kernels, create the streams.
    pub fn with_options(options: CudaOptions) -> Result<Self> {
        let options = CudaOptions {
            streams: options.streams.clamp(2, 8),
            chunk_bytes: options.chunk_bytes.max(1),
            ..options
        };
        let ordinal = options.ordinal;
        let (ctx, info) = device::open(ordinal)?;
        let (kernels, slots) = device::guarded(ordinal, "setting up", || {
            let kernels = Kernels::load(&ctx, ordinal, info.compute_capability)?;
            let slots = (0..options.streams)
                .map(|_| {
                    let mut slot = Slot::new(&ctx)?;
                    slot.self_test(&kernels)?;
                    Ok(slot)
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| device::unavailable(ordinal, e))?;
            Ok((kernels, slots))
        })?;
        device::remember(&info);
        tracing::debug!(
            device = %info.describe(),
            streams = options.streams,
            "CUDA calibrator ready"
        );
        Ok(CudaCalibrator {
            ctx,
            info,
            options,
            kernels,
            slots,
            constants: None,
            queue: stream::Queue::default(),
        })
    }

    /// The device in use.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// `"cuda: NVIDIA H100 80GB HBM3 (sm_90)"`.
    pub fn description(&self) -> String {
        format!("cuda: {}", self.info.describe())
    }

    /// The options in effect (after clamping).
    pub fn options(&self) -> &CudaOptions {
        &self.options
    }

    /// Make the device ready for `plan`: upload its constants when they changed. Slots are
    /// sized for its chunks when first used (`Slot::reserve`). Nothing may be in flight.
    fn prepare(&mut self, plan: &CalibrationPlan) -> Result<Geometry> {
        if !self.queue.is_idle() {
            self.abandon();
        }
        let geometry = Geometry::new(plan, self.options.chunk_bytes)?;
        if self
            .constants
            .as_ref()
            .is_none_or(|c| !c.host.matches(plan))
        {
            let host = HostConstants::of(plan)?;
            self.constants = None;
            let stream = &self
                .slots
                .first()
                .ok_or_else(|| failed(plan, "no stream"))?
                .stream;
            self.constants = Some(Constants::upload(stream, host).map_err(|e| failed(plan, e))?);
        }
        Ok(geometry)
    }

    /// Drop whatever is in flight after an error: wait for every stream, forget the chunks.
    fn abandon(&mut self) {
        for slot in &self.slots {
            let _ = slot.stream.synchronize();
        }
        let _ = self.ctx.check_err();
        self.queue = stream::Queue::default();
    }
}

impl Calibrator for CudaCalibrator {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn calibrate(&mut self, plan: &CalibrationPlan, block: &LineBlock) -> Result<CalibratedBlock> {
        self.calibrate_one(plan, block)
    }
}

/// An error while calibrating on the device.
fn failed(plan: &CalibrationPlan, reason: impl std::fmt::Display) -> Error {
    Error::Calibration {
        cube_id: plan.cube_id().to_owned(),
        reason: format!("CUDA: {reason}"),
    }
}
