//! Choosing the calibration backend: `--device auto|cpu|cuda`.
//!
//! | device | result |
//! |---|---|
//! | `cpu` | [`CpuCalibrator`] |
//! | `cuda` | the CUDA backend; an error without the `cuda` feature or a usable GPU |
//! | `auto` (default) | CUDA when compiled in and a device opens, else the CPU (logged) |
//!
//! "Usable" means a driver, a device, NVRTC and cuBLAS; the error (or, for `auto`, the
//! `tracing::info!` line) says which is missing.
//!
//! Always compiled: without the `cuda` feature `auto` is the CPU and `cuda` is an error that
//! says how to build with it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Calibrator, CpuCalibrator};
use crate::error::{Error, Result};

/// Where calibration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// CUDA when available, else the CPU.
    #[default]
    Auto,
    /// The CPU backend.
    Cpu,
    /// The CUDA backend; an error when it cannot be used.
    Cuda,
}

impl Device {
    /// Every device, in the order of the help text.
    pub const ALL: [Device; 3] = [Device::Auto, Device::Cpu, Device::Cuda];

    /// The name used on the command line and in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Device {
    type Err = Error;

    /// `auto`, `cpu` or `cuda` (ASCII case and surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        Device::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| Error::Config {
                origin: "device".into(),
                reason: format!("unknown device `{s}`: expected auto, cpu or cuda"),
            })
    }
}

/// The calibrator for `device` (see the [module docs](self)).
///
/// Errors: [`Error::Config`] for `cuda` when the backend is not compiled in or cannot open a
/// device (the message says which library or device is missing).
pub fn make_calibrator(device: Device) -> Result<Box<dyn Calibrator>> {
    match device {
        Device::Cpu => Ok(Box::new(CpuCalibrator::new())),
        Device::Cuda => open_cuda(),
        Device::Auto => match open_cuda() {
            Ok(c) => Ok(c),
            Err(e) => {
                tracing::info!(reason = %e, "calibrating on the CPU: CUDA is not available");
                Ok(Box::new(CpuCalibrator::new()))
            }
        },
    }
}

/// `"cpu"`, or `"cuda: NVIDIA H100 80GB HBM3 (sm_90)"` for the CUDA backend.
pub fn describe(calibrator: &dyn Calibrator) -> String {
    match calibrator.name() {
        "cuda" => match cuda_device() {
            Some(d) => format!("cuda: {d}"),
            None => "cuda".into(),
        },
        other => other.to_owned(),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda() -> Result<Box<dyn Calibrator>> {
    Ok(Box::new(super::cuda::CudaCalibrator::new()?))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda() -> Result<Box<dyn Calibrator>> {
    Err(Error::Config {
        origin: "device `cuda`".into(),
        reason: "this build has no CUDA support: rebuild hsi-edge with `--features cuda`".into(),
    })
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Option<&'static str> {
    super::cuda::opened_device()
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_device() {
        for d in Device::ALL {
            assert_eq!(d.as_str().parse::<Device>().expect("parses"), d);
            assert_eq!(d.to_string(), d.as_str());
        }
        assert_eq!(" CUDA ".parse::<Device>().expect("parses"), Device::Cuda);
        assert_eq!("Cpu".parse::<Device>().expect("parses"), Device::Cpu);
        assert_eq!(Device::default(), Device::Auto);
    }

    #[test]
    fn bad_names_are_config_errors() {
        for bad in ["gpu", "", "cuda0", "c p u"] {
            let e = bad.parse::<Device>().expect_err("refused");
            assert!(
                matches!(&e, Error::Config { reason, .. } if reason.contains(&format!("`{bad}`"))
                    && reason.contains("auto, cpu or cuda")),
                "{e}"
            );
        }
    }

    #[test]
    fn serde_uses_the_lowercase_names() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Cfg {
            device: Device,
        }
        let text = toml::to_string(&Cfg {
            device: Device::Cuda,
        })
        .expect("serialise");
        assert_eq!(text.trim(), "device = \"cuda\"");
        let back: Cfg = toml::from_str("device = \"auto\"").expect("parse");
        assert_eq!(back.device, Device::Auto);
        assert!(toml::from_str::<Cfg>("device = \"gpu\"").is_err());
    }

    #[test]
    fn cpu_always_works() {
        let c = make_calibrator(Device::Cpu).expect("the CPU backend always opens");
        assert_eq!(c.name(), "cpu");
        assert_eq!(describe(c.as_ref()), "cpu");
    }

    /// Whether this machine can open the CUDA backend, with the reason when it cannot.
    fn cuda_available() -> std::result::Result<(), String> {
        open_cuda().map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn auto_falls_back_to_the_cpu_without_a_gpu() {
        let c = make_calibrator(Device::Auto).expect("auto always gives a backend");
        match cuda_available() {
            Ok(()) => {
                assert_eq!(c.name(), "cuda");
                assert!(describe(c.as_ref()).starts_with("cuda: "));
            }
            Err(_) => {
                assert_eq!(c.name(), "cpu");
                assert_eq!(describe(c.as_ref()), "cpu");
            }
        }
    }

    #[test]
    fn cuda_without_a_gpu_is_a_clear_error() {
        match make_calibrator(Device::Cuda) {
            Ok(c) => assert_eq!(c.name(), "cuda"),
            Err(e) => {
                let text = e.to_string();
                assert!(matches!(e, Error::Config { .. }), "{text}");
                if cfg!(feature = "cuda") {
                    assert!(text.contains("no usable CUDA device"), "{text}");
                } else {
                    assert!(text.contains("--features cuda"), "{text}");
                }
            }
        }
    }
}
