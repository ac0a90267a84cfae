//! Streaming statistics used by the Gold aggregations.
//!
//! - [`Moments`]: count, mean and **population** variance (divisor `n`, numpy's `np.std`
//!   default `ddof=0`) by Welford's update, in `f64`, constant memory.
//! - [`percentile`]: exact percentile of a sorted sample by linear interpolation between the two
//!   nearest ranks — numpy's default `method="linear"`: with `n` sorted values `v` and
//!   `h = (n − 1)·p`, the result is `v[⌊h⌋] + (h − ⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋])`.

/// Running count, mean and sum of squared deviations (Welford).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Add one observation.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The mean, `None` without observations.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// The population standard deviation (divisor `n`), `None` without observations.
    pub fn population_stddev(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.m2 / self.n as f64).max(0.0).sqrt())
    }
}

/// A running sum and count, for plain means.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mean {
    n: u64,
    sum: f64,
}

impl Mean {
    /// Add one observation.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
    }

    /// The mean (`sum / count`), `None` without observations.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// A running weighted mean `Σ w·x / Σ w`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WeightedMean {
    weight: f64,
    sum: f64,
}

impl WeightedMean {
    /// Add `x` with weight `w` (ignored unless `w > 0`).
    pub fn push(&mut self, x: f64, w: f64) {
        if w > 0.0 {
            self.weight += w;
            self.sum += x * w;
        }
    }

    /// The weighted mean, `None` when no positive weight was added.
    pub fn mean(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

/// The `p`-th quantile (`p` in `[0, 1]`) of an ascending, non-empty slice; `None` when empty.
pub fn percentile(sorted: &[f32], p: f64) -> Option<f64> {
    let n = sorted.len();
    let last = n.checked_sub(1)?;
    let h = last as f64 * p.clamp(0.0, 1.0);
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let (a, b) = (f64::from(sorted[lo]), f64::from(sorted[hi]));
    Some(a + (h - lo as f64) * (b - a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_match_two_pass_formulas() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut m = Moments::default();
        xs.iter().for_each(|&x| m.push(x));
        assert_eq!(m.count(), 8);
        assert_eq!(m.mean(), Some(5.0));
        // The textbook example: population standard deviation exactly 2.
        assert!((m.population_stddev().unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(Moments::default().mean(), None);
    }

    #[test]
    fn percentile_is_numpy_linear() {
        // np.percentile([1, 2, 3, 4], [10, 50, 90]) == [1.3, 2.5, 3.7]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile(&v, 0.1).unwrap() - 1.3).abs() < 1e-12);
        assert!((percentile(&v, 0.5).unwrap() - 2.5).abs() < 1e-12);
        assert!((percentile(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
