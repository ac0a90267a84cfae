//! One [`Slot`] per CUDA stream: the device and pinned host buffers of one chunk in flight,
//! and the steps that run a chunk (sized by [`Geometry`](super::geometry::Geometry)).
//!
//! ## Per-slot buffers (`P = chunk pixels`, `B = chunk bins`, `R = B` if k > 1 else `P`)
//! | buffer | where | elements |
//! |---|---|---|
//! | `host_in` | pinned, write-combined | `P·bands` `f32` words (packed `u16`: first half) |
//! | `raw` | device | `P·bands` `f32` words |
//! | `gathered`, `valid` | device | `P·kept` `f32`, `P` flags |
//! | `binned`, `bin_valid` | device (k > 1) | `B·kept` `f32`, `B` flags |
//! | `out` | device | `R·grid` `f32` |
//! | `host_out` | pinned (cached: the host reads it) | `R·grid` `f32` |
//!
//! ## Host-side ordering
//! Copies from `host_in` are issued from a plain slice of pinned memory, so they are truly
//! asynchronous and cudarc does not track them: the slot's `done` event, recorded after the
//! chunk's last operation, is waited on before `host_in` is written again or `host_out` read
//! (see [`stream`](super::stream)).

use std::sync::Arc;

use cudarc::cublas::sys::{cublasMath_t, cublasOperation_t};
use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
use cudarc::driver::sys::{CU_MEMHOSTALLOC_WRITECOMBINED, CUevent_flags};
use cudarc::driver::{
    CudaContext, CudaEvent, CudaSlice, CudaStream, DeviceRepr, DriverError, PinnedHostSlice,
    ValidAsZeroBits,
};

use super::geometry::{Constants, Counts, Geometry};
use super::kernels::{BinDims, CalibrateDims, InputKind, Kernels};

/// One stream and the buffers of one chunk in flight.
#[derive(Debug)]
pub(crate) struct Slot {
    pub stream: Arc<CudaStream>,
    blas: CudaBlas,
    /// Recorded after the chunk's last operation (blocking sync: the host sleeps, not spins).
    pub done: CudaEvent,
    capacity: Counts,
    raw: CudaSlice<f32>,
    gathered: CudaSlice<f32>,
    valid: CudaSlice<u8>,
    binned: CudaSlice<f32>,
    bin_valid: CudaSlice<u8>,
    out: CudaSlice<f32>,
    host_in: PinnedHostSlice<f32>,
    host_out: PinnedHostSlice<f32>,
}

fn device_alloc<T: DeviceRepr + ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    len: usize,
) -> Result<CudaSlice<T>, DriverError> {
    stream.alloc_zeros::<T>(len.max(1))
}

fn pinned_alloc(
    ctx: &Arc<CudaContext>,
    len: usize,
    flags: u32,
) -> Result<PinnedHostSlice<f32>, DriverError> {
    // SAFETY: the allocation is uninitialised; it is zeroed below before anything reads it,
    // and f32 has no invalid bit patterns.
    let mut host = unsafe { ctx.alloc_pinned_with_flags::<f32>(len.max(1), flags) }?;
    host.as_mut_slice()?.fill(0.0);
    Ok(host)
}

/// Reinterpret `f32` words as twice as many `u16`.
fn as_u16(words: &[f32]) -> &[u16] {
    // SAFETY: u16's alignment (2) divides f32's (4), so the pointer is aligned; the new slice
    // covers exactly the same `4·len` bytes; every bit pattern is a valid u16; the shared
    // borrow of `words` is carried over.
    unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u16>(), words.len() * 2) }
}

/// Mutable [`as_u16`].
fn as_u16_mut(words: &mut [f32]) -> &mut [u16] {
    // SAFETY: as in `as_u16`; the exclusive borrow of `words` is carried over, so the new slice
    // is the only access to those bytes while it lives.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u16>(), words.len() * 2) }
}

