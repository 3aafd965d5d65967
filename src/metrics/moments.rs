//! First and second sample moments: per-coordinate mean and variance, total variance, covariance, spectrum.

use super::dense::gram;
use super::eigen::sym_eigenvalues;
use super::{check_finite, MetricsError, Samples};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// Rows centred per task in the parallel centring pass.
const CENTRE_BLOCK: usize = 256;

/// Sample mean and (unbiased) sample covariance of n samples in d coordinates, in f64.
///
/// # Example
/// Rows `(i, 2i)`, i = 1…4: mean (2.5, 5), variances 5/3 and 20/3 (divisor n − 1), covariance 10/3, and a
/// rank-one spectrum `(25/3, 0)`:
/// ```
/// use flowcollapse::metrics::{Moments, Samples};
/// let data = [1.0f32, 2.0, 2.0, 4.0, 3.0, 6.0, 4.0, 8.0];
/// let m = Moments::from_samples(Samples::new("real", &data, 4, 2).unwrap()).unwrap();
/// assert_eq!(m.mean().as_slice(), &[2.5, 5.0]);
/// assert!((m.pixel_variance()[0] - 5.0 / 3.0).abs() < 1e-14 && (m.covariance()[(0, 1)] - 10.0 / 3.0).abs() < 1e-14);
/// assert!((m.total_variance() - 25.0 / 3.0).abs() < 1e-14);
/// let spectrum = m.spectrum().unwrap();
/// assert!((spectrum[0] - 25.0 / 3.0).abs() < 1e-13 && spectrum[1].abs() < 1e-13);
/// ```
#[derive(Clone, Debug)]
pub struct Moments {
    n: usize,
    mean: DVector<f64>,
    covariance: DMatrix<f64>,
}

impl Moments {
    /// Moments of f32 samples (converted to f64 before any arithmetic).
    ///
    /// # Formula
    /// `μ = (1/n) Σ_i x_i`, `Σ̂ = (1/(n−1)) Σ_i (x_i − μ)(x_i − μ)ᵀ`: centred first (two-pass), then one
    /// Gram product `X_cᵀ X_c` through `gemm`, upper triangle only, mirrored. Cost `n·d²` multiply-adds.
    pub fn from_samples(x: Samples<'_>) -> Result<Self, MetricsError> {
        x.require_rows(2, "a sample covariance needs two samples")?;
        Ok(Self::from_rows_unchecked(x.data(), x.rows(), x.cols()))
    }

    /// Moments of f64 rows (e.g. features), `n × d` row-major; `field` names the set in errors.
    pub fn from_rows(field: &'static str, data: &[f64], n: usize, d: usize) -> Result<Self, MetricsError> {
        if n < 2 || d == 0 || n.checked_mul(d) != Some(data.len()) {
            return Err(MetricsError::invalid(
                field,
                format!("{} values as {n} × {d}", data.len()),
                "n × d values with n ≥ 2 and d ≥ 1",
            ));
        }
        check_finite(field, data, d)?;
        Ok(Self::from_rows_unchecked(data, n, d))
    }

    fn from_rows_unchecked<T: Copy + Into<f64> + Sync>(data: &[T], n: usize, d: usize) -> Self {
        // Column sums in row order: a fixed reduction order, and n·d additions are cheap next to the product.
        let mut sum = vec![0.0f64; d];
        for row in data.chunks_exact(d) {
            for (s, &v) in sum.iter_mut().zip(row) {
                *s += v.into();
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
        let mut centred = vec![0.0f64; n * d];
        centred.par_chunks_mut(CENTRE_BLOCK * d).zip(data.par_chunks(CENTRE_BLOCK * d)).for_each(|(out, rows)| {
            for (o, r) in out.chunks_exact_mut(d).zip(rows.chunks_exact(d)) {
                for ((o, &v), m) in o.iter_mut().zip(r).zip(&mean) {
                    *o = v.into() - m;
                }
            }
        });
        let mut g = gram(&centred, n, d);
        let scale = 1.0 / (n - 1) as f64;
        g.iter_mut().for_each(|v| *v *= scale);
        // Exactly symmetric, so the row-major buffer is also the column-major one.
        Moments { n, mean: DVector::from_vec(mean), covariance: DMatrix::from_vec(d, d, g) }
    }

    /// Number of samples n.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Coordinates per sample d.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Per-coordinate (per-pixel) mean μ.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// Sample covariance Σ̂ (d × d, divisor n − 1).
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// Per-coordinate (per-pixel) sample variance: the diagonal of Σ̂.
    pub fn pixel_variance(&self) -> Vec<f64> {
        self.covariance.diagonal().iter().copied().collect()
    }

    /// Total variance, summed over coordinates.
    ///
    /// # Formula
    /// `tr Σ̂ = Σ_j σ̂_j²`.
    pub fn total_variance(&self) -> f64 {
        self.covariance.trace()
    }

    /// Eigenvalues of Σ̂, largest first (a few may be slightly negative from rounding when n ≤ d or some
    /// coordinates are constant; they are reported as computed).
    pub fn spectrum(&self) -> Result<Vec<f64>, MetricsError> {
        sym_eigenvalues("sample covariance", &self.covariance)
    }
}
