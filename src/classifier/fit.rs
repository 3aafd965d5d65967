//! Mini-batch Adam on the softmax cross-entropy, epoch by epoch over a shuffled training set.

use super::loss::softmax_cross_entropy;
use super::model::{Classifier, Provenance};
use super::net::{init_params, Workspace};
use super::{ClassifierConfig, ClassifierError};
use crate::data::Dataset;
use crate::train::{rng, AdamStep, Backend, CpuBackend};
use rayon::prelude::*;

/// How to train: epochs, batch size, Adam's learning rate, seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainSettings {
    /// Passes over the training set, in 1..=[`TrainSettings::MAX_EPOCHS`].
    pub epochs: usize,
    /// Images per step, in 1..=[`TrainSettings::MAX_BATCH`]; the last batch of an epoch takes what is left.
    pub batch: usize,
    /// Adam's learning rate, in (0, 1].
    pub lr: f32,
    /// Seed of the initialisation and of every epoch's order.
    pub seed: u64,
}

impl TrainSettings {
    /// Epochs of the shipped classifiers.
    pub const DEFAULT_EPOCHS: usize = 15;
    pub const DEFAULT_BATCH: usize = 100;
    pub const DEFAULT_LR: f32 = 1e-3;
    pub const MAX_EPOCHS: usize = 1000;
    pub const MAX_BATCH: usize = 1 << 14;
    /// Adam's moment decays and denominator guard (PyTorch's defaults).
    pub const BETA1: f32 = 0.9;
    pub const BETA2: f32 = 0.999;
    pub const EPS: f32 = 1e-8;

    /// Check every field against its allowed range.
    pub fn validate(&self) -> Result<(), ClassifierError> {
        if !(1..=Self::MAX_EPOCHS).contains(&self.epochs) {
            return Err(ClassifierError::invalid("epochs", self.epochs, format!("1..={}", Self::MAX_EPOCHS)));
        }
        if !(1..=Self::MAX_BATCH).contains(&self.batch) {
            return Err(ClassifierError::invalid("batch", self.batch, format!("1..={}", Self::MAX_BATCH)));
        }
        if !(self.lr > 0.0 && self.lr <= 1.0) {
            return Err(ClassifierError::invalid("lr", self.lr, "(0, 1]"));
        }
        Ok(())
    }
}

impl Default for TrainSettings {
    /// The settings of the shipped classifiers (seed 0).
    fn default() -> Self {
        TrainSettings { epochs: Self::DEFAULT_EPOCHS, batch: Self::DEFAULT_BATCH, lr: Self::DEFAULT_LR, seed: 0 }
    }
}

/// What one epoch reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's images, each under the parameters of its own step.
    pub loss: f64,
}

/// The stream (of [`rng::Purpose::User`]) that orders epoch `epoch` (0-based).
fn shuffle_stream(epoch: usize) -> u64 {
    rng::stream(rng::Purpose::User, (2 << 40) | epoch as u64)
}

/// The order in which epoch `epoch` visits the `n` training rows: a Fisher–Yates shuffle driven by the
/// counter-based generator.
///
/// # Formula
/// Start from the identity; for i = n − 1 down to 1 swap positions i and
/// `j = index_below(bits(stream_key(seed, shuffle_stream(epoch)), i), i + 1)`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<u32> {
    let key = rng::stream_key(seed, shuffle_stream(epoch));
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = rng::index_below(rng::bits(key, i as u64), i as u64 + 1) as usize;
        order.swap(i, j);
    }
    order
}

/// Train a classifier of shape `config` on the labelled images `data`, calling `on_epoch` after each epoch.
///
/// Parameters start from [`init_params`] with the seed; each epoch visits the rows in [`epoch_order`],
/// `batch` at a time; each batch is one Adam step on the mean cross-entropy of its images.
///
/// # Formula
/// Step t (1-based): `m ← β1 m + (1−β1) g`, `v ← β2 v + (1−β2) g²`, `θ ← θ − lr·(m/c1)/(√(v/c2) + ε)` with
/// `c1 = 1 − β1ᵗ`, `c2 = 1 − β2ᵗ`; the powers are running f64 products (β·β·…·β), rounded to f32 once.
///
/// The result carries a [`Provenance`] without test accuracy; [`super::recipe`] adds it.
pub fn train(
    config: &ClassifierConfig,
    settings: &TrainSettings,
    data: &Dataset,
    mut on_epoch: impl FnMut(&EpochRecord),
) -> Result<Classifier, ClassifierError> {
    config.validate()?;
    settings.validate()?;
    data.expect_shape(config.input)?;
    let labels = data.labels().ok_or_else(|| {
        ClassifierError::invalid("training data", data.source(), "a dataset with labels (one per image)")
    })?;
    if let Some(&y) = labels.iter().find(|&&y| y as usize >= config.classes) {
        return Err(ClassifierError::invalid(
            "training labels",
            format!("label {y} in {}", data.source()),
            format!("0..{} (the classifier's classes)", config.classes),
        ));
    }
    let (n, d, c) = (data.len(), config.input_dim(), config.classes);
    let batch = settings.batch.min(n);
    let layout = config.layout();
    let mut params = init_params(&layout, settings.seed);
    let len = layout.num_params();
    let (mut grads, mut m, mut v, mut unused_ema) = (vec![0.0; len], vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    let mut ws = Workspace::new(&layout, batch);
    let (mut x, mut y, mut dlogits) = (vec![0.0f32; batch * d], vec![0u8; batch], vec![0.0f32; batch * c]);
    let cpu = CpuBackend::new();
    let (mut power1, mut power2) = (1.0f64, 1.0f64);
    for epoch in 0..settings.epochs {
        let order = epoch_order(n, settings.seed, epoch);
        let mut loss_sum = 0.0;
        for (b, rows) in order.chunks(batch).enumerate() {
            let k = rows.len();
            x[..k * d].par_chunks_mut(d).zip(rows.par_iter()).for_each(|(dst, &r)| {
                dst.copy_from_slice(data.row(r as usize));
            });
            for (dst, &r) in y.iter_mut().zip(rows) {
                *dst = labels[r as usize];
            }
            let logits = ws.forward(&layout, &params, &x, k);
            let loss = softmax_cross_entropy(logits, &y[..k], c, &mut dlogits);
            if !loss.is_finite() {
                return Err(ClassifierError::Diverged { epoch: epoch + 1, batch: b, loss });
            }
            loss_sum += loss * k as f64;
            ws.backward(&layout, &params, &x, k, &dlogits, &mut grads);
            power1 *= TrainSettings::BETA1 as f64;
            power2 *= TrainSettings::BETA2 as f64;
            let step = AdamStep {
                lr: settings.lr,
                beta1: TrainSettings::BETA1,
                beta2: TrainSettings::BETA2,
                eps: TrainSettings::EPS,
                grad_scale: 1.0,
                bias1: (1.0 - power1) as f32,
                bias2: (1.0 - power2) as f32,
                // The fused op also keeps an EMA; the classifier does not use it.
                ema_decay: 0.0,
            };
            cpu.adam_ema(&step, &mut params, &grads, &mut m, &mut v, &mut unused_ema).expect("CPU ops do not fail");
        }
        on_epoch(&EpochRecord { epoch: epoch + 1, loss: loss_sum / n as f64 });
    }
    let provenance = Provenance {
        seed: settings.seed,
        epochs: settings.epochs,
        batch: settings.batch,
        lr: settings.lr,
        train_data: data.source().to_string(),
        train_rows: n,
        test: None,
    };
    Classifier::new(config.clone(), params, Some(provenance))
}
