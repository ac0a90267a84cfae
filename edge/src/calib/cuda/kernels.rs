//! The CUDA C kernels, compiled at run time with NVRTC for the device's architecture (a CUBIN
//! for `sm_XY`, else PTX that the driver JIT-compiles), and their launchers.
//!
//! | kernel | work | mirrors (CPU) |
//! |---|---|---|
//! | `calibrate_u16`, `calibrate_f32` | raw `[pixels, bands]` → `[pixels, kept]`, data flags | `calibrate_pixel` |
//! | `bin_mean` | `[pixels, kept]` → `[bins, kept]` means of valid pixels, flags | `BinSums` |
//! | `mask_nodata` | NaN into every band of rows without data | end of `calibrate` |
//!
//! **Bit-for-bit with the CPU.** The radiometric map is `raw·factor + offset` with two
//! roundings (`__fmul_rn`, `__fadd_rn`), as Rust computes `x * f + g` (it never contracts to an
//! FMA); binning adds a bin's pixels in the CPU's order (lines, then samples) and multiplies by
//! the correctly rounded `1/count`. The program is compiled with `--fmad=false --ftz=false
//! --prec-div=true`, so the calibrated, binned matrix is identical to the CPU's; only the GEMM
//! (cuBLAS vs matrixmultiply summation order) differs, by a few ULP.
//!
//! **Layout.** One warp per pixel in `calibrate_*`: lanes walk the kept bands, so reads of the
//! raw row (kept bands come in contiguous runs) and writes of the gathered row are coalesced;
//! the warp votes (`__all_sync`/`__any_sync`) on "every kept band is the fill value" and "some
//! value is not finite". `bin_mean` and `mask_nodata` use one thread per output element, bands
//! fastest. All loops are grid-stride, so any size runs with a capped grid.

use std::sync::Arc;

use super::device::unavailable;
use super::nvrtc;
use crate::error::Result;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DriverError, LaunchConfig, PushKernelArg,
};

/// The CUDA C source of the module.
pub const SOURCE: &str = r#"
#define FULL_MASK 0xffffffffu

template <typename T>
__device__ __forceinline__ void calibrate_gather(
    const T* __restrict__ raw, const int* __restrict__ src,
    const float* __restrict__ factor, const float* __restrict__ offset, int per_sample,
    long long pixels, int samples, int bands, int kept, int has_fill, float fill,
    float* __restrict__ out, unsigned char* __restrict__ valid)
{
    const int lane = threadIdx.x & 31;
    const long long warps = blockDim.x >> 5;
    const long long stride = (long long)gridDim.x * warps;
    long long p = (long long)blockIdx.x * warps + (threadIdx.x >> 5);
    for (; p < pixels; p += stride) {
        const T* px = raw + p * bands;
        const long long row = per_sample ? (p % samples) : 0;
        const float* f = factor + row * kept;
        const float* g = offset + row * kept;
        float* o = out + p * kept;
        bool all_fill = has_fill != 0;
        bool bad = false;
        for (int k = lane; k < kept; k += 32) {
            const float x = (float)px[src[k]];
            const float v = __fadd_rn(__fmul_rn(x, f[k]), g[k]);
            o[k] = v;
            all_fill = all_fill && (x == fill);
            bad = bad || !isfinite(v);
        }
        all_fill = __all_sync(FULL_MASK, all_fill);
        bad = __any_sync(FULL_MASK, bad);
        if (lane == 0) {
            valid[p] = (all_fill || bad) ? 0 : 1;
        }
    }
}

extern "C" __global__ void calibrate_u16(
    const unsigned short* raw, const int* src, const float* factor, const float* offset,
    int per_sample, long long pixels, int samples, int bands, int kept, int has_fill, float fill,
    float* out, unsigned char* valid)
{
    calibrate_gather<unsigned short>(raw, src, factor, offset, per_sample, pixels, samples,
                                     bands, kept, has_fill, fill, out, valid);
}

extern "C" __global__ void calibrate_f32(
    const float* raw, const int* src, const float* factor, const float* offset,
    int per_sample, long long pixels, int samples, int bands, int kept, int has_fill, float fill,
    float* out, unsigned char* valid)
{
    calibrate_gather<float>(raw, src, factor, offset, per_sample, pixels, samples,
                            bands, kept, has_fill, fill, out, valid);
}

