//! Summaries of independent replicates: mean and a Student-t confidence interval.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A replicate mean with a two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Mean of `samples` (independent replicates) and its two-sided confidence interval at `level` (e.g. 0.95).
///
/// # Formula
/// `x̄ ± t_{R−1, (1+level)/2} · s / √R`, with `s` the sample standard deviation (1/(R−1)) and `t` the
/// Student-t quantile with R − 1 degrees of freedom. With fewer than two samples the bounds are NaN.
pub fn mean_interval(samples: &[f64], level: f64) -> Interval {
    assert!(level > 0.0 && level < 1.0, "confidence level must be in (0, 1), got {level}");
    let r = samples.len();
    let mean = samples.iter().sum::<f64>() / r as f64;
    if r < 2 {
        return Interval { mean, lo: f64::NAN, hi: f64::NAN };
    }
    let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r - 1) as f64;
    let t = StudentsT::new(0.0, 1.0, (r - 1) as f64)
        .expect("R − 1 ≥ 1 degrees of freedom is valid")
        .inverse_cdf(0.5 * (1.0 + level));
    let half = t * (var / r as f64).sqrt();
    Interval { mean, lo: mean - half, hi: mean + half }
}

/// Mean (with confidence interval) and standard deviation of a quantity across paths (or replicates).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Moments {
    /// Mean over paths, with its Student-t interval at the run's level.
    pub mean: Interval,
    /// Sample standard deviation over paths (divisor P − 1).
    pub sd: f64,
}

/// [`Moments`] plus exact quantiles across paths (or replicates).
///
/// Quantiles are order statistics (the inverse of the empirical distribution function: the
/// ⌈pP⌉-th smallest of P values), so they commute with monotone maps: the median of `ln σ̂²_k` is the log
/// of `median`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub mean: Interval,
    pub sd: f64,
    pub q05: f64,
    pub median: f64,
    pub q95: f64,
}

pub fn moments(values: &[f64], level: f64) -> Moments {
    let mean = mean_interval(values, level);
    let ss: f64 = values.iter().map(|v| (v - mean.mean).powi(2)).sum();
    Moments { mean, sd: (ss / (values.len() - 1) as f64).sqrt() }
}

/// Moments and the 5%, 50% and 95% order statistics (`sorted` is scratch of the same length).
pub fn spread(values: &[f64], sorted: &mut [f64], level: f64) -> Spread {
    let Moments { mean, sd } = moments(values, level);
    sorted.copy_from_slice(values);
    let p = sorted.len();
    // The ⌈pP⌉-th smallest (1-based), for p = 5/100, 1/2, 95/100 in integer arithmetic.
    let rank = |percent: usize| (percent * p).div_ceil(100).max(1) - 1;
    let (i05, i50, i95) = (rank(5), rank(50), rank(95));
    let (lower, &mut median, upper) = sorted.select_nth_unstable_by(i50, f64::total_cmp);
    let q05 = if i05 < i50 { *lower.select_nth_unstable_by(i05, f64::total_cmp).1 } else { median };
    let q95 = if i95 > i50 { *upper.select_nth_unstable_by(i95 - i50 - 1, f64::total_cmp).1 } else { median };
    Spread { mean, sd, q05, median, q95 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_matches_textbook_values() {
        // Two samples {0, 2}: mean 1, s = √2, t_{1, 0.975} = 12.7062047…; half-width = 12.7062·√2/√2.
        let iv = mean_interval(&[0.0, 2.0], 0.95);
        assert!((iv.mean - 1.0).abs() < 1e-15);
        assert!((iv.hi - 1.0 - 12.706_204_736).abs() < 1e-6, "{iv:?}");
        // Large R: the t quantile tends to the normal one, 1.959964.
        let samples: Vec<f64> = (0..100_000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let iv = mean_interval(&samples, 0.95);
        let expected = 1.959_964 * (100_000.0 / 99_999.0_f64).sqrt() / (100_000.0_f64).sqrt();
        assert!((iv.hi - expected).abs() < 1e-5, "{iv:?} vs {expected}");
    }
}
