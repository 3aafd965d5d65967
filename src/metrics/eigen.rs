//! Symmetric eigendecomposition: nalgebra by default, LAPACK (`dsyevd` through ndarray-linalg and the
//! system's OpenBLAS) with the `lapack` feature. One entry point, [`sym_eigen`], picks the path.
//!
//! Only the lower triangle (with the diagonal) of the input is read, on both paths.

use super::MetricsError;
use nalgebra::{DMatrix, DVector, SymmetricEigen};

/// Eigenvalues, largest first, with their unit eigenvectors as the columns of `vectors` (same order).
#[derive(Clone, Debug)]
pub struct SymEigen {
    pub values: Vec<f64>,
    pub vectors: DMatrix<f64>,
}

/// Which implementation computes a symmetric eigendecomposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EigenPath {
    /// nalgebra's tridiagonalisation and implicit symmetric QR (pure Rust).
    Nalgebra,
    /// LAPACK through ndarray-linalg (`lapack` feature; system OpenBLAS).
    #[cfg(feature = "lapack")]
    Lapack,
}

impl Default for EigenPath {
    /// LAPACK where the feature is on, nalgebra otherwise.
    fn default() -> Self {
        #[cfg(feature = "lapack")]
        return EigenPath::Lapack;
        #[cfg(not(feature = "lapack"))]
        EigenPath::Nalgebra
    }
}

/// `A = V diag(values) Vᵀ` for a symmetric `A` (named `what` in errors), on the default path.
///
/// # Example
/// `[[2, 1], [1, 2]]`: eigenvalues 3 and 1, the first on `(1, 1)/√2` (up to sign):
/// ```
/// use flowcollapse::metrics::{sym_eigen, sym_eigenvalues};
/// use nalgebra::dmatrix;
/// let a = dmatrix![2.0, 1.0; 1.0, 2.0];
/// let eig = sym_eigen("example", &a).unwrap();
/// assert!((eig.values[0] - 3.0).abs() < 1e-14 && (eig.values[1] - 1.0).abs() < 1e-14);
/// let v = eig.vectors.column(0);
/// assert!((v[0].abs() - 0.5f64.sqrt()).abs() < 1e-14 && (v[0] - v[1]).abs() < 1e-14);
/// assert!((&a * v - v * 3.0).amax() < 1e-14);
/// let values = sym_eigenvalues("example", &a).unwrap();
/// assert!((values[0] - 3.0).abs() < 1e-14 && (values[1] - 1.0).abs() < 1e-14);
/// ```
pub fn sym_eigen(what: &'static str, a: &DMatrix<f64>) -> Result<SymEigen, MetricsError> {
    sym_eigen_with(EigenPath::default(), what, a)
}

/// Eigenvalues of a symmetric `A`, largest first, on the default path (cheaper: no eigenvectors).
pub fn sym_eigenvalues(what: &'static str, a: &DMatrix<f64>) -> Result<Vec<f64>, MetricsError> {
    sym_eigenvalues_with(EigenPath::default(), what, a)
}

/// [`sym_eigenvalues`] on a chosen path.
pub fn sym_eigenvalues_with(path: EigenPath, what: &'static str, a: &DMatrix<f64>) -> Result<Vec<f64>, MetricsError> {
    check(what, a)?;
    let mut values = match path {
        EigenPath::Nalgebra => a.symmetric_eigenvalues().as_slice().to_vec(),
        #[cfg(feature = "lapack")]
        EigenPath::Lapack => lapack::eigenvalues(what, a)?,
    };
    values.sort_by(|x, y| y.total_cmp(x));
    Ok(values)
}

/// [`sym_eigen`] on a chosen path (tests compare the paths).
pub fn sym_eigen_with(path: EigenPath, what: &'static str, a: &DMatrix<f64>) -> Result<SymEigen, MetricsError> {
    check(what, a)?;
    let (values, vectors) = match path {
        EigenPath::Nalgebra => {
            let d = a.nrows();
            // Iterations of the implicit QR over the whole matrix; a few per eigenvalue is typical.
            let limit = 64 * d + 64;
            let eig = SymmetricEigen::try_new(a.clone(), f64::EPSILON, limit).ok_or_else(|| MetricsError::Eigen {
                what,
                dim: d,
                reason: format!("implicit QR did not converge in {limit} iterations"),
            })?;
            (eig.eigenvalues, eig.eigenvectors)
        }
        #[cfg(feature = "lapack")]
        EigenPath::Lapack => lapack::eigen(what, a)?,
    };
    Ok(sorted_descending(values, vectors))
}

fn check(what: &'static str, a: &DMatrix<f64>) -> Result<(), MetricsError> {
    if a.nrows() != a.ncols() || a.nrows() == 0 {
        return Err(MetricsError::invalid(what, format!("{} × {}", a.nrows(), a.ncols()), "a non-empty square matrix"));
    }
    match a.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        // nalgebra is column-major: index = col·rows + row.
        Some(i) => Err(MetricsError::NonFinite { field: what, row: i % a.nrows(), col: i / a.nrows(), value: a[i] }),
    }
}

fn sorted_descending(values: DVector<f64>, vectors: DMatrix<f64>) -> SymEigen {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[j].total_cmp(&values[i]));
    SymEigen {
        values: order.iter().map(|&i| values[i]).collect(),
        vectors: DMatrix::from_fn(vectors.nrows(), order.len(), |r, c| vectors[(r, order[c])]),
    }
}

#[cfg(feature = "lapack")]
mod lapack {
    use super::MetricsError;
    use nalgebra::{DMatrix, DVector};
    use ndarray::Array2;
    use ndarray_linalg::{EigValshInto, EighInto, UPLO};

    fn to_ndarray(a: &DMatrix<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), a.ncols()), |(i, j)| a[(i, j)])
    }

    fn failed(what: &'static str, dim: usize, e: impl std::fmt::Display) -> MetricsError {
        MetricsError::Eigen { what, dim, reason: format!("LAPACK: {e}") }
    }

    pub(super) fn eigen(what: &'static str, a: &DMatrix<f64>) -> Result<(DVector<f64>, DMatrix<f64>), MetricsError> {
        let d = a.nrows();
        let (values, vectors) = to_ndarray(a).eigh_into(UPLO::Lower).map_err(|e| failed(what, d, e))?;
        Ok((DVector::from_iterator(d, values), DMatrix::from_fn(d, d, |i, j| vectors[[i, j]])))
    }

    pub(super) fn eigenvalues(what: &'static str, a: &DMatrix<f64>) -> Result<Vec<f64>, MetricsError> {
        to_ndarray(a).eigvalsh_into(UPLO::Lower).map(|v| v.to_vec()).map_err(|e| failed(what, a.nrows(), e))
    }
}