extern "C" __global__ void bin_mean(
    const float* __restrict__ gathered, const unsigned char* __restrict__ valid,
    int lines, int samples, int kept, int k, int out_samples, long long bins,
    float* __restrict__ out, unsigned char* __restrict__ bin_valid)
{
    const long long total = bins * kept;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long bin = i / kept;
        const int c = (int)(i - bin * kept);
        const long long bl = bin / out_samples;
        const long long bs = bin - bl * out_samples;
        float sum = 0.0f;
        unsigned int count = 0;
        for (int dl = 0; dl < k; ++dl) {
            const long long l = bl * k + dl;
            if (l >= lines) break;
            for (int ds = 0; ds < k; ++ds) {
                const long long s = bs * k + ds;
                if (s >= samples) break;
                const long long p = l * samples + s;
                if (valid[p]) {
                    sum = __fadd_rn(sum, gathered[p * kept + c]);
                    ++count;
                }
            }
        }
        out[i] = count > 0 ? __fmul_rn(sum, __fdiv_rn(1.0f, (float)count)) : 0.0f;
        if (c == 0) {
            bin_valid[bin] = count > 0 ? 1 : 0;
        }
    }
}

extern "C" __global__ void mask_nodata(
    float* __restrict__ out, const unsigned char* __restrict__ valid, long long rows, int grid)
{
    const long long total = rows * grid;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        if (!valid[i / grid]) {
            out[i] = __int_as_float(0x7fc00000);
        }
    }
}
"#;

/// Threads per block of every launch (a multiple of the warp size).
const THREADS: u32 = 256;
/// Grid cap; the kernels' grid-stride loops cover the rest.
const MAX_BLOCKS: u64 = 1 << 20;

/// The loaded kernels.
#[derive(Debug)]
pub(crate) struct Kernels {
    calibrate_u16: CudaFunction,
    calibrate_f32: CudaFunction,
    bin_mean: CudaFunction,
    mask_nodata: CudaFunction,
}

/// How a chunk's raw values travel and are read: packed `u16` (whole numbers 0..=65535, half
/// the bytes) or `f32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Every value of the chunk is a whole number in `0..=65535` (raw DN).
    U16,
    /// Anything else (radiance, reflectance, NaN fill...).
    F32,
}

impl InputKind {
    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            InputKind::U16 => 2,
            InputKind::F32 => 4,
        }
    }
}

/// Scalars of a `calibrate_*` launch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CalibrateDims {
    pub per_sample: i32,
    pub pixels: i64,
    pub samples: i32,
    pub bands: i32,
    pub kept: i32,
    pub has_fill: i32,
    pub fill: f32,
}

/// Scalars of a `bin_mean` launch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BinDims {
    pub lines: i32,
    pub samples: i32,
    pub kept: i32,
    pub k: i32,
    pub out_samples: i32,
    pub bins: i64,
}

