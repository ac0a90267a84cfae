//! k×k spatial binning (DESIGN §5 step 5): the mean over the valid pixels of each bin.
//!
//! Bin `(L, S)` of a block covers lines `k·L .. k·L+k` and samples `k·S .. k·S+k`, clipped to
//! the block: partial bins at the right and bottom edges average the pixels they have. No-data
//! pixels are excluded from the mean; a bin with no valid pixel is no-data (NaN).
//!
//! Binning is a mean over pixels and the resampling is a linear map over bands, so they
//! commute: the CPU backend bins the `[pixels, kept]` matrix *before* the GEMM, which makes
//! the GEMM k² times smaller. The result is the same as resampling every pixel first.

/// Running sums and counts of `width`-long rows per bin, in reusable buffers.
#[derive(Debug, Default)]
pub(crate) struct BinSums {
    sums: Vec<f32>,
    counts: Vec<u32>,
    width: usize,
}

impl BinSums {
    /// Reset for `bins` bins of `width` values, reusing the allocations.
    pub(crate) fn reset(&mut self, bins: usize, width: usize) {
        self.sums.clear();
        self.sums.resize(bins * width, 0.0);
        self.counts.clear();
        self.counts.resize(bins, 0);
        self.width = width;
    }

    /// Add one valid pixel's row to `bin`.
    pub(crate) fn add(&mut self, bin: usize, row: &[f32]) {
        let start = bin * self.width;
        if let (Some(acc), Some(count)) = (
            self.sums.get_mut(start..start + self.width),
            self.counts.get_mut(bin),
        ) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
            *count += 1;
        }
    }

    /// Turn sums into means; returns the `[bins, width]` means (rows of empty bins are
    /// zero) and writes each bin's validity into `valid`.
    pub(crate) fn finish(&mut self, valid: &mut Vec<bool>) -> &[f32] {
        valid.clear();
        let width = self.width.max(1);
        for (acc, &count) in self.sums.chunks_exact_mut(width).zip(&self.counts) {
            if count > 0 {
                let inv = 1.0 / count as f32;
                acc.iter_mut().for_each(|a| *a *= inv);
            }
            valid.push(count > 0);
        }
        &self.sums
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_and_empty_bins() {
        let mut b = BinSums::default();
        b.reset(2, 2);
        b.add(0, &[1.0, 10.0]);
        b.add(0, &[3.0, 20.0]);
        let mut valid = vec![];
        let means = b.finish(&mut valid).to_vec();
        assert_eq!(means, vec![2.0, 15.0, 0.0, 0.0]);
        assert_eq!(valid, vec![true, false]);
    }
}
