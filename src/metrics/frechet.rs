//! Fréchet (2-Wasserstein) distance between two Gaussians, by symmetric eigendecompositions only.
//!
//! # Formula
//! `FD = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}`.
//!
//! # Numerics
//! `Σ₁^{1/2} = Q diag(√max(λ_i, 0)) Qᵀ` from the eigendecomposition `Σ₁ = Q diag(λ) Qᵀ`. The middle matrix
//! `M = Σ₁^{1/2} Σ₂ Σ₁^{1/2}` is symmetric positive semi-definite (it is similar to `Σ₁Σ₂`, whose
//! eigenvalues are therefore real and ≥ 0); it is symmetrised as `(M + Mᵀ)/2` against rounding, its
//! eigenvalues `ν_j` are clamped at 0, and `tr M^{1/2} = Σ_j √ν_j`. No general (non-symmetric) matrix
//! square root is formed, so there are no complex parts to discard.
//!
//! Accuracy: the eigenvalues of `M` carry an absolute error of order `ε‖M‖`; after the square root a zero
//! eigenvalue can contribute up to `√(ε‖M‖)`, so for rank-deficient covariances (n ≤ d, constant pixels)
//! the trace term has an absolute floor of about `d·√(ε‖M‖)` (ε = 2.2e-16). For full-rank covariances the
//! error is of order `d·ε·‖Σ‖`. The trace term, ≥ 0 in exact arithmetic, is clamped at 0.

use super::eigen::{sym_eigen_with, sym_eigenvalues_with, EigenPath};
use super::MetricsError;
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// The two parts of a Fréchet distance and their sum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FrechetTerms {
    /// `‖μ₁ − μ₂‖²`.
    pub mean_term: f64,
    /// `tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}`, clamped at 0.
    pub trace_term: f64,
    /// `mean_term + trace_term`.
    pub value: f64,
}

/// The first Gaussian of a Fréchet distance, prepared once: its mean, trace and `Σ₁^{1/2}`.
///
/// Built once from the real set, then compared with every generation: each comparison costs one
/// eigendecomposition (of `M`) instead of two.
///
/// # Example
/// In 1-D the distance is `(μ₁ − μ₂)² + (σ₁ − σ₂)²`: N(0, 4) to N(1, 1) and to N(0, 9) are 2 and 1.
/// ```
/// use flowcollapse::metrics::FrechetReference;
/// use nalgebra::{dmatrix, dvector};
/// let real = FrechetReference::new(&dvector![0.0], &dmatrix![4.0]).unwrap();
/// assert!((real.distance(&dvector![1.0], &dmatrix![1.0]).unwrap().value - 2.0).abs() < 1e-14);
/// assert!((real.distance(&dvector![0.0], &dmatrix![9.0]).unwrap().value - 1.0).abs() < 1e-14);
/// ```
#[derive(Clone, Debug)]
pub struct FrechetReference {
    path: EigenPath,
    mean: DVector<f64>,
    trace: f64,
    sqrt: DMatrix<f64>,
}

impl FrechetReference {
    /// Prepare `N(mean, cov)`; `cov` must be symmetric (its lower triangle is read).
    ///
    /// # Formula
    /// `Σ₁^{1/2} = Q diag(√max(λ_i, 0)) Qᵀ`, `Σ₁ = Q diag(λ) Qᵀ`.
    pub fn new(mean: &DVector<f64>, cov: &DMatrix<f64>) -> Result<Self, MetricsError> {
        Self::with_path(EigenPath::default(), mean, cov)
    }

