//! Collapse metrics per generation: moments and covariance spectrum, Fréchet distance between Gaussians fitted
//! in a named feature space, precision and recall of k-NN manifolds, and the straightness of sampled paths.
//!
//! Inputs are sample matrices as the trainer produces them: `n × d` row-major `f32` ([`Samples`]). Statistics
//! are `f64`. Every parallel loop runs over fixed row or column blocks whose size does not depend on the
//! thread count, and every reduction across blocks is either exact (boolean OR, integer count) or summed in
//! block order, so the same input gives the same numbers on any rayon pool.
//!
//! Names are honest: a Fréchet distance is reported with the feature space it was computed in
//! ([`FeatureKind::metric_name`], e.g. `FD-pixelPCA`); none of it is the Inception-based FID.

mod dense;
pub mod eigen;
pub mod features;
pub mod frechet;
pub mod moments;
pub mod precision_recall;
mod samples;
pub mod straightness;

pub use eigen::{sym_eigen, sym_eigen_with, sym_eigenvalues, sym_eigenvalues_with, EigenPath, SymEigen};
pub use features::{FeatureFrechet, FeatureKind, FeatureMatrix, FeatureSpace, FrechetRecord, PixelPca};
pub use frechet::{frechet_distance, FrechetReference, FrechetTerms};
pub use moments::Moments;
pub use precision_recall::{
    pairwise_sq_distances, precision_recall, PrecisionRecall, PrecisionRecallParams, RealManifold,
};
pub use samples::Samples;
pub use straightness::{straightness, Straightness, StraightnessStats};

use thiserror::Error;

/// Everything that can be wrong with a metric's input, or with the linear algebra under it.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum MetricsError {
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    #[error("{field}: non-finite value {value} at row {row}, column {col}")]
    NonFinite { field: &'static str, row: usize, col: usize, value: f64 },
    #[error("symmetric eigendecomposition of {what} ({dim} × {dim}) failed: {reason}")]
    Eigen { what: &'static str, dim: usize, reason: String },
}

impl MetricsError {
    pub(crate) fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        MetricsError::Invalid(crate::invalid::Invalid::new(field, value, allowed))
    }
}

/// The first non-finite entry of a row-major `rows × cols` matrix, as an error naming `field`.
pub(crate) fn check_finite<T: Copy + Into<f64>>(
    field: &'static str,
    data: &[T],
    cols: usize,
) -> Result<(), MetricsError> {
    match data.iter().position(|&v| !v.into().is_finite()) {
        None => Ok(()),
        Some(i) => Err(MetricsError::NonFinite { field, row: i / cols, col: i % cols, value: data[i].into() }),
    }
}
