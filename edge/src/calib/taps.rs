//! Spectral resampling as a sparse, band-major product: the CPU calibrator's default.
//!
//! The spectral matrix `[kept, grid]` is banded (an output band weighs the ~10–20 input bands
//! within `±3σ` of its centre, plus the Savitzky–Golay window when smoothing is on). A dense
//! GEMM multiplies all ~190 rows of every column; the blocked GEMM ([`super::blocks`]) skips
//! most zeros but re-packs its input for every block. This kernel keeps only the non-zero
//! weights of each column ([`SpectralTaps`], built once per plan) and computes, for a tile of
//! [`TILE`] pixels at a time:
//!
//! 1. the tile transposed to band-major, `xt[k][i] = x[p0 + i][k]` (small enough for L1);
//! 2. for each output band `j`: `out[j][p0..p0 + TILE] = Σ_(k, w) ∈ taps(j) w · xt[k][..]`, a
//!    run of `TILE`-wide multiply-adds the compiler vectorises.
//!
//! The output is **band-major** (`out[j · n + p]`): each grid band's values for the block's
//! pixels are contiguous, which is the layout of a Parquet/Arrow column, so flattening needs
//! no transpose. Results equal the dense product up to float summation order (the skipped
//! terms are exact zeros times finite values; non-finite pixels are no-data before this step).

use ndarray::Array2;

/// Pixels per tile: `TILE × kept` floats of transposed input stay in L2. Measured
/// (`cargo bench --bench calibrate`, `calibrate_k1`, one 64×512×224 block): 8 → 13.4 ms,
/// 16 → 16.4 ms, 32 → 15.8 ms, **64 → 10.9 ms**, 128 → 23.2 ms.
pub const TILE: usize = 64;

/// The non-zero weights of each column of the spectral matrix.
#[derive(Debug, Clone, Default)]
pub struct SpectralTaps {
    /// `starts[j]..starts[j + 1]` indexes the taps of column `j`.
    starts: Vec<usize>,
    /// `(row, weight)`, rows ascending within a column.
    taps: Vec<(u32, f32)>,
    rows: usize,
}

impl SpectralTaps {
    /// The taps of `m` (`[kept, grid]`).
    pub fn new(m: &Array2<f32>) -> Self {
        let (rows, cols) = m.dim();
        let mut starts = Vec::with_capacity(cols + 1);
        let mut taps = Vec::new();
        for j in 0..cols {
            starts.push(taps.len());
            for i in 0..rows {
                let w = m[[i, j]];
                if w != 0.0 {
                    taps.push((i as u32, w));
                }
            }
        }
        starts.push(taps.len());
        SpectralTaps { starts, taps, rows }
    }

