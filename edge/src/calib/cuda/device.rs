//! Opening a CUDA device without a CUDA toolkit at build time, and what is known about it.
//!
//! cudarc is built with `dynamic-loading`: `libcuda` (the driver), `libnvrtc` (the run-time
//! compiler) and `libcublas` are looked up with `dlopen` the first time they are used, and
//! cudarc **panics** when one is missing. Opening a device therefore checks that each library
//! can be loaded before anything else is called, and runs the driver calls under
//! [`std::panic::catch_unwind`] as a second line of defence (an old driver that lacks a symbol
//! of the CUDA 12.6 bindings panics on the first call of that symbol). Every failure becomes an
//! [`Error::Config`] that says what is missing, so `--device auto` can fall back to the CPU.
//!
//! ## Peak numbers
//! [`DeviceInfo::peak_bandwidth`] is `2 × memory clock × bus width / 8` (double data rate), from
//! the driver attributes `MEMORY_CLOCK_RATE` (kHz) and `GLOBAL_MEMORY_BUS_WIDTH` (bits).
//! [`DeviceInfo::peak_fp32_flops`] is `SMs × FP32 lanes per SM × 2 (FMA) × SM clock`, the lanes
//! per SM taken from [`fp32_lanes_per_sm`] (NVIDIA's CUDA C Programming Guide, "Arithmetic
//! Instructions" throughput table):
//!
//! | compute capability | FP32 lanes per SM | examples |
//! |---|---|---|
//! | 3.x | 192 | K80 |
//! | 5.x | 128 | Maxwell, Jetson Nano (5.3) |
//! | 6.0 | 64 | P100 |
//! | 6.1, 6.2 | 128 | Pascal consumer, Jetson TX2 |
//! | 7.0, 7.2, 7.5 | 64 | V100, Jetson Xavier, T4 |
//! | 8.0 | 64 | A100 |
//! | 8.6, 8.7, 8.9 | 128 | RTX 30, Jetson Orin, L4/L40 |
//! | 9.0 | 128 | H100, H200 |
//! | 10.x, 11.x, 12.x | 128 | B200, Jetson Thor, RTX 50 |
//!
//! Both are theoretical ceilings at the boost clocks the driver reports; achieved fractions are
//! what the `cuda` bench prints.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use cudarc::driver::CudaContext;
use cudarc::driver::sys::CUdevice_attribute as Attr;

use crate::error::{Error, Result};

/// What the driver reports about the opened device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Device ordinal.
    pub ordinal: usize,
    /// Marketing name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    /// Compute capability `(major, minor)`.
    pub compute_capability: (i32, i32),
    /// Streaming multiprocessors.
    pub multiprocessors: u32,
    /// Peak SM clock, kHz.
    pub clock_khz: u32,
    /// Peak memory clock, kHz.
    pub memory_clock_khz: u32,
    /// Global memory bus width, bits.
    pub memory_bus_bits: u32,
    /// Global memory, bytes.
    pub total_memory_bytes: u64,
}

impl DeviceInfo {
    /// `"NVIDIA H100 80GB HBM3 (sm_90)"`.
    pub fn describe(&self) -> String {
        let (major, minor) = self.compute_capability;
        format!("{} (sm_{major}{minor})", self.name)
    }

    /// Theoretical memory bandwidth, bytes/s: `2 × memory clock × bus width / 8`.
    pub fn peak_bandwidth(&self) -> f64 {
        2.0 * f64::from(self.memory_clock_khz) * 1e3 * f64::from(self.memory_bus_bits) / 8.0
    }

    /// Theoretical FP32 rate, FLOP/s: `SMs × lanes/SM × 2 × clock`; `None` for a compute
    /// capability missing from the [table](self).
    pub fn peak_fp32_flops(&self) -> Option<f64> {
        let (major, minor) = self.compute_capability;
        let lanes = fp32_lanes_per_sm(major, minor)?;
        Some(
            f64::from(self.multiprocessors)
                * f64::from(lanes)
                * 2.0
                * f64::from(self.clock_khz)
                * 1e3,
        )
    }
}

/// FP32 lanes ("CUDA cores") per SM for a compute capability (see the [table](self)).
pub fn fp32_lanes_per_sm(major: i32, minor: i32) -> Option<u32> {
    match (major, minor) {
        (3, _) => Some(192),
        (5, _) => Some(128),
        (6, 0) => Some(64),
        (6, _) => Some(128),
        (7, _) => Some(64),
        (8, 0) => Some(64),
        (8, _) => Some(128),
        (9, 0) => Some(128),
        (10..=12, _) => Some(128),
        _ => None,
    }
}

/// Description of the first device opened in this process (for
/// [`select::describe`](crate::calib::select::describe)).
static OPENED: OnceLock<String> = OnceLock::new();

/// The description of the CUDA device this process calibrates on, once one was opened.
pub fn opened_device() -> Option<&'static str> {
    OPENED.get().map(String::as_str)
}

/// Error for a device that cannot be used.
pub(crate) fn unavailable(ordinal: usize, reason: impl std::fmt::Display) -> Error {
    Error::Config {
        origin: format!("CUDA device {ordinal}"),
        reason: format!("no usable CUDA device: {reason}"),
    }
}

