//! Output profiles: what a cube is flattened to.
//!
//! - `full`: every pixel and every band of the grid, lossless floats (Silver from the cloud
//!   worker, or the edge when bandwidth allows).
//! - `field`: for cellular uplink. Every pixel, only the grid bands the vegetation indices of
//!   DESIGN §8 need, and 7-bit-mantissa quantisation (relative error ≤ 0.4 %). Its size ratio
//!   and its NDVI error against `full` are measured by `scripts/bench/size.sh` (see
//!   `docs/benchmarks.md`).
//!
//! Why no binning in `field`: crop rows and the soil between them are often narrower than a
//! 4×4 bin, and NDVI of a mixed bin is not the mean NDVI of its pixels. On the synthetic trial,
//! 4×4 binning is much smaller but its per-plot NDVI error is three orders of magnitude larger
//! than that of dropping bands and mantissa bits (both measured in `docs/benchmarks.md`,
//! "Size"). `--binning K` still bins when the error is acceptable.
//!
//! A profile overrides the binning and band subset of the calibration config; everything else
//! (flat field, bad bands, grid) comes from the calibration config.

use serde::{Deserialize, Serialize};

use super::encoding::EncodingOptions;
use crate::calib::CalibrationConfig;
use crate::error::{Error, Result};

/// Bands kept by the `field` profile: those of NDVI, NDWI, NDRE, CIred-edge and MCARI (on a
/// 10 nm grid 705 nm resolves to 700 nm, so 9 columns; NDWI's 1240 nm only when the sensor has it).
pub const FIELD_BANDS_NM: [f32; 10] = [
    550.0, 670.0, 680.0, 700.0, 705.0, 750.0, 760.0, 800.0, 860.0, 1240.0,
];

/// A named output profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name (`full`, `field`, or a user's own).
    pub name: String,
    /// k×k spatial binning.
    pub binning: usize,
    /// Keep only the grid bands nearest these wavelengths.
    pub band_subset_nm: Option<Vec<f32>>,
    /// Parquet encoding.
    pub encoding: EncodingOptions,
}

impl Profile {
    /// Every pixel, every grid band, lossless.
    pub fn full() -> Self {
        Profile {
            name: "full".into(),
            binning: 1,
            band_subset_nm: None,
            encoding: EncodingOptions::default(),
        }
    }

    /// Reduced for cellular uplink.
    pub fn field() -> Self {
        Profile {
            name: "field".into(),
            binning: 1,
            band_subset_nm: Some(FIELD_BANDS_NM.to_vec()),
            encoding: EncodingOptions {
                zstd_level: 3,
                mantissa_bits: Some(7),
                ..EncodingOptions::default()
            },
        }
    }

    /// Look a built-in profile up by name.
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "full" => Ok(Self::full()),
            "field" => Ok(Self::field()),
            other => Err(Error::Config {
                origin: "--profile".into(),
                reason: format!("unknown profile `{other}` (expected `full` or `field`)"),
            }),
        }
    }

    /// The calibration config with this profile's binning and band subset applied.
    pub fn apply(&self, cfg: &CalibrationConfig) -> CalibrationConfig {
        let mut out = cfg.clone();
        out.binning = self.binning;
        if self.band_subset_nm.is_some() {
            out.band_subset_nm = self.band_subset_nm.clone();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_by_name() {
        assert_eq!(Profile::by_name("full").map(|p| p.binning).ok(), Some(1));
        let f = Profile::by_name("field").expect("field exists");
        assert_eq!(f.binning, 1);
        assert_eq!(f.encoding.mantissa_bits, Some(7));
        let cfg = f.apply(&CalibrationConfig::default());
        assert_eq!(cfg.binning, 1);
        assert_eq!(cfg.band_subset_nm.as_deref(), Some(&FIELD_BANDS_NM[..]));
        let e = Profile::by_name("tiny").unwrap_err().to_string();
        assert!(e.contains("unknown profile `tiny`"), "{e}");
    }
}