    /// [`FrechetReference::new`] with every eigendecomposition on the given path.
    pub fn with_path(path: EigenPath, mean: &DVector<f64>, cov: &DMatrix<f64>) -> Result<Self, MetricsError> {
        check_gaussian("reference", mean, cov)?;
        let eig = sym_eigen_with(path, "reference covariance", cov)?;
        let roots: Vec<f64> = eig.values.iter().map(|&l| l.max(0.0).sqrt()).collect();
        let q = &eig.vectors;
        let scaled = DMatrix::from_fn(q.nrows(), q.ncols(), |i, j| q[(i, j)] * roots[j]);
        let sqrt = symmetrise(&scaled * q.transpose());
        Ok(FrechetReference { path, mean: mean.clone(), trace: cov.trace(), sqrt })
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Fréchet distance from this reference to `N(mean, cov)` (see the module formula).
    pub fn distance(&self, mean: &DVector<f64>, cov: &DMatrix<f64>) -> Result<FrechetTerms, MetricsError> {
        check_gaussian("compared", mean, cov)?;
        if mean.len() != self.dim() {
            return Err(MetricsError::invalid(
                "compared mean",
                format!("dimension {}", mean.len()),
                format!("{} (the reference's dimension)", self.dim()),
            ));
        }
        let mean_term = (&self.mean - mean).norm_squared();
        let m = symmetrise(&self.sqrt * cov * &self.sqrt);
        let values = sym_eigenvalues_with(self.path, "Σ₁^½ Σ₂ Σ₁^½", &m)?;
        let cross: f64 = values.iter().map(|&v| v.max(0.0).sqrt()).sum();
        let trace_term = (self.trace + cov.trace() - 2.0 * cross).max(0.0);
        Ok(FrechetTerms { mean_term, trace_term, value: mean_term + trace_term })
    }
}

/// Fréchet distance between `N(μ₁, Σ₁)` and `N(μ₂, Σ₂)` (numerics in the module documentation).
///
/// # Formula
/// `‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 Σ_j √max(ν_j, 0)`, `ν = eig(Σ₁^{1/2} Σ₂ Σ₁^{1/2})`.
///
/// # Example
/// Two closed forms. Commuting covariances give `‖Δμ‖² + Σ_i (√a_i − √b_i)²`: diag(4, 9) against I with means
/// 2 apart in total squared distance 5 is `5 + 1 + 4 = 10`. For 2 × 2 covariances
/// `(tr M^{1/2})² = tr(Σ₁Σ₂) + 2√(det Σ₁ det Σ₂)`, so `[[2, 1], [1, 2]]` against diag(1, 4) is
/// `4 + 5 − 2√(10 + 4√3)`:
/// ```
/// use flowcollapse::metrics::frechet_distance;
/// use nalgebra::{dmatrix, dvector, DMatrix, DVector};
/// let (mean, cov) = (dvector![1.0, 2.0], dmatrix![4.0, 0.0; 0.0, 9.0]);
/// let fd = frechet_distance(&mean, &cov, &DVector::zeros(2), &DMatrix::identity(2, 2)).unwrap();
/// assert!((fd.mean_term - 5.0).abs() < 1e-14 && (fd.value - 10.0).abs() < 1e-13);
///
/// let (a, b) = (dmatrix![2.0, 1.0; 1.0, 2.0], dmatrix![1.0, 0.0; 0.0, 4.0]);
/// let zero = DVector::zeros(2);
/// let expected = 9.0 - 2.0 * (10.0 + 4.0 * 3f64.sqrt()).sqrt();
/// assert!((frechet_distance(&zero, &a, &zero, &b).unwrap().value - expected).abs() < 1e-13);
/// assert!((frechet_distance(&zero, &b, &zero, &a).unwrap().value - expected).abs() < 1e-13);
/// ```
pub fn frechet_distance(
    mean1: &DVector<f64>,
    cov1: &DMatrix<f64>,
    mean2: &DVector<f64>,
    cov2: &DMatrix<f64>,
) -> Result<FrechetTerms, MetricsError> {
    FrechetReference::new(mean1, cov1)?.distance(mean2, cov2)
}

fn symmetrise(m: DMatrix<f64>) -> DMatrix<f64> {
    (&m + m.transpose()) * 0.5
}

fn check_gaussian(which: &'static str, mean: &DVector<f64>, cov: &DMatrix<f64>) -> Result<(), MetricsError> {
    let d = mean.len();
    if d == 0 || cov.nrows() != d || cov.ncols() != d {
        return Err(MetricsError::invalid(
            which,
            format!("mean of length {d}, covariance {} × {}", cov.nrows(), cov.ncols()),
            "a non-empty mean of length d and a d × d covariance",
        ));
    }
    if let Some(i) = mean.iter().position(|v| !v.is_finite()) {
        return Err(MetricsError::NonFinite { field: which, row: i, col: 0, value: mean[i] });
    }
    Ok(())
}
