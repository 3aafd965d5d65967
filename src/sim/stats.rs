//! Summaries of independent replicates: mean with a Student-t or bootstrap-t confidence interval, standard
//! deviation and exact quantiles.
//!
//! # Which interval
//! [`mean_interval`] (Student-t) is right when the mean of the replicates is close to normal: light tails,
//! or many replicates. Its coverage error is of order γ/√R for skewness γ, so it misses on the low side of a
//! right-skewed quantity, and for a heavy-tailed one (a Monte Carlo mean dominated by rare large values,
//! such as `σ̂²_k` after many generations of Gaussian refit) it misses most of the time.
//! [`bootstrap_t_interval`] (the studentized bootstrap) corrects the O(1/√R) skewness term and is the
//! better choice for skewed means. Neither can cover a mean carried by values the sample does not contain:
//! no interval built from the sample alone can (Bahadur and Savage, 1956), so for heavy-tailed quantities
//! check a light-tailed transform (a log) against its exact mean instead.
//!
//! ```
//! use flowcollapse::sim::stats::{mean_interval, spread};
//!
//! // {0, 2}: mean 1, s = √2, half-width t_{1, 0.975} · s/√2 = 12.7062.
//! let iv = mean_interval(&[0.0, 2.0], 0.95);
//! assert!((iv.mean - 1.0).abs() < 1e-15 && (iv.hi - 1.0 - 12.706_204_736).abs() < 1e-6);
//!
//! // Quantiles are order statistics: the ⌈pP⌉-th smallest of 1, 2, …, 100 is ⌈100p⌉.
//! let values: Vec<f64> = (1..=100).map(f64::from).collect();
//! let s = spread(&values, &mut vec![0.0; 100], 0.95);
//! assert_eq!((s.q05, s.median, s.q95), (5.0, 50.0, 95.0));
//! // sd of 1…100 is √(100·101/12) = 29.011…
//! assert!((s.sd - (100.0f64 * 101.0 / 12.0).sqrt()).abs() < 1e-12);
//! ```

use super::dae::stream_seed;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
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

/// How the confidence interval of a mean is computed; its [`name`](MeanInterval::name) is what records carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeanInterval {
    /// [`mean_interval`]: `x̄ ± t · s/√R`. Cheap; reliable for light-tailed values.
    #[default]
    StudentT,
    /// [`bootstrap_t_interval`] with this many resamples (999 is the usual choice for 95%): better for
    /// skewed values, at the cost of `resamples × R` random draws.
    BootstrapT { resamples: usize },
}

impl MeanInterval {
    /// `student-t` or `bootstrap-t`.
    pub fn name(&self) -> &'static str {
        match self {
            MeanInterval::StudentT => "student-t",
            MeanInterval::BootstrapT { .. } => "bootstrap-t",
        }
    }

    /// The mean of `samples` with this interval at `level`; `seed` drives the bootstrap's resampling (the
    /// Student-t interval ignores it).
    pub fn interval(&self, samples: &[f64], level: f64, seed: u64) -> Interval {
        match *self {
            MeanInterval::StudentT => mean_interval(samples, level),
            MeanInterval::BootstrapT { resamples } => bootstrap_t_interval(samples, level, resamples, seed),
        }
    }
}

