//! A trained classifier: predictions, accuracy, its feature space, and its safetensors form.

use super::loss::argmax_rows;
use super::net::{init_params, Layout, Workspace};
use super::{ClassifierConfig, ClassifierError};
use crate::checkpoint::{Checkpoint, CheckpointError, Tensor};
use crate::data::{Dataset, Shape};
use crate::metrics::{FeatureKind, FeatureMatrix, FeatureSpace, MetricsError, Samples};
use std::path::Path;

/// The `format` metadata value of a classifier file.
pub const FORMAT: &str = "flowcollapse-classifier-v1";
/// Prefix of the tensor names in a classifier file (`classifier.layers.0.weight`, …).
pub const TENSOR_PREFIX: &str = "classifier.";
/// Rows pushed through the network at a time when evaluating.
const EVAL_BLOCK: usize = 512;

/// Correct predictions out of a labelled set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accuracy {
    pub correct: usize,
    pub total: usize,
}

impl Accuracy {
    /// `correct / total` (0 for an empty set).
    pub fn value(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// How a classifier was trained and how well it did, as stored in its file.
#[derive(Clone, Debug, PartialEq)]
pub struct Provenance {
    pub seed: u64,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f32,
    /// Description of the training data ([`Dataset::source`]) and its number of images.
    pub train_data: String,
    pub train_rows: usize,
    /// The held-out set it was scored on, and the score.
    pub test: Option<(String, Accuracy)>,
}

/// A classifier's shape and weights (flat, in [`Layout`] order), and where they came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Classifier {
    config: ClassifierConfig,
    layout: Layout,
    params: Vec<f32>,
    provenance: Option<Provenance>,
}

impl Classifier {
    /// Wrap trained weights; `params` must have the layout's length and be finite.
    pub fn new(
        config: ClassifierConfig,
        params: Vec<f32>,
        provenance: Option<Provenance>,
    ) -> Result<Self, ClassifierError> {
        config.validate()?;
        let layout = config.layout();
        if params.len() != layout.num_params() {
            return Err(ClassifierError::invalid(
                "classifier parameters",
                format!("{} values", params.len()),
                format!("{} for {:?}", layout.num_params(), config),
            ));
        }
        if let Some(i) = params.iter().position(|p| !p.is_finite()) {
            return Err(ClassifierError::invalid("classifier parameters", format!("{} at {i}", params[i]), "finite"));
        }
        Ok(Classifier { config, layout, params, provenance })
    }

