//! The synthetic sensor: dark frame, white panel, panel reflectance and the DN model.
//!
//! Per detector column `s` and band `b` (wavelength `λ` in nm):
//!
//! ```text
//! dark(s,b)  = 150 + 50·sin(2π s / 37) + 60·[λ > 1000] + U(−10, 10)        ∈ 90..270 DN
//! resp(b)    = 4000 + 36000·exp(−((λ − 900) / 700)²)                       DN at R = panel
//! vign(s)    = 1 − 0.25·((s − c) / c)²,  c = (samples − 1) / 2             0.75..1
//! white(s,b) = dark(s,b) + resp(b)·vign(s)
//! panel(b)   = 0.99 − 0.01·(λ − 380) / 2130                                ≈ 0.99
//! DN         = dark + (white − dark)·R / panel  [+ N(0, σ²)],  σ² = 4 + (DN − dark)
//! ```
//!
//! rounded and clamped to u16. `white − dark ≥ 3000` DN everywhere, so the rounding error of a
//! noise-free DN moves the flat-field reflectance by at most `0.5·0.99/3000 < 2e-4`.

use ndarray::{Array1, Array2, ArrayViewMut2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::seed_for;
use crate::cube::FlatFieldFrames;

/// Read noise, DN (standard deviation).
pub const READ_NOISE_DN: f32 = 2.0;

/// Frames of the synthetic sensor and the per-(column, band) factor `(white − dark)/panel`.
#[derive(Debug, Clone)]
pub struct SensorModel {
    frames: FlatFieldFrames,
    /// `(white − dark) / panel`, `[samples, bands]`: DN per unit reflectance.
    scale: Array2<f32>,
}

impl SensorModel {
    /// The seeded sensor for `samples` detector columns and these band centres.
    pub fn new(wavelength_nm: &[f32], samples: usize, seed: u64) -> SensorModel {
        let bands = wavelength_nm.len();
        let mut rng = StdRng::seed_from_u64(seed_for(seed, &[0xda7c]));
        let centre = (samples.saturating_sub(1)) as f32 / 2.0;
        let dark = Array2::from_shape_fn((samples, bands), |(s, b)| {
            let swir = wavelength_nm.get(b).is_some_and(|w| *w > 1000.0);
            150.0
                + 50.0 * (std::f32::consts::TAU * s as f32 / 37.0).sin()
                + if swir { 60.0 } else { 0.0 }
                + rng.random_range(-10.0f32..10.0)
        });
        let response: Vec<f32> = wavelength_nm
            .iter()
            .map(|w| 4000.0 + 36000.0 * (-((w - 900.0) / 700.0).powi(2)).exp())
            .collect();
        let white = Array2::from_shape_fn((samples, bands), |(s, b)| {
            let v = if centre > 0.0 {
                (s as f32 - centre) / centre
            } else {
                0.0
            };
            let vignetting = 1.0 - 0.25 * v * v;
            dark[[s, b]] + response.get(b).copied().unwrap_or(4000.0) * vignetting
        });
        let panel_reflectance: Array1<f32> = wavelength_nm
            .iter()
            .map(|w| 0.99 - 0.01 * (w - 380.0) / 2130.0)
            .collect();
        let scale = Array2::from_shape_fn((samples, bands), |(s, b)| {
            (white[[s, b]] - dark[[s, b]]) / panel_reflectance.get(b).copied().unwrap_or(0.99)
        });
        SensorModel {
            frames: FlatFieldFrames {
                dark,
                white,
                panel_reflectance,
            },
            scale,
        }
    }

    /// The dark, white and panel frames written with every cube.
    pub fn frames(&self) -> &FlatFieldFrames {
        &self.frames
    }

    /// Fill one line (`[samples, bands]`) with DNs: `reflectance(s)` gives the spectrum at
    /// sample `s`. With `noise`, `rng` draws the shot and read noise.
    pub fn expose_line<'a>(
        &self,
        mut line: ArrayViewMut2<'_, u16>,
        reflectance: impl Fn(usize) -> &'a [f32],
        noise: Option<&mut impl Rng>,
    ) {
        let mut noise = noise;
        let columns = line
            .outer_iter_mut()
            .zip(self.frames.dark.outer_iter())
            .zip(self.scale.outer_iter());
        for (s, ((mut pixel, dark_s), scale_s)) in columns.enumerate() {
            let r = reflectance(s);
            // Frames and blocks are in standard layout, so the rows are contiguous slices.
            let (Some(out), Some(dark_s), Some(scale_s)) =
                (pixel.as_slice_mut(), dark_s.as_slice(), scale_s.as_slice())
            else {
                continue;
            };
            match noise.as_deref_mut() {
                None => {
                    for (((out, d), k), r) in out.iter_mut().zip(dark_s).zip(scale_s).zip(r) {
                        *out = to_dn(d + k * r);
                    }
                }
                Some(rng) => {
                    for (((out, d), k), r) in out.iter_mut().zip(dark_s).zip(scale_s).zip(r) {
                        let signal = k * r;
                        let sigma = (READ_NOISE_DN * READ_NOISE_DN + signal.max(0.0)).sqrt();
                        let z: f32 = rng.sample(StandardNormal);
                        *out = to_dn(d + signal + sigma * z);
                    }
                }
            }
        }
    }
}

/// Round and clamp to the u16 range.
fn to_dn(v: f32) -> u16 {
    v.round().clamp(0.0, f32::from(u16::MAX)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_documented_ranges() {
        let wl: Vec<f32> = (0..224).map(|i| 383.0 + 9.5 * i as f32).collect();
        let m = SensorModel::new(&wl, 150, 1);
        let f = m.frames();
        assert!(f.dark.iter().all(|d| (90.0..=270.0).contains(d)));
        let min_gap = f
            .white
            .iter()
            .zip(f.dark.iter())
            .map(|(w, d)| w - d)
            .fold(f32::INFINITY, f32::min);
        assert!(min_gap >= 3000.0, "{min_gap}");
        // Vignetting: the centre column sees more light than the edge one.
        assert!(f.white[[75, 50]] - f.dark[[75, 50]] > f.white[[0, 50]] - f.dark[[0, 50]]);
        assert!(
            f.panel_reflectance
                .iter()
                .all(|p| (0.979..=0.99).contains(p))
        );
    }

    #[test]
    fn noise_free_dns_invert_through_the_flat_field() {
        let wl = [500.0, 680.0, 800.0, 1240.0];
        let m = SensorModel::new(&wl, 3, 5);
        let r = [0.05f32, 0.04, 0.5, 0.3];
        let mut line = Array2::<u16>::zeros((3, 4));
        m.expose_line(line.view_mut(), |_| &r, None::<&mut StdRng>);
        let f = m.frames();
        for ((s, b), dn) in line.indexed_iter() {
            let back = (f32::from(*dn) - f.dark[[s, b]]) / (f.white[[s, b]] - f.dark[[s, b]])
                * f.panel_reflectance[b];
            assert!((back - r[b]).abs() < 2e-4, "s{s} b{b}: {back} vs {}", r[b]);
        }
    }
}
