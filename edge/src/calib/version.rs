//! `calibration_version`: `"{name}-{first 12 hex digits of SHA-256}"`.
//!
//! The hash covers everything that decides the calibrated values, in a canonical byte form:
//! the configuration (as compact JSON, fields in declaration order; numbers in the shortest
//! round-trip form), the input data kind and fill value, the band centres, FWHMs and bad-band
//! list, and the radiometric frames (dark/white/panel or dark/gain/offset) as little-endian
//! `f32` in logical (row-major) order with their shapes. Each item is framed as
//! `tag length payload` (lengths as `u64` LE), so no two different inputs share a byte stream.
//!
//! Same inputs → same version, on any machine and for any memory layout of the frames; any
//! change to an input → a different version (up to SHA-256 collisions in 48 bits, i.e. one
//! chance in 2.8·10¹⁴ per pair).

use ndarray::{Array1, Array2};
use sha2::{Digest, Sha256};

use crate::cube::{CubeInfo, DataKind, Radiometry};
use crate::error::{Error, Result};

use super::config::CalibrationConfig;

/// Hex digits of the digest kept in the version string.
pub const HASH_HEX_DIGITS: usize = 12;

/// The `calibration_version` for a cube calibrated with `cfg`.
pub fn calibration_version(info: &CubeInfo, cfg: &CalibrationConfig) -> Result<String> {
    let config = serde_json::to_vec(cfg).map_err(|e| Error::Config {
        origin: format!("calibration config `{}`", cfg.name),
        reason: format!("cannot serialise for hashing: {e}"),
    })?;
    let mut h = Framed(Sha256::new());
    h.item(b"hsi.calibration.v1", &[]);
    h.item(b"config", &config);
    let kind: &[u8] = match info.kind {
        DataKind::RawDn => b"raw_dn",
        DataKind::Radiance => b"radiance",
        DataKind::Reflectance => b"reflectance",
    };
    h.item(b"kind", kind);
    match info.ignore_value {
        Some(v) => h.item(b"ignore_value", &v.to_le_bytes()),
        None => h.item(b"ignore_value.none", &[]),
    }
    h.floats(b"wavelength_nm", &info.bands.wavelength_nm);
    match &info.bands.fwhm_nm {
        Some(f) => h.floats(b"fwhm_nm", f),
        None => h.item(b"fwhm_nm.none", &[]),
    }
    match &info.bands.good {
        Some(g) => {
            let bytes: Vec<u8> = g.iter().map(|&b| u8::from(b)).collect();
            h.item(b"bbl", &bytes);
        }
        None => h.item(b"bbl.none", &[]),
    }
    match &info.radiometry {
        Some(Radiometry::FlatField(ff)) => {
            h.item(b"flat_field", &[]);
            h.matrix(b"dark", &ff.dark);
            h.matrix(b"white", &ff.white);
            h.vector(b"panel_reflectance", &ff.panel_reflectance);
        }
        Some(Radiometry::Gain(g)) => {
            h.item(b"gain_frames", &[]);
            h.matrix(b"dark", &g.dark);
            h.matrix(b"gain", &g.gain);
            h.vector(b"offset", &g.offset);
        }
        None => h.item(b"radiometry.none", &[]),
    }
    let digest = h.0.finalize();
    let hex = hex::encode(digest);
    Ok(format!(
        "{}-{}",
        cfg.name,
        hex.get(..HASH_HEX_DIGITS).unwrap_or(&hex)
    ))
}

/// A SHA-256 fed with length-framed items.
struct Framed(Sha256);

impl Framed {
    fn item(&mut self, tag: &[u8], payload: &[u8]) {
        self.0.update((tag.len() as u64).to_le_bytes());
        self.0.update(tag);
        self.0.update((payload.len() as u64).to_le_bytes());
        self.0.update(payload);
    }

    fn floats<'a>(&mut self, tag: &[u8], values: impl IntoIterator<Item = &'a f32>) {
        let bytes: Vec<u8> = values.into_iter().flat_map(|v| v.to_le_bytes()).collect();
        self.item(tag, &bytes);
    }

    fn vector(&mut self, tag: &[u8], v: &Array1<f32>) {
        self.floats(tag, v.iter());
    }

    fn matrix(&mut self, tag: &[u8], m: &Array2<f32>) {
        let (r, c) = m.dim();
        let mut shape = Vec::with_capacity(16);
        shape.extend_from_slice(&(r as u64).to_le_bytes());
        shape.extend_from_slice(&(c as u64).to_le_bytes());
        self.item(&[tag, b".shape"].concat(), &shape);
        self.floats(tag, m.iter());
    }
}
