//! Field geometry (plots, alleys, crop rows) and the breeding-trial design on top of it.
//!
//! # Geometry, in pixels
//!
//! The cube covers one field. `plot_rows × plot_cols` plots of **identical** size `h × w` sit
//! on a grid separated by soil alleys `a` pixels wide, with at least `a` pixels of alley
//! around the grid (left-over pixels are split evenly between the two margins):
//!
//! ```text
//! a = max(2, min(lines / plot_rows, samples / plot_cols) / 8)
//! h = (lines   − (plot_rows + 1)·a) / plot_rows
//! w = (samples − (plot_cols + 1)·a) / plot_cols
//! ```
//!
//! Inside a plot, crop rows run along the lines (the direction of travel): column `c` of the
//! plot (0-based) is crop when `c mod p < k`, inter-row soil otherwise, where the row period
//! `p = clamp(round(0.25 m / pixel_size), 2, w)` and the crop width `k = clamp(round(0.6·p),
//! 1, p − 1)`. Every plot therefore holds the same number of crop and soil pixels, and plots
//! only differ in their vegetation spectrum, so a plot's mean NDVI is a strictly increasing
//! function of its vigor.
//!
//! A plot's pixel set is its `h × w` rectangle: exactly the pixels whose **centre** lies
//! inside the plot polygon, whose edges run along pixel edges (no centre lies on an edge).
//!
//! # Trial design
//!
//! With `n` plots there are `n / 2` breeding lines (genotypes), each in at least two plots
//! (the first lines take the odd plot), placed by a seeded shuffle. The first
//! `clamp(lines / 5, 1, 3)` lines are check varieties (`CHK-A`, ...; vigor about 0.8), the
//! others candidates (`BL-001`, ...; vigor uniform in 0.30–0.95). A plot's vigor is its line's
//! plus a plot effect (±0.03), and changes by the line's weekly trend from one acquisition
//! date to the next (checks 0 to +0.01, candidates −0.04 to +0.03 per week), clamped to 0–1.

use std::ops::Range;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::config::SynthConfig;
use super::seed_for;
use crate::error::{Error, Result};

/// Crop row spacing on the ground, metres.
pub const ROW_SPACING_M: f64 = 0.25;
/// Fraction of a row period covered by the crop canopy.
pub const CROP_FRACTION: f64 = 0.6;

/// One plot's place in the field.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotCell {
    /// Index in [`Layout::plots`] (row-major).
    pub index: usize,
    /// Plot id, `R{row:02}C{col:02}`.
    pub plot_id: String,
    /// Field row number of the plot (1-based, along the lines).
    pub row: usize,
    /// Field column number of the plot (1-based, along the samples).
    pub col: usize,
    /// Lines covered.
    pub lines: Range<usize>,
    /// Samples covered.
    pub samples: Range<usize>,
}

/// What a pixel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelClass {
    /// Bare soil between plots.
    Alley,
    /// Bare soil between crop rows inside plot `.0`.
    InterRow(usize),
    /// Crop canopy inside plot `.0`.
    Crop(usize),
}

/// Plot geometry of a synthetic field.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    plots: Vec<PlotCell>,
    /// Per line: the plot row (0-based) it crosses, if any.
    row_of_line: Vec<Option<usize>>,
    /// Per sample: the plot column (0-based) and whether it is a crop column.
    col_of_sample: Vec<Option<(usize, bool)>>,
    plot_cols: usize,
    /// Alley width in pixels.
    pub alley_px: usize,
    /// Crop row period in pixels.
    pub row_period_px: usize,
    /// Crop canopy width in pixels within each period.
    pub crop_px: usize,
}