/// Check that the three shared libraries can be loaded, without cudarc's panics.
fn check_libraries(ordinal: usize) -> Result<()> {
    // SAFETY: `is_culib_present` dlopens the library (running its initialisers) and closes it
    // again; these are NVIDIA's own libraries, whose initialisers have no preconditions.
    let driver = unsafe { cudarc::driver::sys::is_culib_present() };
    if !driver {
        return Err(unavailable(
            ordinal,
            "the NVIDIA driver library (libcuda.so) cannot be loaded: no NVIDIA driver is \
             installed, or it is not on the loader path",
        ));
    }
    // SAFETY: as above, for libnvrtc.
    let nvrtc = unsafe { cudarc::nvrtc::sys::is_culib_present() };
    if !nvrtc {
        return Err(unavailable(
            ordinal,
            "the CUDA run-time compiler (libnvrtc.so) cannot be loaded: install the CUDA \
             runtime libraries (cuda-nvrtc) or add them to LD_LIBRARY_PATH",
        ));
    }
    // SAFETY: as above, for libcublas.
    let cublas = unsafe { cudarc::cublas::sys::is_culib_present() };
    if !cublas {
        return Err(unavailable(
            ordinal,
            "cuBLAS (libcublas.so) cannot be loaded: install the CUDA runtime libraries \
             (libcublas) or add them to LD_LIBRARY_PATH",
        ));
    }
    Ok(())
}

/// Run `f`, turning a cudarc panic (missing library or symbol) into an error.
pub(crate) fn guarded<T>(ordinal: usize, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(unavailable(ordinal, format!("{what}: {msg}")))
        }
    }
}

/// Open device `ordinal`: check the libraries, create (retain) its primary context and read
/// its attributes.
pub(crate) fn open(ordinal: usize) -> Result<(Arc<CudaContext>, DeviceInfo)> {
    check_libraries(ordinal)?;
    guarded(ordinal, "opening the device", || {
        let fail = |what: &str, e: cudarc::driver::DriverError| {
            unavailable(ordinal, format!("{what}: {e}"))
        };
        let count = CudaContext::device_count().map_err(|e| fail("cuInit/cuDeviceGetCount", e))?;
        if usize::try_from(count).map_or(true, |c| ordinal >= c) {
            return Err(unavailable(
                ordinal,
                format!("the driver reports {count} device(s)"),
            ));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| fail("creating the context", e))?;
        let attr = |a: Attr| -> Result<u32> {
            let v = ctx
                .attribute(a)
                .map_err(|e| fail(&format!("reading {a:?}"), e))?;
            Ok(u32::try_from(v).unwrap_or(0))
        };
        let info = DeviceInfo {
            ordinal,
            name: ctx.name().map_err(|e| fail("reading the name", e))?,
            compute_capability: ctx
                .compute_capability()
                .map_err(|e| fail("reading the compute capability", e))?,
            multiprocessors: attr(Attr::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?,
            clock_khz: attr(Attr::CU_DEVICE_ATTRIBUTE_CLOCK_RATE)?,
            memory_clock_khz: attr(Attr::CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE)?,
            memory_bus_bits: attr(Attr::CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)?,
            total_memory_bytes: ctx
                .total_mem()
                .map_err(|e| fail("reading the memory size", e))?
                as u64,
        };
        Ok((ctx, info))
    })
}

/// Remember the description of the device in use (first one wins).
pub(crate) fn remember(info: &DeviceInfo) {
    let _ = OPENED.set(info.describe());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h100_sxm() -> DeviceInfo {
        DeviceInfo {
            ordinal: 0,
            name: "NVIDIA H100 80GB HBM3".into(),
            compute_capability: (9, 0),
            multiprocessors: 132,
            clock_khz: 1_980_000,
            memory_clock_khz: 2_619_000,
            memory_bus_bits: 5120,
            total_memory_bytes: 85_000_000_000,
        }
    }

    #[test]
    fn peaks_follow_the_documented_formulas() {
        let d = h100_sxm();
        assert_eq!(d.describe(), "NVIDIA H100 80GB HBM3 (sm_90)");
        // 2 × 2.619 GHz × 5120 bit / 8 = 3352.32 GB/s (NVIDIA quotes 3.35 TB/s).
        assert!((d.peak_bandwidth() - 3_352.32e9).abs() < 1e3);
        // 132 SMs × 128 lanes × 2 × 1.98 GHz = 66.91 TFLOP/s (NVIDIA quotes 67 TFLOP/s).
        let peak = d.peak_fp32_flops().expect("sm_90 is in the table");
        assert!((peak - 66_908.16e9).abs() < 1e3, "{peak}");
    }

    #[test]
    fn lanes_table() {
        assert_eq!(fp32_lanes_per_sm(8, 0), Some(64)); // A100
        assert_eq!(fp32_lanes_per_sm(8, 7), Some(128)); // Jetson Orin
        assert_eq!(fp32_lanes_per_sm(7, 2), Some(64)); // Jetson Xavier
        assert_eq!(fp32_lanes_per_sm(6, 0), Some(64));
        assert_eq!(fp32_lanes_per_sm(6, 1), Some(128));
        assert_eq!(fp32_lanes_per_sm(12, 0), Some(128));
        assert_eq!(fp32_lanes_per_sm(2, 1), None);
        let mut old = h100_sxm();
        old.compute_capability = (2, 1);
        assert_eq!(old.peak_fp32_flops(), None);
    }

    #[test]
    fn panics_become_errors() {
        let e = guarded(3, "probing", || -> Result<()> {
            panic!("Missing symbol cuFoo")
        })
        .expect_err("a panic is an error");
        let text = e.to_string();
        assert!(text.contains("CUDA device 3") && text.contains("Missing symbol cuFoo"));
    }
}