/// Pack `src` into `dst` as u16 if every value is a whole number in `0..=65535` (bit-exact,
/// so `-0.0` and NaN are refused); stops at the first 4096-value run that is not.
fn pack_u16(src: &[f32], dst: &mut [u16]) -> bool {
    if src.len() > dst.len() {
        return false;
    }
    for (s, d) in src.chunks(4096).zip(dst.chunks_mut(4096)) {
        let mut ok = true;
        for (&v, o) in s.iter().zip(d.iter_mut()) {
            let u = v as u16;
            *o = u;
            ok &= f32::from(u).to_bits() == v.to_bits();
        }
        if !ok {
            return false;
        }
    }
    true
}

/// A step's error: what was being done, and the driver's or cuBLAS's words.
pub(crate) type StepResult<T = ()> = std::result::Result<T, String>;

pub(crate) fn step(what: &'static str) -> impl Fn(DriverError) -> String {
    move |e| format!("{what}: {e}")
}

fn too_small(what: &str, n: usize) -> String {
    format!("internal: {what} buffer is smaller than the {n} values of the chunk")
}

impl Slot {
    pub(crate) fn new(ctx: &Arc<CudaContext>) -> StepResult<Self> {
        let stream = ctx.new_stream().map_err(step("creating a stream"))?;
        let blas =
            CudaBlas::new(stream.clone()).map_err(|e| format!("creating a cuBLAS handle: {e}"))?;
        // SAFETY: `blas.handle()` is the live handle owned by `blas`. FP32 default math: no
        // TF32 tensor-core rounding, which would break parity with the CPU.
        unsafe {
            cudarc::cublas::sys::cublasSetMathMode(
                *blas.handle(),
                cublasMath_t::CUBLAS_DEFAULT_MATH,
            )
        }
        .result()
        .map_err(|e| format!("setting the cuBLAS math mode: {e}"))?;
        let done = ctx
            .new_event(Some(CUevent_flags::CU_EVENT_BLOCKING_SYNC))
            .map_err(step("creating an event"))?;
        let d = step("allocating buffers");
        Ok(Slot {
            raw: device_alloc(&stream, 0).map_err(&d)?,
            gathered: device_alloc(&stream, 0).map_err(&d)?,
            valid: device_alloc(&stream, 0).map_err(&d)?,
            binned: device_alloc(&stream, 0).map_err(&d)?,
            bin_valid: device_alloc(&stream, 0).map_err(&d)?,
            out: device_alloc(&stream, 0).map_err(&d)?,
            host_in: pinned_alloc(ctx, 0, CU_MEMHOSTALLOC_WRITECOMBINED).map_err(&d)?,
            host_out: pinned_alloc(ctx, 0, 0).map_err(&d)?,
            capacity: Counts::default(),
            stream,
            blas,
            done,
        })
    }

    /// Grow the buffers to hold chunks of `need` (never shrinks). The slot must be idle.
    pub(crate) fn reserve(&mut self, need: Counts) -> StepResult {
        let have = self.capacity;
        let ctx = self.stream.context().clone();
        let d = step("allocating device or pinned host buffers");
        if need.raw > have.raw {
            self.raw = device_alloc(&self.stream, need.raw).map_err(&d)?;
            self.host_in =
                pinned_alloc(&ctx, need.raw, CU_MEMHOSTALLOC_WRITECOMBINED).map_err(&d)?;
            self.capacity.raw = need.raw;
        }
        if need.gathered > have.gathered || need.pixels > have.pixels {
            self.gathered = device_alloc(&self.stream, need.gathered).map_err(&d)?;
            self.valid = device_alloc(&self.stream, need.pixels).map_err(&d)?;
            self.capacity.gathered = need.gathered.max(have.gathered);
            self.capacity.pixels = need.pixels.max(have.pixels);
        }
        if need.binned > have.binned || need.bins > have.bins {
            self.binned = device_alloc(&self.stream, need.binned).map_err(&d)?;
            self.bin_valid = device_alloc(&self.stream, need.bins).map_err(&d)?;
            self.capacity.binned = need.binned.max(have.binned);
            self.capacity.bins = need.bins.max(have.bins);
        }
        if need.out > have.out {
            self.out = device_alloc(&self.stream, need.out).map_err(&d)?;
            self.host_out = pinned_alloc(&ctx, need.out, 0).map_err(&d)?;
            self.capacity.out = need.out;
        }
        Ok(())
    }

