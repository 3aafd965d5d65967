//! A validated real-data covariance Σ, eigendecomposed once.
//!
//! Every covariance the DAE recursion produces is a function of Σ (proofs/dae-covariance-recursion.md), so the
//! recursion runs on the spectrum and matrices are rebuilt as `Q diag(f(λ)) Qᵀ` only when asked for.

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use thiserror::Error;

/// Why a matrix or spectrum is not a valid covariance.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CovarianceError {
    #[error("covariance is empty: it needs at least one dimension")]
    Empty,
    #[error("covariance must be square, got {rows}×{cols}")]
    NotSquare { rows: usize, cols: usize },
    #[error("covariance entry ({row}, {col}) is {value}; entries must be finite numbers")]
    NonFinite { row: usize, col: usize, value: f64 },
    #[error(
        "covariance is not symmetric: entry ({row}, {col}) = {upper} but ({col}, {row}) = {lower} \
         (allowed difference ≤ {tolerance:e})"
    )]
    NotSymmetric { row: usize, col: usize, upper: f64, lower: f64, tolerance: f64 },
    #[error(
        "covariance is not positive semi-definite: eigenvalue {eigenvalue:e} < 0 \
         (allowed ≥ −{tolerance:e})"
    )]
    Indefinite { eigenvalue: f64, tolerance: f64 },
    #[error("spectrum value {index} is {value}; eigenvalues must be finite and ≥ 0")]
    BadEigenvalue { index: usize, value: f64 },
    #[error("covariance is zero: at least one eigenvalue must be > 0")]
    Zero,
}

/// Σ = Q diag(λ) Qᵀ with eigenvalues sorted in decreasing order and Q orthogonal.
///
/// # Example
/// `[[2, 1], [1, 2]]`: eigenvalues 3 and 1, trace 4, and `L Lᵀ = Σ` for the square-root factor:
/// ```
/// use flowcollapse::theory::{Covariance, CovarianceError};
/// use nalgebra::dmatrix;
/// let sigma = dmatrix![2.0, 1.0; 1.0, 2.0];
/// let cov = Covariance::from_matrix(&sigma).unwrap();
/// assert!((cov.eigenvalues()[0] - 3.0).abs() < 1e-15 && (cov.eigenvalues()[1] - 1.0).abs() < 1e-15);
/// assert!((cov.trace() - 4.0).abs() < 1e-15);
/// let l = cov.sqrt_factor();
/// assert!((&l * l.transpose() - &sigma).amax() < 1e-14);
/// assert!((cov.matrix() - &sigma).amax() < 1e-14);
/// assert!(matches!(
///     Covariance::from_matrix(&dmatrix![1.0, 2.0; 2.0, 1.0]), // eigenvalue −1
///     Err(CovarianceError::Indefinite { .. })
/// ));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Covariance {
    eigenvalues: Vec<f64>,
    eigenvectors: DMatrix<f64>,
}

/// Relative tolerance for symmetry and for rounding-level negative eigenvalues.
const RELATIVE_TOLERANCE: f64 = 1e-9;

impl Covariance {
    /// A diagonal Σ with the given eigenvalues (in any order).
    pub fn from_spectrum(spectrum: &[f64]) -> Result<Self, CovarianceError> {
        if spectrum.is_empty() {
            return Err(CovarianceError::Empty);
        }
        for (index, &value) in spectrum.iter().enumerate() {
            if !(value.is_finite() && value >= 0.0) {
                return Err(CovarianceError::BadEigenvalue { index, value });
            }
        }
        let d = spectrum.len();
        Self::sorted(spectrum.to_vec(), DMatrix::identity(d, d))
    }

    /// Any symmetric positive semi-definite matrix. Eigenvalues that are negative only by rounding
    /// (|λ| ≤ 1e-9·max|Σᵢⱼ|) are set to 0; anything more negative is an error.
    pub fn from_matrix(matrix: &DMatrix<f64>) -> Result<Self, CovarianceError> {
        let (rows, cols) = matrix.shape();
        if rows == 0 || cols == 0 {
            return Err(CovarianceError::Empty);
        }
        if rows != cols {
            return Err(CovarianceError::NotSquare { rows, cols });
        }
        for row in 0..rows {
            for col in 0..cols {
                let value = matrix[(row, col)];
                if !value.is_finite() {
                    return Err(CovarianceError::NonFinite { row, col, value });
                }
            }
        }
        let scale = matrix.amax().max(f64::MIN_POSITIVE);
        let tolerance = RELATIVE_TOLERANCE * scale;
        for row in 0..rows {
            for col in row + 1..cols {
                let (upper, lower) = (matrix[(row, col)], matrix[(col, row)]);
                if (upper - lower).abs() > tolerance {
                    return Err(CovarianceError::NotSymmetric { row, col, upper, lower, tolerance });
                }
            }
        }
        let symmetric = (matrix + matrix.transpose()) * 0.5;
        let eigen = SymmetricEigen::new(symmetric);
        let mut eigenvalues: Vec<f64> = eigen.eigenvalues.iter().copied().collect();
        for value in &mut eigenvalues {
            if *value < -tolerance {
                return Err(CovarianceError::Indefinite { eigenvalue: *value, tolerance });
            }
            *value = value.max(0.0);
        }
        Self::sorted(eigenvalues, eigen.eigenvectors)
    }

    fn sorted(eigenvalues: Vec<f64>, vectors: DMatrix<f64>) -> Result<Self, CovarianceError> {
        if eigenvalues.iter().all(|&v| v == 0.0) {
            return Err(CovarianceError::Zero);
        }
        let mut order: Vec<usize> = (0..eigenvalues.len()).collect();
        order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]));
        let eigenvectors = DMatrix::from_fn(vectors.nrows(), order.len(), |r, c| vectors[(r, order[c])]);
        let eigenvalues = order.iter().map(|&i| eigenvalues[i]).collect();
        Ok(Self { eigenvalues, eigenvectors })
    }

    pub fn dim(&self) -> usize {
        self.eigenvalues.len()
    }

    /// The eigenvalues λ, largest first.
    pub fn eigenvalues(&self) -> &[f64] {
        &self.eigenvalues
    }

    /// Q: column i is the eigenvector of `eigenvalues()[i]`.
    pub fn eigenvectors(&self) -> &DMatrix<f64> {
        &self.eigenvectors
    }

    pub fn trace(&self) -> f64 {
        self.eigenvalues.iter().sum()
    }

    /// The matrix `Q diag(values) Qᵀ` sharing Σ's eigenvectors; `values[i]` belongs to `eigenvalues()[i]`.
    pub fn with_spectrum(&self, values: &[f64]) -> DMatrix<f64> {
        assert_eq!(values.len(), self.dim(), "one value per eigen-direction");
        let q = &self.eigenvectors;
        q * DMatrix::from_diagonal(&DVector::from_column_slice(values)) * q.transpose()
    }

    /// Σ itself.
    pub fn matrix(&self) -> DMatrix<f64> {
        self.with_spectrum(&self.eigenvalues)
    }

    /// A factor L = Q diag(√λ) with L Lᵀ = Σ, for drawing x = L z with z ~ N(0, I).
    pub fn sqrt_factor(&self) -> DMatrix<f64> {
        let roots: Vec<f64> = self.eigenvalues.iter().map(|v| v.sqrt()).collect();
        &self.eigenvectors * DMatrix::from_diagonal(&DVector::from_vec(roots))
    }
}