impl Layout {
    /// The layout of `cfg` (validated first).
    pub fn new(cfg: &SynthConfig) -> Result<Layout> {
        cfg.validate()?;
        let (rows, cols) = (cfg.plot_rows, cfg.plot_cols);
        let alley = (cfg.lines / rows).min(cfg.samples / cols) / 8;
        let alley = alley.max(2);
        let h = cfg.lines.saturating_sub((rows + 1) * alley) / rows;
        let w = cfg.samples.saturating_sub((cols + 1) * alley) / cols;
        if h < 2 || w < 2 {
            return Err(Error::Config {
                origin: "synth `plot_rows`/`plot_cols`".into(),
                reason: format!(
                    "{rows}x{cols} plots with {alley}-pixel alleys do not fit in {}x{} pixels",
                    cfg.lines, cfg.samples
                ),
            });
        }
        let top = alley + (cfg.lines - rows * h - (rows + 1) * alley) / 2;
        let left = alley + (cfg.samples - cols * w - (cols + 1) * alley) / 2;
        let period = ((ROW_SPACING_M / cfg.pixel_size_m).round() as usize).clamp(2, w);
        let crop = ((CROP_FRACTION * period as f64).round() as usize).clamp(1, period - 1);

        let mut plots = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let l0 = top + r * (h + alley);
                let s0 = left + c * (w + alley);
                plots.push(PlotCell {
                    index: plots.len(),
                    plot_id: format!("R{:02}C{:02}", r + 1, c + 1),
                    row: r + 1,
                    col: c + 1,
                    lines: l0..l0 + h,
                    samples: s0..s0 + w,
                });
            }
        }
        let row_of_line = (0..cfg.lines)
            .map(|l| {
                let off = l.checked_sub(top)?;
                let (r, within) = (off / (h + alley), off % (h + alley));
                (r < rows && within < h).then_some(r)
            })
            .collect();
        let col_of_sample = (0..cfg.samples)
            .map(|s| {
                let off = s.checked_sub(left)?;
                let (c, within) = (off / (w + alley), off % (w + alley));
                (c < cols && within < w).then_some((c, within % period < crop))
            })
            .collect();
        Ok(Layout {
            plots,
            row_of_line,
            col_of_sample,
            plot_cols: cols,
            alley_px: alley,
            row_period_px: period,
            crop_px: crop,
        })
    }

    /// The plots, row-major.
    pub fn plots(&self) -> &[PlotCell] {
        &self.plots
    }

    /// What pixel (`line`, `sample`) shows ([`PixelClass::Alley`] outside the cube).
    pub fn class_at(&self, line: usize, sample: usize) -> PixelClass {
        let row = self.row_of_line.get(line).copied().flatten();
        let col = self.col_of_sample.get(sample).copied().flatten();
        match (row, col) {
            (Some(r), Some((c, crop))) => {
                let plot = r * self.plot_cols + c;
                if crop {
                    PixelClass::Crop(plot)
                } else {
                    PixelClass::InterRow(plot)
                }
            }
            _ => PixelClass::Alley,
        }
    }

    /// Polygon ring of a plot in map coordinates (pixel edges, counter-clockwise, closed).
    pub fn polygon(&self, plot: &PlotCell, geotransform: &[f64; 6]) -> Vec<[f64; 2]> {
        let at = |line: usize, sample: usize| {
            let (l, s) = (line as f64, sample as f64);
            [
                geotransform[0] + s * geotransform[1] + l * geotransform[2],
                geotransform[3] + s * geotransform[4] + l * geotransform[5],
            ]
        };
        let (l0, l1, s0, s1) = (
            plot.lines.start,
            plot.lines.end,
            plot.samples.start,
            plot.samples.end,
        );
        // North-up: the bottom-left corner is (l1, s0); go east, north, west, back.
        vec![at(l1, s0), at(l1, s1), at(l0, s1), at(l0, s0), at(l1, s0)]
    }
}

/// A breeding line (genotype) of the trial.
#[derive(Debug, Clone, PartialEq)]
pub struct BreedingLine {
    /// Line id (`CHK-A`, `BL-001`, ...).
    pub line_id: String,
    /// Whether this is a check variety.
    pub is_check: bool,
    /// Genetic vigor at the first date (fraction of green canopy, 0–1).
    pub vigor: f64,
    /// Change of vigor per week.
    pub weekly_trend: f64,
}

/// Lines, and which line grows in which plot.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialDesign {
    /// The breeding lines; checks first.
    pub lines: Vec<BreedingLine>,
    /// Per plot (same order as [`Layout::plots`]): index into `lines`.
    pub plot_line: Vec<usize>,
    /// Per plot: the plot's own vigor effect (soil, micro-climate).
    pub plot_effect: Vec<f64>,
}

impl TrialDesign {
    /// The seeded design for `n_plots` plots.
    pub fn new(seed: u64, n_plots: usize) -> TrialDesign {
        let mut rng = StdRng::seed_from_u64(seed_for(seed, &[0x7219_1a1d]));
        let n_lines = (n_plots / 2).max(1);
        let n_checks = if n_lines >= 2 {
            (n_lines / 5).clamp(1, 3)
        } else {
            0
        };
        let lines: Vec<BreedingLine> = (0..n_lines)
            .map(|i| {
                if i < n_checks {
                    BreedingLine {
                        line_id: format!("CHK-{}", char::from(b'A' + i as u8)),
                        is_check: true,
                        vigor: 0.80 + rng.random_range(-0.05..0.05),
                        weekly_trend: rng.random_range(0.0..0.01),
                    }
                } else {
                    BreedingLine {
                        line_id: format!("BL-{:03}", i - n_checks + 1),
                        is_check: false,
                        vigor: rng.random_range(0.30..0.95),
                        weekly_trend: rng.random_range(-0.04..0.03),
                    }
                }
            })
            .collect();
        let mut plot_line: Vec<usize> = (0..n_plots).map(|p| p % n_lines).collect();
        plot_line.shuffle(&mut rng);
        let plot_effect = (0..n_plots)
            .map(|_| rng.random_range(-0.03..0.03))
            .collect();
        TrialDesign {
            lines,
            plot_line,
            plot_effect,
        }
    }