    /// Copy a chunk's raw values into `host_in`, packed as u16 when allowed and possible.
    /// Waits for the slot's previous chunk first.
    pub(crate) fn stage(&mut self, raw: &[f32], allow_u16: bool) -> StepResult<InputKind> {
        self.done
            .synchronize()
            .map_err(step("waiting for the previous chunk"))?;
        let host = self
            .host_in
            .as_mut_slice()
            .map_err(step("waiting for the staging buffer"))?;
        let dst = host
            .get_mut(..raw.len())
            .ok_or_else(|| too_small("staging", raw.len()))?;
        if allow_u16 && pack_u16(raw, as_u16_mut(dst)) {
            return Ok(InputKind::U16);
        }
        dst.copy_from_slice(raw);
        Ok(InputKind::F32)
    }

    /// Step 1: `host_in` → `raw`, `n` values.
    pub(crate) fn copy_in(&mut self, kind: InputKind, n: usize) -> StepResult {
        let host = self
            .host_in
            .as_slice()
            .map_err(step("waiting for the staging buffer"))?;
        let copy = step("copying the chunk to the device");
        match kind {
            InputKind::U16 => {
                let src = as_u16(host)
                    .get(..n)
                    .ok_or_else(|| too_small("staging", n))?;
                // SAFETY: the buffer holds `capacity.raw` f32 words, room for twice as many
                // u16, and any bit pattern is a valid u16; the view is written by this copy
                // and read by `calibrate_u16` only.
                let mut dst = unsafe { self.raw.transmute_mut::<u16>(n) }
                    .ok_or_else(|| too_small("device input", n))?;
                self.stream.memcpy_htod(src, &mut dst).map_err(copy)
            }
            InputKind::F32 => {
                let src = host.get(..n).ok_or_else(|| too_small("staging", n))?;
                let mut dst = self
                    .raw
                    .try_slice_mut(..n)
                    .ok_or_else(|| too_small("device input", n))?;
                self.stream.memcpy_htod(src, &mut dst).map_err(copy)
            }
        }
    }

    /// Step 2: the radiometric kernel.
    pub(crate) fn run_calibrate(
        &mut self,
        kernels: &Kernels,
        c: &Constants,
        dims: CalibrateDims,
        kind: InputKind,
    ) -> StepResult {
        kernels
            .calibrate(
                &self.stream,
                kind,
                &self.raw,
                &c.src,
                &c.factor,
                &c.offset,
                dims,
                &mut self.gathered,
                &mut self.valid,
            )
            .map_err(step("launching calibrate"))
    }

    /// Step 3 (k > 1): binning.
    pub(crate) fn run_bin(&mut self, kernels: &Kernels, dims: BinDims) -> StepResult {
        kernels
            .bin_mean(
                &self.stream,
                &self.gathered,
                &self.valid,
                dims,
                &mut self.binned,
                &mut self.bin_valid,
            )
            .map_err(step("launching bin_mean"))
    }

