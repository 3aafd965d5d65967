//! Feature spaces for Fréchet distances, each carrying the name its results are reported under.
//!
//! - `FD-pixelPCA` ([`PixelPca`]): a PCA fitted on the real samples (top k principal directions of their
//!   pixel covariance); both sets are projected onto it. It sees only second-order pixel structure.
//! - `FD-classifier` ([`FeatureKind::Classifier`]): penultimate-layer features of a small classifier the
//!   project trains itself ([`crate::classifier::Classifier`], which implements [`FeatureSpace`]).
//!
//! Neither is the Inception-based FID, and results never say so.

use super::eigen::sym_eigen;
use super::frechet::FrechetReference;
use super::{MetricsError, Moments, Samples};
use crate::linalg::matmul_nn;
use nalgebra::DMatrix;
use rayon::prelude::*;
use serde::Serialize;

/// Rows projected per task.
const EMBED_BLOCK: usize = 256;

/// What a feature space is, and so what a distance computed in it is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FeatureKind {
    /// PCA of the real samples' pixels.
    PixelPca,
    /// Penultimate features of the project's own classifier ([`crate::classifier`]).
    Classifier,
}

impl FeatureKind {
    /// The name a Fréchet distance in this space is reported under.
    pub fn metric_name(self) -> &'static str {
        match self {
            FeatureKind::PixelPca => "FD-pixelPCA",
            FeatureKind::Classifier => "FD-classifier",
        }
    }
}

/// Features of n samples, `rows × cols` row-major f64.
#[derive(Clone, Debug)]
pub struct FeatureMatrix {
    pub data: Vec<f64>,
    pub rows: usize,
    pub cols: usize,
}

/// A fixed map from samples (d coordinates) to features (`dim()` coordinates).
pub trait FeatureSpace: Sync {
    fn kind(&self) -> FeatureKind;
    /// Coordinates per input sample.
    fn input_dim(&self) -> usize;
    /// Coordinates per feature vector.
    fn dim(&self) -> usize;
    /// Features of every sample, in order.
    fn embed(&self, x: Samples<'_>) -> Result<FeatureMatrix, MetricsError>;
}

/// The top-k principal directions of a real sample set, fitted once and applied to every generation.
///
/// # Example
/// Points `t·(0.6, 0.8)`, t = −2…2: one component, `(0.6, 0.8)` (its larger entry positive), variance
/// `Var(t) = 10/4`, and the features are the t themselves:
/// ```
/// use flowcollapse::metrics::{FeatureSpace, PixelPca, Samples};
/// let data: Vec<f32> = (-2..=2).flat_map(|t| [0.6 * t as f32, 0.8 * t as f32]).collect();
/// let real = Samples::new("real", &data, 5, 2).unwrap();
/// let pca = PixelPca::fit(real, 1).unwrap();
/// let w = pca.components();
/// assert!((w[(0, 0)] - 0.6).abs() < 1e-6 && (w[(1, 0)] - 0.8).abs() < 1e-6);
/// assert!((pca.explained_variance()[0] - 2.5).abs() < 1e-6 && (pca.total_variance() - 2.5).abs() < 1e-6);
/// let features = pca.embed(real).unwrap();
/// assert!(features.data.iter().zip(-2..=2).all(|(f, t)| (f - t as f64).abs() < 1e-6));
/// ```
#[derive(Clone, Debug)]
pub struct PixelPca {
    mean: Vec<f64>,
    /// `d × k`, row-major, orthonormal columns.
    components: Vec<f64>,
    explained: Vec<f64>,
    total_variance: f64,
    k: usize,
}

impl PixelPca {
    /// The number of components when none is given.
    pub const DEFAULT_COMPONENTS: usize = 64;

    /// Fit on the real samples: mean and the `k` leading eigenvectors of their sample covariance.
    ///
    /// # Formula
    /// `Σ̂_real = Q diag(λ) Qᵀ` (λ descending); components `W = Q[:, :k]`; features `f(x) = Wᵀ (x − μ_real)`.
    /// The features of the real set have covariance `diag(λ_1 … λ_k)`. Each component's sign is fixed so
    /// that its largest-magnitude entry is positive.
    pub fn fit(real: Samples<'_>, k: usize) -> Result<Self, MetricsError> {
        let d = real.cols();
        if k == 0 || k > d {
            return Err(MetricsError::invalid("PCA components k", k, format!("1 ..= {d} (the sample width)")));
        }
        let moments = Moments::from_samples(real)?;
        let eig = sym_eigen("real sample covariance", moments.covariance())?;
        let mut components = vec![0.0; d * k];
        for j in 0..k {
            let col = eig.vectors.column(j);
            let lead = col.iter().enumerate().fold(0, |best, (i, v)| if v.abs() > col[best].abs() { i } else { best });
            let sign = if col[lead] < 0.0 { -1.0 } else { 1.0 };
            for i in 0..d {
                components[i * k + j] = sign * col[i];
            }
        }
        Ok(PixelPca {
            mean: moments.mean().iter().copied().collect(),
            components,
            explained: eig.values[..k].to_vec(),
            total_variance: moments.total_variance(),
            k,
        })
    }

