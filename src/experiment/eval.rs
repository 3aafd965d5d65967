//! Evaluating generated samples against a held-out real set: total variance, the Fréchet distance in the
//! real pixels' PCA space ("FD-pixelPCA"), k-NN precision and recall, and the sampler's NFE and straightness.
//!
//! The real side ([`Reference`]) is prepared once (moments, PCA, k-NN radii) and reused for every sampler
//! setting or generation.

use super::train::{load_split, DataChoice, TrainRunConfig};
use crate::classifier::Classifier;
use crate::data::{DataError, Dataset, Split};
use crate::metrics::{FeatureFrechet, MetricsError, Moments, PixelPca, PrecisionRecallParams, RealManifold, Samples};
use crate::train::sampler::Sampled;
use serde::Serialize;

/// Seed offset of the Gaussian reference draws, so they are not the training vectors.
const REFERENCE_SEED_OFFSET: u64 = 0x5EED_7E57;

/// The held-out real set for a training run: the test split of the same source, transformed the same way
/// (first `limit` rows); Gaussian data: fresh draws under another seed.
pub fn load_reference(config: &TrainRunConfig, limit: usize) -> Result<Dataset, DataError> {
    load_split(config, Split::Test, Some(limit), config.train.seed.wrapping_add(REFERENCE_SEED_OFFSET))
}

/// A reference of fewer held-out images than the `samples` asked for is an error naming `field` (the flag),
/// not a silent truncation.
pub fn check_reference_size(real: &Dataset, samples: usize, field: &'static str) -> Result<(), super::ConfigError> {
    if real.len() < samples {
        return Err(super::ConfigError::invalid(
            field,
            samples,
            format!("at most {} (the held-out split of this data holds {} images)", real.len(), real.len()),
        ));
    }
    Ok(())
}

/// The real set, with what every evaluation against it needs.
pub struct Reference {
    pub data: Dataset,
    pub total_variance: f64,
    /// Per-pixel variance of the real samples.
    pub pixel_variance: Vec<f64>,
    /// Eigenvalues of the real sample covariance, largest first.
    pub spectrum: Vec<f64>,
    fd: FeatureFrechet<PixelPca>,
    /// FD-classifier, where a shipped classifier fits the data (the embedded Fashion-MNIST subset).
    fd_classifier: Option<FeatureFrechet<Classifier>>,
    manifold: RealManifold,
}

impl Reference {
    /// Prepare `data`: moments, a PCA with `components` directions (at most d), the k-NN radii.
    /// `classifier`: the features for FD-classifier, if one was trained on this kind of data.
    pub fn new(
        data: Dataset,
        components: usize,
        pr: PrecisionRecallParams,
        classifier: Option<Classifier>,
    ) -> Result<Self, MetricsError> {
        let real = Samples::new("real samples", data.values(), data.len(), data.dim())?;
        let moments = Moments::from_samples(real)?;
        let fd = FeatureFrechet::pixel_pca(real, components.min(data.dim()))?;
        let manifold = RealManifold::fit(real, pr)?;
        let fd_classifier = classifier.map(|c| FeatureFrechet::new(c, real)).transpose()?;
        Ok(Reference {
            fd_classifier,
            total_variance: moments.total_variance(),
            pixel_variance: moments.pixel_variance(),
            spectrum: moments.spectrum()?,
            data,
            fd,
            manifold,
        })
    }

    /// Total variance of any sample matrix (n × d, e.g. a pair set's x̂) over the real set's.
    pub fn variance_ratio(&self, x: &[f32]) -> Result<f64, MetricsError> {
        let d = self.data.dim();
        let samples = Samples::new("samples", x, x.len() / d, d)?;
        Ok(Moments::from_samples(samples)?.total_variance() / self.total_variance)
    }

    /// Every metric of one generated set, and its per-pixel variance and covariance spectrum.
    pub fn evaluate(&self, sampled: &Sampled, steps: usize, solver: &'static str) -> Result<Evaluation, MetricsError> {
        let d = self.data.dim();
        let generated = Samples::new("generated samples", &sampled.x, sampled.x.len() / d, d)?;
        let moments = Moments::from_samples(generated)?;
        let total_variance = moments.total_variance();
        let fd = self.fd.evaluate(generated)?;
        let pr = self.manifold.evaluate(generated)?;
        let spectrum = moments.spectrum()?;
        let classifier = self.fd_classifier.as_ref().map(|f| f.evaluate(generated)).transpose()?;
        let record = EvalRecord {
            solver,
            euler_steps: steps,
            nfe: sampled.nfe,
            n_generated: generated.rows(),
            n_reference: self.data.len(),
            total_variance,
            reference_total_variance: self.total_variance,
            total_variance_ratio: total_variance / self.total_variance,
            fd_metric: fd.metric,
            fd_feature_dim: fd.feature_dim,
            fd: fd.value,
            fd_mean_term: fd.mean_term,
            fd_trace_term: fd.trace_term,
            fd_classifier: classifier.as_ref().map(|c| c.value),
            fd_classifier_feature_dim: classifier.as_ref().map(|c| c.feature_dim),
            pr_k: pr.k,
            precision: pr.precision,
            recall: pr.recall,
            straightness: sampled.straightness,
            top_eigenvalue: spectrum[0],
            reference_top_eigenvalue: self.spectrum[0],
        };
        Ok(Evaluation { record, pixel_variance: moments.pixel_variance(), spectrum })
    }
}

/// One generated set's record, with the per-pixel statistics behind its figures.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub record: EvalRecord,
    pub pixel_variance: Vec<f64>,
    /// Eigenvalues of the generated sample covariance, largest first.
    pub spectrum: Vec<f64>,
}

/// One generated set against the reference. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EvalRecord {
    pub solver: &'static str,
    /// K solver steps.
    pub euler_steps: usize,
    pub nfe: usize,
    pub n_generated: usize,
    pub n_reference: usize,
    /// Σ over pixels of the per-pixel sample variance.
    pub total_variance: f64,
    pub reference_total_variance: f64,
    /// `total_variance / reference_total_variance` (below 1: the samples have lost variance).
    pub total_variance_ratio: f64,
    /// The feature space of the Fréchet distance: "FD-pixelPCA" (never "FID").
    pub fd_metric: &'static str,
    pub fd_feature_dim: usize,
    pub fd: f64,
    pub fd_mean_term: f64,
    pub fd_trace_term: f64,
    /// "FD-classifier": the Fréchet distance in the penultimate features of the shipped Fashion-MNIST
    /// classifier (`data/classifier/`); null for other data.
    pub fd_classifier: Option<f64>,
    pub fd_classifier_feature_dim: Option<usize>,
    /// k of the k-NN manifolds.
    pub pr_k: usize,
    pub precision: f64,
    pub recall: f64,
    /// rfpp straightness of the sampling trajectories.
    pub straightness: f64,
    /// Largest eigenvalue of the generated and of the real sample covariance.
    pub top_eigenvalue: f64,
    pub reference_top_eigenvalue: f64,
}

/// The shipped classifier for a run's data, if there is one: the embedded Fashion-MNIST subset at 28×28
/// or 14×14 (`data/classifier/`).
pub fn classifier_for(config: &TrainRunConfig, shape: crate::data::Shape) -> Option<Classifier> {
    match (&config.data, shape) {
        (DataChoice::Embedded, crate::data::Shape::Image { height, .. }) => Classifier::embedded(height),
        _ => None,
    }
}
