//! The non-zero blocks of the spectral matrix, so the resampling GEMM skips its zeros.
//!
//! The spectral matrix `[kept, grid]` is banded: an output band only weighs input bands within
//! `±3σ` of its centre (plus the Savitzky–Golay window when smoothing is on), so for the default
//! 10 nm grid ~20 of ~190 rows of each column are non-zero. [`spectral_blocks`] cuts the grid into
//! runs of [`COLUMNS_PER_BLOCK`] columns and, for each, the range of rows holding any non-zero
//! weight. The product `x · M` is then one dense GEMM per block, `x[:, rows] · M[rows, cols]`,
//! which equals the full product exactly up to float summation order: every skipped term is an
//! exact zero weight times a finite value (non-finite pixels are no-data before the GEMM).
//! Input bands in any order are fine: a block's row range then just covers more rows.

use std::ops::Range;

use ndarray::Array2;

/// Output columns per block: small enough that a block's row range stays narrow, large enough
/// that each product amortises its packing. Measured (`cargo bench --bench calibrate`, one
/// 64×512×224 block, default grid): 8 → 28.0 ms, 16 → 22.6 ms, 32 → 19.7 ms, 48 → 18.9 ms,
/// 64 → 21.2 ms, dense 34.2 ms.
pub const COLUMNS_PER_BLOCK: usize = 32;

/// One dense sub-product: rows (kept bands) × columns (grid bands) of the spectral matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpectralBlock {
    /// Rows of the matrix (columns of the `[pixels, kept]` input) with a non-zero weight.
    pub rows: Range<usize>,
    /// Output columns.
    pub cols: Range<usize>,
}

/// The blocks of `m` (see the [module docs](self)); blocks whose columns are all zero are
/// left out (their output stays 0).
pub fn spectral_blocks(m: &Array2<f32>) -> Vec<SpectralBlock> {
    let (nrows, ncols) = m.dim();
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < ncols {
        let end = (start + COLUMNS_PER_BLOCK).min(ncols);
        let nonzero = |i: &usize| (start..end).any(|j| m[[*i, j]] != 0.0);
        let first = (0..nrows).find(nonzero);
        let last = (0..nrows).rev().find(nonzero);
        if let (Some(first), Some(last)) = (first, last) {
            blocks.push(SpectralBlock {
                rows: first..last + 1,
                cols: start..end,
            });
        }
        start = end;
    }
    blocks
}

/// Multiply-adds of the blocked product per pixel, against the dense product's.
pub fn work_per_pixel(blocks: &[SpectralBlock], m: &Array2<f32>) -> (usize, usize) {
    let blocked = blocks.iter().map(|b| b.rows.len() * b.cols.len()).sum();
    (blocked, m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_every_non_zero_and_nothing_else_matters() {
        // A band matrix: column j has weights on rows 2j..2j+3; C + 2 columns, so one full
        // block and one of 2 columns.
        let c = COLUMNS_PER_BLOCK;
        let (nrows, ncols) = (2 * c + 10, c + 2);
        let m = Array2::from_shape_fn((nrows, ncols), |(i, j)| {
            if i >= 2 * j && i < 2 * j + 3 {
                1.0 + i as f32
            } else {
                0.0
            }
        });
        let blocks = spectral_blocks(&m);
        assert_eq!(
            blocks,
            vec![
                SpectralBlock {
                    rows: 0..2 * c + 1,
                    cols: 0..c
                },
                SpectralBlock {
                    rows: 2 * c..2 * c + 5,
                    cols: c..c + 2
                },
            ]
        );
        for i in 0..nrows {
            for j in 0..ncols {
                if m[[i, j]] != 0.0 {
                    assert!(
                        blocks
                            .iter()
                            .any(|b| b.rows.contains(&i) && b.cols.contains(&j))
                    );
                }
            }
        }
        assert_eq!(
            work_per_pixel(&blocks, &m),
            ((2 * c + 1) * c + 5 * 2, nrows * ncols)
        );
    }

    #[test]
    fn all_zero_columns_make_no_block() {
        let m = Array2::<f32>::zeros((5, 20));
        assert!(spectral_blocks(&m).is_empty());
    }
}