    /// Step 4: `out[rows, grid] = input[rows, kept] · spectral[kept, grid]` (row-major), i.e.
    /// column-major `outᵀ = spectralᵀ · inputᵀ`.
    pub(crate) fn run_gemm(&mut self, c: &Constants, g: &Geometry, rows: usize) -> StepResult {
        let int = |v: usize| i32::try_from(v).map_err(|_| format!("GEMM dimension {v} above i32"));
        let (grid, kept) = (int(g.grid)?, int(g.kept)?);
        let cfg = GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_N,
            transb: cublasOperation_t::CUBLAS_OP_N,
            m: grid,
            n: int(rows)?,
            k: kept,
            alpha: 1.0f32,
            lda: grid,
            ldb: kept,
            beta: 0.0f32,
            ldc: grid,
        };
        let input = if g.k > 1 {
            &self.binned
        } else {
            &self.gathered
        };
        let fits = c.spectral.len() >= g.kept * g.grid
            && input.len() >= rows * g.kept
            && self.out.len() >= rows * g.grid;
        if !fits {
            return Err(too_small("GEMM operand", rows * g.grid));
        }
        // SAFETY: just checked: `spectral` holds `kept·grid` floats (lda = grid), `input`
        // `rows·kept` (ldb = kept) and `out` `rows·grid` (ldc = grid); the handle runs on this
        // slot's stream, which owns `input` and `out`; `spectral` is read-only.
        unsafe { self.blas.gemm(cfg, &c.spectral, input, &mut self.out) }
            .map_err(|e| format!("cuBLAS sgemm: {e}"))
    }

    /// Step 5: NaN into the rows without data.
    pub(crate) fn run_mask(&mut self, kernels: &Kernels, g: &Geometry, rows: usize) -> StepResult {
        let flags = if g.k > 1 {
            &self.bin_valid
        } else {
            &self.valid
        };
        kernels
            .mask_nodata(
                &self.stream,
                &mut self.out,
                flags,
                rows as i64,
                g.grid as i32,
            )
            .map_err(step("launching mask_nodata"))
    }

    /// Step 6: `out` → `host_out`, `n` values, then record `done`.
    pub(crate) fn copy_out(&mut self, n: usize) -> StepResult {
        let src = self
            .out
            .try_slice(..n)
            .ok_or_else(|| too_small("device output", n))?;
        if self.host_out.len() < n {
            return Err(too_small("pinned output", n));
        }
        self.stream
            .memcpy_dtoh(&src, &mut self.host_out)
            .map_err(step("copying the result to the host"))?;
        self.done
            .record(&self.stream)
            .map_err(step("recording the chunk's completion"))
    }

    /// Exercise every driver call the pipeline makes (copies both ways, a kernel launch,
    /// events) on one value: `mask_nodata` with a zero flag must turn it into NaN. Run when
    /// the device is opened, so that a driver missing a symbol fails there, not mid-cube.
    pub(crate) fn self_test(&mut self, kernels: &Kernels) -> StepResult {
        self.reserve(Counts {
            pixels: 1,
            raw: 1,
            gathered: 1,
            bins: 1,
            binned: 1,
            rows: 1,
            out: 1,
        })?;
        self.stage(&[1.0], false)?;
        self.copy_in(InputKind::F32, 1)?;
        self.stream
            .memcpy_dtod(&self.raw.slice(..1), &mut self.out.slice_mut(..1))
            .map_err(step("self-test copy"))?;
        self.stream
            .memset_zeros(&mut self.valid)
            .map_err(step("self-test memset"))?;
        kernels
            .mask_nodata(&self.stream, &mut self.out, &self.valid, 1, 1)
            .map_err(step("self-test launch"))?;
        self.copy_out(1)?;
        match self.output(1)? {
            [v] if v.is_nan() => Ok(()),
            other => Err(format!(
                "self-test: expected NaN from the device, got {other:?}"
            )),
        }
    }

    /// The first `n` output values, once the chunk is done.
    pub(crate) fn output(&self, n: usize) -> StepResult<&[f32]> {
        self.done
            .synchronize()
            .map_err(step("waiting for the chunk"))?;
        let host = self
            .host_out
            .as_slice()
            .map_err(step("waiting for the output buffer"))?;
        host.get(..n).ok_or_else(|| too_small("pinned output", n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_whole_numbers_only() {
        let mut dst = vec![0u16; 4];
        assert!(pack_u16(&[0.0, 1.0, 65535.0, 1234.0], &mut dst));
        assert_eq!(dst, vec![0, 1, 65535, 1234]);
        for bad in [0.5, -1.0, 65536.0, f32::NAN, -0.0, f32::INFINITY] {
            assert!(!pack_u16(&[3.0, bad], &mut dst), "{bad} must not pack");
        }
        assert!(
            !pack_u16(&[1.0, 2.0], &mut [0u16; 1]),
            "too small a destination"
        );
    }

    #[test]
    fn u16_views_cover_the_same_bytes() {
        let mut words = vec![0.0f32; 3];
        as_u16_mut(&mut words).copy_from_slice(&[1, 0, 0, 0x3f80, 0xffff, 0xffff]);
        let w0 = words.first().copied().unwrap_or(0.0);
        assert_eq!(w0.to_bits(), u32::from_ne_bytes(pack_ne(1, 0)));
        assert_eq!(as_u16(&words).len(), 6);
    }

    fn pack_ne(a: u16, b: u16) -> [u8; 4] {
        let (a, b) = (a.to_ne_bytes(), b.to_ne_bytes());
        [a[0], a[1], b[0], b[1]]
    }
}