    /// Output columns.
    pub fn cols(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Taps of column `j`.
    pub fn column(&self, j: usize) -> &[(u32, f32)] {
        match (self.starts.get(j), self.starts.get(j + 1)) {
            (Some(&a), Some(&b)) => &self.taps[a..b],
            _ => &[],
        }
    }

    /// Multiply-adds per pixel: this kernel's, and the dense product's.
    pub fn work_per_pixel(&self) -> (usize, usize) {
        (self.taps.len(), self.rows * self.cols())
    }

    /// `out = x · M`, band-major: `x` is `[n, kept]` pixel-major, `out` is `[grid, n]`
    /// (`out[j · n + p]`). `out` must hold `grid · n` values and `x` `n · kept`.
    pub fn apply(&self, x: &[f32], n: usize, out: &mut [f32], scratch: &mut Vec<f32>) {
        let kept = self.rows;
        self.apply_with(n, out, scratch, |p0, rows| {
            let from = (p0 * kept).min(x.len());
            let to = (from + rows.len()).min(x.len());
            rows[..to - from].copy_from_slice(&x[from..to]);
        });
    }

    /// [`apply`](Self::apply) with the input rows produced tile by tile: `fill(p0, rows)`
    /// writes pixels `p0..p0 + m` (`rows` holds `m · kept` values, pixel-major, `m ≤ TILE`).
    /// The CPU calibrator computes the radiometric step there, so the calibrated `[n, kept]`
    /// matrix never exists in full: each tile of it lives in L1/L2 between the two steps.
    pub fn apply_with(
        &self,
        n: usize,
        out: &mut [f32],
        scratch: &mut Vec<f32>,
        mut fill: impl FnMut(usize, &mut [f32]),
    ) {
        let kept = self.rows;
        let grid = self.cols();
        debug_assert!(out.len() >= n * grid);
        scratch.clear();
        scratch.resize((2 * kept + grid) * TILE, 0.0);
        let (xt, rest) = scratch.split_at_mut(kept * TILE);
        let (rows, short) = rest.split_at_mut(kept * TILE);
        let mut p0 = 0;
        while p0 < n {
            let m = TILE.min(n - p0);
            let rows = &mut rows[..m * kept];
            fill(p0, rows);
            transpose_tile(rows, kept, m, xt);
            if m < TILE {
                for k in 0..kept {
                    xt[k * TILE + m..(k + 1) * TILE].fill(0.0);
                }
            }
            for j in 0..grid {
                let mut acc = [0.0f32; TILE];
                for &(k, w) in self.column(j) {
                    let src: &[f32; TILE] = xt[k as usize * TILE..][..TILE]
                        .try_into()
                        .unwrap_or(&[0.0; TILE]);
                    for (a, &s) in acc.iter_mut().zip(src) {
                        *a += w * s;
                    }
                }
                // `acc` is stored whole, in 8-value pieces: vector moves straight from the
                // registers holding it. A whole-array store (`*dst = acc`, 256 bytes) or a
                // partial copy (`acc[..m]`) made it a `memcpy` call, with `acc` spilled to the
                // stack around the taps loop: 3 % of a run (session 9; check the disassembly
                // for `memcpy` calls). A short tile goes through `short` instead.
                let at = j * n + p0;
                let dst = match m {
                    TILE => out.get_mut(at..at + TILE),
                    _ => short.get_mut(j * TILE..(j + 1) * TILE),
                };
                if let Some(dst) = dst {
                    for (d, a) in dst.chunks_exact_mut(8).zip(acc.chunks_exact(8)) {
                        d.copy_from_slice(a);
                    }
                }
            }
            if m < TILE {
                for (j, tile) in short.chunks_exact(TILE).enumerate() {
                    if let Some(dst) = out.get_mut(j * n + p0..j * n + p0 + m) {
                        dst.copy_from_slice(&tile[..m]);
                    }
                }
            }
            p0 += m;
        }
    }
}

/// `xt[k · TILE + i] = rows[i · kept + k]` for the `m` pixel rows of a tile: 4×4 blocks (four
/// vector loads, a register transpose, four vector stores), then the edges one value at a time.
fn transpose_tile(rows: &[f32], kept: usize, m: usize, xt: &mut [f32]) {
    let (m4, k4) = (m - m % 4, kept - kept % 4);
    let quad = |s: &[f32], at: usize| -> [f32; 4] {
        s.get(at..at + 4)
            .and_then(|q| q.try_into().ok())
            .unwrap_or([0.0; 4])
    };
    for i0 in (0..m4).step_by(4) {
        let r = |i: usize| {
            rows.get((i0 + i) * kept..(i0 + i + 1) * kept)
                .unwrap_or_default()
        };
        let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
        for k0 in (0..k4).step_by(4) {
            let (a, b, c, d) = (quad(r0, k0), quad(r1, k0), quad(r2, k0), quad(r3, k0));
            for j in 0..4 {
                if let Some(dst) = xt.get_mut((k0 + j) * TILE + i0..(k0 + j) * TILE + i0 + 4) {
                    dst.copy_from_slice(&[a[j], b[j], c[j], d[j]]);
                }
            }
        }
        for k in k4..kept {
            for (i, row) in [r0, r1, r2, r3].iter().enumerate() {
                if let (Some(d), Some(&v)) = (xt.get_mut(k * TILE + i0 + i), row.get(k)) {
                    *d = v;
                }
            }
        }
    }
    for i in m4..m {
        let row = rows.get(i * kept..(i + 1) * kept).unwrap_or_default();
        for (dst, &v) in xt.chunks_exact_mut(TILE).zip(row) {
            if let Some(d) = dst.get_mut(i) {
                *d = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_major_product_equals_the_dense_one() {
        // 5 input bands, 3 output bands, 70 pixels (two full tiles and a partial one).
        let m = Array2::from_shape_vec(
            (5, 3),
            vec![
                0.5, 0.0, 0.0, //
                0.5, 0.25, 0.0, //
                0.0, 0.5, 0.0, //
                0.0, 0.25, 0.7, //
                0.0, 0.0, 0.3,
            ],
        )
        .expect("shape");
        let taps = SpectralTaps::new(&m);
        assert_eq!(taps.work_per_pixel(), (7, 15));
        assert_eq!(taps.column(1), &[(1, 0.25), (2, 0.5), (3, 0.25)]);
        let n = 2 * TILE + 6;
        let x: Vec<f32> = (0..n * 5).map(|i| (i % 17) as f32 * 0.1 + 1.0).collect();
        let mut out = vec![f32::NAN; 3 * n];
        taps.apply(&x, n, &mut out, &mut Vec::new());
        for p in 0..n {
            for j in 0..3 {
                let want: f32 = (0..5).map(|k| x[p * 5 + k] * m[[k, j]]).sum();
                let got = out[j * n + p];
                assert!(
                    (got - want).abs() < 1e-6,
                    "pixel {p} band {j}: {got} vs {want}"
                );
            }
        }
    }
}