    /// An untrained classifier with the initial weights of `seed`.
    pub fn init(config: ClassifierConfig, seed: u64) -> Result<Self, ClassifierError> {
        config.validate()?;
        let params = init_params(&config.layout(), seed);
        Classifier::new(config, params, None)
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The flat parameter vector.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    pub fn provenance(&self) -> Option<&Provenance> {
        self.provenance.as_ref()
    }

    /// Record the held-out score (kept in the file's metadata). Needs a provenance.
    pub fn set_test_score(&mut self, data: impl Into<String>, accuracy: Accuracy) {
        if let Some(p) = &mut self.provenance {
            p.test = Some((data.into(), accuracy));
        }
    }

    /// Rows of `x` through the network, `EVAL_BLOCK` at a time; `run` returns one block's output rows.
    fn map_blocks(
        &self,
        x: Samples<'_>,
        width: usize,
        run: impl Fn(&mut Workspace, &Layout, &[f32], &[f32], usize, &mut [f32]),
    ) -> Vec<f32> {
        let d = self.config.input_dim();
        let mut ws = Workspace::new(&self.layout, EVAL_BLOCK.min(x.rows()));
        let mut out = vec![0.0f32; x.rows() * width];
        for (block, dst) in x.data().chunks(EVAL_BLOCK * d).zip(out.chunks_mut(EVAL_BLOCK * width)) {
            run(&mut ws, &self.layout, &self.params, block, block.len() / d, dst);
        }
        out
    }

    fn check_input(&self, x: Samples<'_>) -> Result<(), MetricsError> {
        x.require_cols(self.config.input_dim(), "the classifier's input")
    }

    /// Logits of every row of `x` (rows × classes).
    pub fn logits(&self, x: Samples<'_>) -> Result<Vec<f32>, MetricsError> {
        self.check_input(x)?;
        Ok(self.map_blocks(x, self.config.classes, |ws, layout, params, block, rows, dst| {
            dst.copy_from_slice(ws.forward(layout, params, block, rows));
        }))
    }

    /// The predicted class of every row of `x` (largest logit, first on ties).
    pub fn predict(&self, x: Samples<'_>) -> Result<Vec<u8>, MetricsError> {
        Ok(argmax_rows(&self.logits(x)?, self.config.classes))
    }

    /// The penultimate features of every row of `x` (rows × [`ClassifierConfig::feature_dim`]): the ReLU
    /// activations of the last hidden layer.
    pub fn features(&self, x: Samples<'_>) -> Result<Vec<f32>, MetricsError> {
        self.check_input(x)?;
        Ok(self.map_blocks(x, self.config.feature_dim(), |ws, layout, params, block, rows, dst| {
            dst.copy_from_slice(ws.features(layout, params, block, rows));
        }))
    }

    /// Correct predictions on a labelled dataset of the classifier's input shape.
    pub fn accuracy(&self, data: &Dataset) -> Result<Accuracy, ClassifierError> {
        data.expect_shape(self.config.input)?;
        let labels = data
            .labels()
            .ok_or_else(|| ClassifierError::invalid("test data", data.source(), "a dataset with labels"))?;
        let x = Samples::new("test data", data.values(), data.len(), data.dim())
            .map_err(|e| ClassifierError::invalid("test data", e, "finite images"))?;
        let predicted =
            self.predict(x).map_err(|e| ClassifierError::invalid("test data", e, "images of the input shape"))?;
        let correct = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
        Ok(Accuracy { correct, total: labels.len() })
    }

    /// The safetensors form: tensors `classifier.layers.{l}.{weight,bias}` (`[out, in]` and `[out]`) and
    /// metadata `format`, `input_shape` (C,H,W), `hidden`, `classes`, `features`, and the provenance.
    pub fn to_checkpoint(&self) -> Checkpoint {
        let tensors = self
            .layout
            .tensors()
            .iter()
            .map(|t| {
                Tensor::new(format!("{TENSOR_PREFIX}{}", t.name), t.shape.clone(), self.params[t.range()].to_vec())
            })
            .collect();
        let (c, h, w) = image_sides(self.config.input);
        let hidden: Vec<String> = self.config.hidden.iter().map(usize::to_string).collect();
        let last = self.config.hidden.len() - 1;
        let mut metadata = vec![
            ("format", FORMAT.to_string()),
            ("input_shape", format!("{c},{h},{w}")),
            ("input_range", "[-1, 1]".to_string()),
            ("hidden", hidden.join(",")),
            ("classes", self.config.classes.to_string()),
            ("features", format!("ReLU output of layers.{last} ({} values)", self.config.feature_dim())),
        ];
        if let Some(p) = &self.provenance {
            metadata.extend([
                ("seed", p.seed.to_string()),
                ("epochs", p.epochs.to_string()),
                ("batch", p.batch.to_string()),
                ("lr", p.lr.to_string()),
                ("optimizer", "adam(beta1 0.9, beta2 0.999, eps 1e-8), softmax cross-entropy".to_string()),
                ("train_data", p.train_data.clone()),
                ("train_rows", p.train_rows.to_string()),
            ]);
            if let Some((data, acc)) = &p.test {
                metadata.extend([
                    ("test_data", data.clone()),
                    ("test_correct", acc.correct.to_string()),
                    ("test_total", acc.total.to_string()),
                    ("test_accuracy", format!("{:.4}", acc.value())),
                ]);
            }
        }
        Checkpoint { tensors, metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    /// Read a classifier from its safetensors form; `file` names the source in errors.
    pub fn from_checkpoint(checkpoint: &Checkpoint, file: &str) -> Result<Self, ClassifierError> {
        let bad = |key: &str, expected: &str| CheckpointError::Metadata {
            file: file.into(),
            key: key.into(),
            expected: expected.into(),
        };
        let format: String = checkpoint.meta("format", FORMAT, file)?;
        if format != FORMAT {
            return Err(bad("format", FORMAT).into());
        }
        let list = |key: &str, expected: &str| -> Result<Vec<usize>, CheckpointError> {
            let text: String = checkpoint.meta(key, expected, file)?;
            text.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>().map_err(|_| bad(key, expected))
        };
        let sides = list("input_shape", "channels,height,width")?;
        let [channels, height, width] = sides[..] else {
            return Err(bad("input_shape", "channels,height,width").into());
        };
        let config = ClassifierConfig {
            input: Shape::Image { channels, height, width },
            hidden: list("hidden", "a comma list of widths")?,
            classes: checkpoint.meta("classes", "an integer", file)?,
        };
        config.validate()?;
        let layout = config.layout();
        // Every tensor found before the parameters are reserved: their number comes from the metadata alone,
        // which could claim a network far larger than the file.
        let found = layout
            .tensors()
            .iter()
            .map(|t| Ok((t.range(), checkpoint.tensor(&format!("{TENSOR_PREFIX}{}", t.name), &t.shape, file)?)))
            .collect::<Result<Vec<_>, CheckpointError>>()?;
        let mut params = vec![0.0f32; layout.num_params()];
        for (range, tensor) in found {
            params[range].copy_from_slice(&tensor.data);
        }
        Classifier::new(config, params, provenance(checkpoint, file))
    }

    /// Write the safetensors file atomically.
    pub fn save(&self, path: &Path) -> Result<(), ClassifierError> {
        Ok(self.to_checkpoint().save(path)?)
    }

    pub fn load(path: &Path) -> Result<Self, ClassifierError> {
        Classifier::from_checkpoint(&Checkpoint::load(path)?, &path.display().to_string())
    }
}

/// The provenance keys of a classifier file, when they are all there.
fn provenance(c: &Checkpoint, file: &str) -> Option<Provenance> {
    let text = |key: &str| c.meta::<String>(key, "text", file).ok();
    let test = match (text("test_data"), c.meta("test_correct", "", file), c.meta("test_total", "", file)) {
        (Some(data), Ok(correct), Ok(total)) => Some((data, Accuracy { correct, total })),
        _ => None,
    };
    Some(Provenance {
        seed: c.meta("seed", "", file).ok()?,
        epochs: c.meta("epochs", "", file).ok()?,
        batch: c.meta("batch", "", file).ok()?,
        lr: c.meta("lr", "", file).ok()?,
        train_data: text("train_data")?,
        train_rows: c.meta("train_rows", "", file).ok()?,
        test,
    })
}

/// (channels, height, width) of an image shape; a vector counts as 1 × 1 × d.
fn image_sides(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Image { channels, height, width } => (channels, height, width),
        Shape::Vector { dim } => (1, 1, dim),
    }
}

/// `FD-classifier`: features are the last hidden layer's ReLU activations, in f64.
impl FeatureSpace for Classifier {
    fn kind(&self) -> FeatureKind {
        FeatureKind::Classifier
    }

    fn input_dim(&self) -> usize {
        self.config.input_dim()
    }

    fn dim(&self) -> usize {
        self.config.feature_dim()
    }

    fn embed(&self, x: Samples<'_>) -> Result<FeatureMatrix, MetricsError> {
        let features = self.features(x)?;
        Ok(FeatureMatrix { data: features.into_iter().map(f64::from).collect(), rows: x.rows(), cols: self.dim() })
    }
}