    /// The line growing in `plot`.
    pub fn line_of(&self, plot: usize) -> Option<&BreedingLine> {
        self.lines.get(*self.plot_line.get(plot)?)
    }

    /// Vigor (green fraction of the canopy, 0–1) of `plot` at acquisition date `k`.
    pub fn vigor(&self, plot: usize, k: usize) -> f64 {
        let Some(line) = self.line_of(plot) else {
            return 0.0;
        };
        let effect = self.plot_effect.get(plot).copied().unwrap_or_default();
        (line.vigor + effect + line.weekly_trend * k as f64).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lines: usize, samples: usize, rows: usize, cols: usize) -> SynthConfig {
        SynthConfig {
            lines,
            samples,
            plot_rows: rows,
            plot_cols: cols,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn plots_are_equal_rectangles_between_alleys() {
        let l = Layout::new(&cfg(60, 80, 2, 3)).unwrap();
        // a = max(2, min(30, 26)/8) = 3; h = (60 − 9)/2 = 25; w = (80 − 12)/3 = 22.
        assert_eq!(l.alley_px, 3);
        // Left-over: 60 − 50 − 9 = 1 line → top margin 3; 80 − 66 − 12 = 2 → left margin 4.
        let p = &l.plots()[4];
        assert_eq!((p.plot_id.as_str(), p.row, p.col), ("R02C02", 2, 2));
        assert_eq!((p.lines.clone(), p.samples.clone()), (31..56, 29..51));
        // 0.25 m / 0.05 m = 5-pixel period, 3 crop + 2 soil.
        assert_eq!((l.row_period_px, l.crop_px), (5, 3));
        assert_eq!(l.class_at(31, 29), PixelClass::Crop(4));
        assert_eq!(l.class_at(31, 32), PixelClass::InterRow(4));
        assert_eq!(l.class_at(31, 34), PixelClass::Crop(4));
        assert_eq!(l.class_at(30, 29), PixelClass::Alley);
        assert_eq!(l.class_at(56, 29), PixelClass::Alley);
        assert_eq!(l.class_at(31, 51), PixelClass::Alley);
        assert_eq!(l.class_at(1000, 1000), PixelClass::Alley);
        for p in l.plots() {
            let crops = p
                .lines
                .clone()
                .flat_map(|li| p.samples.clone().map(move |s| (li, s)))
                .filter(|&(li, s)| l.class_at(li, s) == PixelClass::Crop(p.index))
                .count();
            // 22 columns: periods at 0,5,10,15,20 → 3+3+3+3+2 = 14 crop columns × 25 lines.
            assert_eq!(crops, 14 * 25);
        }
    }

    #[test]
    fn polygons_follow_pixel_edges() {
        let c = cfg(60, 80, 2, 3);
        let l = Layout::new(&c).unwrap();
        let ring = l.polygon(&l.plots()[0], &c.geotransform());
        // Plot R01C01: lines 3..28, samples 4..26; 5 cm pixels from (500000, 4400000).
        let (x0, x1) = (500_000.0 + 4.0 * 0.05, 500_000.0 + 26.0 * 0.05);
        let (y_top, y_bottom) = (4_400_000.0 - 3.0 * 0.05, 4_400_000.0 - 28.0 * 0.05);
        let want = [
            [x0, y_bottom],
            [x1, y_bottom],
            [x1, y_top],
            [x0, y_top],
            [x0, y_bottom],
        ];
        for (got, want) in ring.iter().zip(want) {
            assert!(
                (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
                "{ring:?}"
            );
        }
    }

    #[test]
    fn grids_that_do_not_fit_are_refused() {
        assert!(Layout::new(&cfg(10, 10, 4, 4)).is_err());
    }

    #[test]
    fn every_line_is_replicated_and_checks_come_first() {
        for n in [4, 6, 7, 18, 101] {
            let d = TrialDesign::new(9, n);
            assert_eq!(d.lines.len(), n / 2);
            for (i, line) in d.lines.iter().enumerate() {
                let reps = d.plot_line.iter().filter(|&&p| p == i).count();
                assert!(reps >= 2, "{} has {reps} plots", line.line_id);
            }
            assert!(d.lines[0].is_check && !d.lines[d.lines.len() - 1].is_check);
            assert!(d.lines.iter().all(|l| (0.0..=1.0).contains(&l.vigor)));
        }
        assert_eq!(TrialDesign::new(9, 18), TrialDesign::new(9, 18));
        assert_ne!(TrialDesign::new(9, 18), TrialDesign::new(10, 18));
    }
}