    /// The components as the columns of a `d × k` matrix.
    pub fn components(&self) -> DMatrix<f64> {
        DMatrix::from_row_slice(self.mean.len(), self.k, &self.components)
    }

    /// Variance of the real samples along each component: the top k eigenvalues of their covariance.
    pub fn explained_variance(&self) -> &[f64] {
        &self.explained
    }

    /// Total variance of the real samples (all d coordinates), for the explained fraction.
    pub fn total_variance(&self) -> f64 {
        self.total_variance
    }

    /// The real samples' mean, the origin of the feature space.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }
}

impl FeatureSpace for PixelPca {
    fn kind(&self) -> FeatureKind {
        FeatureKind::PixelPca
    }

    fn input_dim(&self) -> usize {
        self.mean.len()
    }

    fn dim(&self) -> usize {
        self.k
    }

    fn embed(&self, x: Samples<'_>) -> Result<FeatureMatrix, MetricsError> {
        let (d, k) = (self.mean.len(), self.k);
        x.require_cols(d, "the fitted PCA")?;
        let mut data = vec![0.0; x.rows() * k];
        data.par_chunks_mut(EMBED_BLOCK * k).zip(x.data().par_chunks(EMBED_BLOCK * d)).for_each(|(out, rows)| {
            let m = rows.len() / d;
            let centred: Vec<f64> =
                rows.chunks_exact(d).flat_map(|r| r.iter().zip(&self.mean).map(|(&v, mu)| v as f64 - mu)).collect();
            matmul_nn(&centred, &self.components, m, d, k, out);
        });
        Ok(FeatureMatrix { data, rows: x.rows(), cols: k })
    }
}

/// One Fréchet distance, with the feature space it was measured in.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrechetRecord {
    /// `FD-pixelPCA`, `FD-classifier`, …
    pub metric: &'static str,
    pub feature_dim: usize,
    pub n_reference: usize,
    pub n_generated: usize,
    pub mean_term: f64,
    pub trace_term: f64,
    pub value: f64,
}

/// A Fréchet distance to a fixed real set in a fixed feature space: the real side is embedded and prepared
/// once, then each generation costs one embedding and one eigendecomposition of size `dim()`.
///
/// # Example
/// The real set against itself is 0; moved one unit along its principal direction, the feature means are 1
/// apart and the covariances equal, so `FD-pixelPCA` is 1:
/// ```
/// use flowcollapse::metrics::{FeatureFrechet, Samples};
/// let data: Vec<f32> = (-2..=2).flat_map(|t| [0.6 * t as f32, 0.8 * t as f32]).collect();
/// let moved: Vec<f32> = data.chunks(2).flat_map(|x| [x[0] + 0.6, x[1] + 0.8]).collect();
/// let fd = FeatureFrechet::pixel_pca(Samples::new("real", &data, 5, 2).unwrap(), 1).unwrap();
/// let same = fd.evaluate(Samples::new("generated", &data, 5, 2).unwrap()).unwrap();
/// assert_eq!(same.metric, "FD-pixelPCA");
/// assert!(same.value.abs() < 1e-9);
/// let shifted = fd.evaluate(Samples::new("generated", &moved, 5, 2).unwrap()).unwrap();
/// assert!((shifted.mean_term - 1.0).abs() < 1e-6 && shifted.trace_term.abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct FeatureFrechet<F> {
    space: F,
    reference: FrechetReference,
    n_reference: usize,
}

impl<F: FeatureSpace> FeatureFrechet<F> {
    pub fn new(space: F, real: Samples<'_>) -> Result<Self, MetricsError> {
        let features = space.embed(real)?;
        let moments = Moments::from_rows("real features", &features.data, features.rows, features.cols)?;
        let reference = FrechetReference::new(moments.mean(), moments.covariance())?;
        Ok(FeatureFrechet { space, reference, n_reference: real.rows() })
    }

    pub fn space(&self) -> &F {
        &self.space
    }

    /// Fréchet distance between the Gaussians fitted to the real and the generated features.
    pub fn evaluate(&self, generated: Samples<'_>) -> Result<FrechetRecord, MetricsError> {
        generated.require_rows(2, "a sample covariance needs two samples")?;
        let features = self.space.embed(generated)?;
        let moments = Moments::from_rows("generated features", &features.data, features.rows, features.cols)?;
        let terms = self.reference.distance(moments.mean(), moments.covariance())?;
        Ok(FrechetRecord {
            metric: self.space.kind().metric_name(),
            feature_dim: self.space.dim(),
            n_reference: self.n_reference,
            n_generated: generated.rows(),
            mean_term: terms.mean_term,
            trace_term: terms.trace_term,
            value: terms.value,
        })
    }
}

impl FeatureFrechet<PixelPca> {
    /// `FD-pixelPCA` with `k` components fitted on `real`.
    pub fn pixel_pca(real: Samples<'_>, k: usize) -> Result<Self, MetricsError> {
        Self::new(PixelPca::fit(real, k)?, real)
    }
}