/// Mean of `samples` (independent replicates) and its studentized-bootstrap (bootstrap-t) confidence
/// interval at `level`, from `resamples` resamples; deterministic given `seed`, whatever the thread count.
///
/// # Formula
/// Resample b draws R of the samples uniformly with replacement (Xoshiro256++ stream
/// `stream_seed(seed, 0, b)`) and records `t*_b = (x̄*_b − x̄) / (s*_b/√R)`. With `t*_{(p)}` the
/// ⌈p·B⌉-th smallest of the B values, the interval is
/// `[x̄ − t*_{((1+level)/2)} · s/√R, x̄ − t*_{((1−level)/2)} · s/√R]` (Efron and Tibshirani, *An Introduction
/// to the Bootstrap*, ch. 12; Hall, 1988: its coverage error is O(1/R) where the Student-t interval's is
/// O(1/√R) for skewed data). For symmetric data it tends to the Student-t interval. A resample with
/// `s*_b = 0` counts as `t*_b = ±∞` by the sign of `x̄*_b − x̄` (0 when equal). With fewer than two samples
/// the bounds are NaN; with `s = 0` the interval is the point x̄.
///
/// ```
/// use flowcollapse::sim::stats::{bootstrap_t_interval, mean_interval};
///
/// // Symmetric data: the bootstrap-t interval is close to x̄ ± 1.96 s/√R (here s/√R = 0.0316…).
/// let samples: Vec<f64> = (0..1000).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
/// let boot = bootstrap_t_interval(&samples, 0.95, 999, 1);
/// let half = 1.959_964 * (1000.0f64 / 999.0).sqrt() / 1000.0f64.sqrt();
/// assert_eq!(boot.mean, 0.0);
/// assert!((boot.hi / half - 1.0).abs() < 0.1 && (boot.lo / half + 1.0).abs() < 0.1, "{boot:?}");
/// // The same seed gives the same interval.
/// assert_eq!(boot, bootstrap_t_interval(&samples, 0.95, 999, 1));
///
/// // Right-skewed data (one large value): the interval reaches further above the mean than below it,
/// // where the Student-t interval is symmetric.
/// let mut skewed = vec![1.0; 99];
/// skewed.push(100.0);
/// let boot = bootstrap_t_interval(&skewed, 0.95, 999, 2);
/// let t = mean_interval(&skewed, 0.95);
/// assert!(boot.hi - boot.mean > boot.mean - boot.lo && (t.hi - t.mean - (t.mean - t.lo)).abs() < 1e-12);
/// ```
pub fn bootstrap_t_interval(samples: &[f64], level: f64, resamples: usize, seed: u64) -> Interval {
    assert!(level > 0.0 && level < 1.0, "confidence level must be in (0, 1), got {level}");
    assert!(resamples >= 1, "the bootstrap needs at least one resample");
    let r = samples.len();
    let mean = samples.iter().sum::<f64>() / r as f64;
    if r < 2 {
        return Interval { mean, lo: f64::NAN, hi: f64::NAN };
    }
    let ss: f64 = samples.iter().map(|x| (x - mean).powi(2)).sum();
    let se = (ss / (r - 1) as f64 / r as f64).sqrt();
    if se == 0.0 {
        return Interval { mean, lo: mean, hi: mean };
    }
    let mut t: Vec<f64> = (0..resamples as u64)
        .into_par_iter()
        .map(|b| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, 0, b));
            // Deviations from the sample mean: x̄*_b − x̄ and s*_b without cancellation against x̄.
            let (mut sum, mut sum_sq) = (0.0, 0.0);
            for _ in 0..r {
                let d = samples[rng.random_range(0..r)] - mean;
                sum += d;
                sum_sq += d * d;
            }
            let shift = sum / r as f64;
            let var = ((sum_sq - sum * shift) / (r - 1) as f64).max(0.0);
            let se_b = (var / r as f64).sqrt();
            if se_b > 0.0 {
                shift / se_b
            } else if shift == 0.0 {
                0.0
            } else {
                shift.signum() * f64::INFINITY
            }
        })
        .collect();
    t.sort_unstable_by(f64::total_cmp);
    let rank = |p: f64| ((p * resamples as f64).ceil() as usize).clamp(1, resamples) - 1;
    let (t_lo, t_hi) = (t[rank(0.5 * (1.0 - level))], t[rank(0.5 * (1.0 + level))]);
    Interval { mean, lo: mean - t_hi * se, hi: mean - t_lo * se }
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

/// Mean of `values` with its Student-t interval at `level` ([`mean_interval`]) and their sample standard
/// deviation (divisor P − 1).
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
