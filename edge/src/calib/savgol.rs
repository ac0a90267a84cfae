//! Savitzky–Golay smoothing along the output spectral axis (DESIGN §5 step 5).
//!
//! The smoothed value at a band is the least-squares polynomial of degree `order` fitted to a
//! `window` of neighbouring bands, evaluated at that band. For a window centred on the band
//! this is the classic convolution (window 5, order 2: `(−3, 12, 17, 12, −3) / 35`).
//!
//! **Edges** follow SciPy's `mode = "interp"`: the first and last `window / 2` bands take the
//! polynomial fitted to the first (last) full window, evaluated at their own position. So a
//! polynomial of degree ≤ `order` is reproduced exactly everywhere, edges included.
//!
//! **Gaps**: the grid is split into segments of consecutive centres one step apart (bad-band
//! ranges leave holes); each segment is smoothed on its own, and a segment shorter than the
//! window is left unsmoothed. Smoothing never mixes values across a water-absorption gap.
//!
//! The filter is linear, so the plan folds it into the resampling matrix (`M · Sᵀ`): it costs
//! nothing per pixel.

use ndarray::Array2;

/// Coefficients `c` (length `window`) such that `Σ c[t]·y[t]` is the degree-`order`
/// least-squares polynomial through `y[0..window]` evaluated at position `pos`.
///
/// Returns `None` when `window <= order` or `pos >= window` (no unique fit).
pub fn savgol_coefficients(window: usize, order: usize, pos: usize) -> Option<Vec<f64>> {
    if window <= order || pos >= window {
        return None;
    }
    let half = (window as f64 - 1.0) / 2.0;
    let scale = half.max(1.0);
    // Scaled abscissae in [-1, 1] keep the normal equations well conditioned.
    let x: Vec<f64> = (0..window).map(|t| (t as f64 - half) / scale).collect();
    let terms = order + 1;
    // Normal matrix AᵀA with A[t][m] = x_t^m, and the evaluation vector e = [1, x0, x0², ...].
    let mut normal = Array2::<f64>::zeros((terms, terms));
    for &xt in &x {
        for i in 0..terms {
            for j in 0..terms {
                normal[[i, j]] += xt.powi((i + j) as i32);
            }
        }
    }
    let x0 = (pos as f64 - half) / scale;
    let e: Vec<f64> = (0..terms).map(|m| x0.powi(m as i32)).collect();
    let z = solve(normal, e)?;
    Some(
        x.iter()
            .map(|&xt| (0..terms).map(|m| z[m] * xt.powi(m as i32)).sum())
            .collect(),
    )
}

/// Solve `a · z = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Array2<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[[i, col]].abs().total_cmp(&a[[j, col]].abs()))?;
        if a[[pivot, col]].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..n {
                a.swap([pivot, k], [col, k]);
            }
            b.swap(pivot, col);
        }
        for row in col + 1..n {
            let f = a[[row, col]] / a[[col, col]];
            for k in col..n {
                a[[row, k]] -= f * a[[col, k]];
            }
            b[row] -= f * b[col];
        }
    }
    let mut z = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|k| a[[row, k]] * z[k]).sum();
        z[row] = (b[row] - tail) / a[[row, row]];
    }
    Some(z)
}

/// The smoothing matrix `S` (`[n, n]`, `smoothed = S · y`) for a grid, following the rules in
/// the [module docs](self). `grid_nm` must be sorted; centres closer than 1.5 steps are one
/// segment.
pub fn smoothing_matrix(grid_nm: &[f32], step_nm: f32, window: usize, order: usize) -> Array2<f64> {
    let n = grid_nm.len();
    let mut s = Array2::<f64>::eye(n);
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && f64::from(grid_nm[end] - grid_nm[end - 1]) < 1.5 * f64::from(step_nm) {
            end += 1;
        }
        fill_segment(&mut s, start, end, window, order);
        start = end;
    }
    s
}

fn fill_segment(s: &mut Array2<f64>, start: usize, end: usize, window: usize, order: usize) {
    let len = end - start;
    if len < window {
        return;
    }
    let half = window / 2;
    for i in 0..len {
        // First column of the window and the position of band i inside it.
        let (first, pos) = if i < half {
            (0, i)
        } else if i + half >= len {
            (len - window, i - (len - window))
        } else {
            (i - half, half)
        };
        if let Some(c) = savgol_coefficients(window, order, pos) {
            let row = start + i;
            s[[row, row]] = 0.0;
            for (t, &ct) in c.iter().enumerate() {
                s[[row, start + first + t]] = ct;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_five_point_quadratic() {
        let c = savgol_coefficients(5, 2, 2).unwrap_or_default();
        let expected = [-3.0, 12.0, 17.0, 12.0, -3.0].map(|v| v / 35.0);
        assert_eq!(c.len(), 5);
        for (a, b) in c.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{c:?}");
        }
    }

    #[test]
    fn edge_rows_fit_the_first_window() {
        // Quadratic fit through 5 points evaluated at the first point: (31, 9, −3, −5, 3)/35.
        let c = savgol_coefficients(5, 2, 0).unwrap_or_default();
        let expected = [31.0, 9.0, -3.0, -5.0, 3.0].map(|v| v / 35.0);
        for (a, b) in c.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{c:?}");
        }
    }

    #[test]
    fn segments_shorter_than_the_window_are_untouched() {
        let grid = [400.0, 410.0, 420.0, 800.0, 810.0, 820.0, 830.0, 840.0];
        let s = smoothing_matrix(&grid, 10.0, 5, 2);
        for i in 0..3 {
            for j in 0..8 {
                assert_eq!(s[[i, j]], if i == j { 1.0 } else { 0.0 });
            }
        }
        // The second segment never reads the first.
        for i in 3..8 {
            for j in 0..3 {
                assert_eq!(s[[i, j]], 0.0);
            }
        }
        assert!((s[[5, 3]] + 3.0 / 35.0).abs() < 1e-12);
    }
}
