//! The project's own image classifier, whose penultimate-layer features define `FD-classifier`.
//!
//! A small MLP (`d → 256 → 128 → 10`, ReLU, softmax cross-entropy) trained on the real training split.
//! Its 128 last-hidden activations are the feature space of [`crate::metrics::FeatureKind::Classifier`]:
//! `FeatureFrechet::new(classifier, real)` measures the Fréchet distance between Gaussians fitted to the
//! features of real and generated images. It plays the role Inception-v3 plays for FID, on a network the
//! project trains itself, and its results are reported as `FD-classifier`, never as FID.
//!
//! Training is reproducible bit for bit: same seed, same weight bytes, on any thread count and any CPU
//! (portable kernels, [`kernels`]). Two trained classifiers ship with the crate
//! (`data/classifier/`, [`Classifier::embedded`]); [`recipe`] is how they were made and the
//! `flowcollapse classifier` command reruns it.
//!
//! Modules: [`kernels`] (fixed-order matrix product, portable exp), [`loss`] (softmax cross-entropy),
//! [`net`] (layout, initialisation, forward and backward), [`fit`] (mini-batch Adam), [`model`] (the
//! trained classifier, its feature space, safetensors), [`recipe`] (the shipped classifiers).

pub mod fit;
pub mod kernels;
pub mod loss;
pub mod model;
pub mod net;
pub mod recipe;

pub use fit::{train, EpochRecord, TrainSettings};
pub use model::{Accuracy, Classifier, Provenance};
pub use recipe::{fashion_mnist, EMBEDDED_SIZES};

use crate::checkpoint::CheckpointError;
use crate::data::{DataError, Shape};
use thiserror::Error;

/// What can go wrong building, training, loading or applying a classifier.
#[derive(Debug, Error)]
pub enum ClassifierError {
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("training diverged in epoch {epoch}, batch {batch}: loss {loss}; lower the learning rate")]
    Diverged { epoch: usize, batch: usize, loss: f64 },
}

impl ClassifierError {
    pub(crate) fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        ClassifierError::Invalid(crate::invalid::Invalid::new(field, value, allowed))
    }
}

/// The classifier's shape: input image, hidden widths, number of classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassifierConfig {
    /// Input images (`Shape::Image`), flattened CHW as in [`crate::data::Dataset`].
    pub input: Shape,
    /// Hidden widths, input side first; the last one is the feature dimension.
    pub hidden: Vec<usize>,
    /// Number of classes (labels 0…classes − 1).
    pub classes: usize,
}

impl ClassifierConfig {
    /// Hidden widths of the shipped classifiers.
    pub const DEFAULT_HIDDEN: [usize; 2] = [256, 128];
    /// Classes of Fashion-MNIST (and of MNIST and CIFAR-10).
    pub const DEFAULT_CLASSES: usize = 10;
    /// Largest accepted width of any layer.
    pub const MAX_WIDTH: usize = 1 << 16;
    /// Most hidden layers accepted.
    pub const MAX_HIDDEN_LAYERS: usize = 16;

    /// The default network (256, 128 hidden; 10 classes) for images of shape `input`.
    pub fn new(input: Shape) -> Self {
        ClassifierConfig { input, hidden: Self::DEFAULT_HIDDEN.to_vec(), classes: Self::DEFAULT_CLASSES }
    }

    /// Numbers per input image d.
    pub fn input_dim(&self) -> usize {
        self.input.dim()
    }

    /// Width of the feature space (the last hidden layer).
    pub fn feature_dim(&self) -> usize {
        *self.hidden.last().expect("a validated config has a hidden layer")
    }

    /// Check every field against its allowed range.
    pub fn validate(&self) -> Result<(), ClassifierError> {
        let width = format!("1..={}", Self::MAX_WIDTH);
        match self.input {
            Shape::Image { channels, height, width: w }
                if channels >= 1 && height >= 1 && w >= 1 && self.input.dim() <= Self::MAX_WIDTH => {}
            other => {
                return Err(ClassifierError::invalid(
                    "classifier.input",
                    other,
                    format!("an image with every side ≥ 1 and at most {} numbers", Self::MAX_WIDTH),
                ))
            }
        }
        if self.hidden.is_empty() || self.hidden.len() > Self::MAX_HIDDEN_LAYERS {
            return Err(ClassifierError::invalid(
                "classifier.hidden",
                format!("{} layers", self.hidden.len()),
                format!("1..={} layers (the last one gives the features)", Self::MAX_HIDDEN_LAYERS),
            ));
        }
        if let Some(&h) = self.hidden.iter().find(|&&h| !(1..=Self::MAX_WIDTH).contains(&h)) {
            return Err(ClassifierError::invalid(
                "classifier.hidden",
                format!("{:?} (width {h})", self.hidden),
                format!("widths in {width}"),
            ));
        }
        if !(2..=256).contains(&self.classes) {
            return Err(ClassifierError::invalid("classifier.classes", self.classes, "2..=256 (labels are bytes)"));
        }
        Ok(())
    }
}