fn grid_for(work: u64, per_block: u64) -> LaunchConfig {
    let blocks = work.div_ceil(per_block).clamp(1, MAX_BLOCKS) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl Kernels {
    /// Compile [`SOURCE`] for compute capability `cc` (see `nvrtc.rs` for the CUBIN → PTX
    /// fallbacks) and load it into `ctx`.
    pub(crate) fn load(ctx: &Arc<CudaContext>, ordinal: usize, cc: (i32, i32)) -> Result<Self> {
        let mut failures = vec![];
        for target in nvrtc::targets(cc) {
            let loaded = nvrtc::compile(SOURCE, &target).and_then(|image| {
                ctx.load_module(image)
                    .map_err(|e| format!("loading the module: {e}"))
            });
            match loaded {
                Ok(module) => {
                    if !failures.is_empty() {
                        tracing::debug!(
                            %target,
                            earlier = ?failures,
                            "CUDA kernels loaded after a fallback"
                        );
                    }
                    let func = |name: &str| {
                        module
                            .load_function(name)
                            .map_err(|e| unavailable(ordinal, format!("kernel `{name}`: {e}")))
                    };
                    return Ok(Kernels {
                        calibrate_u16: func("calibrate_u16")?,
                        calibrate_f32: func("calibrate_f32")?,
                        bin_mean: func("bin_mean")?,
                        mask_nodata: func("mask_nodata")?,
                    });
                }
                Err(e) => failures.push(format!("{target}: {e}")),
            }
        }
        Err(unavailable(
            ordinal,
            format!(
                "the kernels could not be compiled (NVRTC) or loaded: {}",
                failures.join("; ")
            ),
        ))
    }

    /// Radiometric map + gather + data flags (see the [module docs](self)).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn calibrate(
        &self,
        stream: &CudaStream,
        kind: InputKind,
        raw: &CudaSlice<f32>,
        src: &CudaSlice<i32>,
        factor: &CudaSlice<f32>,
        offset: &CudaSlice<f32>,
        d: CalibrateDims,
        out: &mut CudaSlice<f32>,
        valid: &mut CudaSlice<u8>,
    ) -> Result<(), DriverError> {
        let func = match kind {
            InputKind::U16 => &self.calibrate_u16,
            InputKind::F32 => &self.calibrate_f32,
        };
        let mut b = stream.launch_builder(func);
        b.arg(raw)
            .arg(src)
            .arg(factor)
            .arg(offset)
            .arg(&d.per_sample)
            .arg(&d.pixels)
            .arg(&d.samples)
            .arg(&d.bands)
            .arg(&d.kept)
            .arg(&d.has_fill)
            .arg(&d.fill)
            .arg(out)
            .arg(valid);
        let warps_per_block = u64::from(THREADS / 32);
        // SAFETY: the arguments match `calibrate_u16`/`calibrate_f32` in order and type
        // (`raw` is a device pointer; for `U16` the caller has copied packed u16 values into
        // it, which the kernel reads as `unsigned short`). The caller sized the buffers: `raw`
        // holds `pixels·bands` values, `src` `kept` band indices below `bands`, `factor` and
        // `offset` `kept` values per row (`samples` rows when `per_sample`), `out`
        // `pixels·kept` floats and `valid` `pixels` bytes; the kernel touches nothing else.
        unsafe { b.launch(grid_for(d.pixels as u64, warps_per_block)) }?;
        Ok(())
    }

    /// Mean of the valid pixels of each k×k bin.
    pub(crate) fn bin_mean(
        &self,
        stream: &CudaStream,
        gathered: &CudaSlice<f32>,
        valid: &CudaSlice<u8>,
        d: BinDims,
        out: &mut CudaSlice<f32>,
        bin_valid: &mut CudaSlice<u8>,
    ) -> Result<(), DriverError> {
        let mut b = stream.launch_builder(&self.bin_mean);
        b.arg(gathered)
            .arg(valid)
            .arg(&d.lines)
            .arg(&d.samples)
            .arg(&d.kept)
            .arg(&d.k)
            .arg(&d.out_samples)
            .arg(&d.bins)
            .arg(out)
            .arg(bin_valid);
        let work = d.bins as u64 * d.kept as u64;
        // SAFETY: the arguments match `bin_mean` in order and type. `gathered` holds
        // `lines·samples·kept` floats and `valid` `lines·samples` flags; `bins` is
        // `ceil(lines/k)·out_samples` with `out_samples = ceil(samples/k)`, so every pixel index
        // the kernel forms is below `lines·samples`; `out` holds `bins·kept` floats and
        // `bin_valid` `bins` bytes.
        unsafe { b.launch(grid_for(work, u64::from(THREADS))) }?;
        Ok(())
    }

    /// NaN into every band of the rows whose flag is 0.
    pub(crate) fn mask_nodata(
        &self,
        stream: &CudaStream,
        out: &mut CudaSlice<f32>,
        valid: &CudaSlice<u8>,
        rows: i64,
        grid: i32,
    ) -> Result<(), DriverError> {
        let mut b = stream.launch_builder(&self.mask_nodata);
        b.arg(out).arg(valid).arg(&rows).arg(&grid);
        let work = rows as u64 * grid as u64;
        // SAFETY: the arguments match `mask_nodata` in order and type; `out` holds `rows·grid`
        // floats and `valid` `rows` flags.
        unsafe { b.launch(grid_for(work, u64::from(THREADS))) }?;
        Ok(())
    }
}
