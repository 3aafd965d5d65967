//! Training hyperparameters: Adam, gradient clipping, EMA, batch size and seed, with their validation.

use super::backend::AdamStep;
use super::error::TrainError;
use super::model::MlpConfig;

/// Adam with global-norm clipping and an EMA of the weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    /// Learning rate, in (0, 1].
    pub lr: f32,
    /// First-moment decay β1, in [0, 1).
    pub beta1: f32,
    /// Second-moment decay β2, in [0, 1).
    pub beta2: f32,
    /// Denominator guard ε, in (0, 1].
    pub eps: f32,
    /// Largest global gradient norm before clipping (finite, > 0), or `None` for no clipping.
    pub clip: Option<f32>,
    /// EMA decay δ, in [0, 1).
    pub ema_decay: f32,
    /// The divergence guard R (finite, > 1), or `None` for none: a step whose loss exceeds R times the loss
    /// of the zero field on the same batch (`mean u²`) stops training like a non-finite loss. Flow matching
    /// starts near that scale (a fresh network predicts small velocities), so only a blow-up crosses it.
    pub max_loss_ratio: Option<f64>,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 5e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip: Some(1.0),
            ema_decay: 0.999,
            max_loss_ratio: Some(Self::DEFAULT_MAX_LOSS_RATIO),
        }
    }
}

fn check(field: &'static str, value: f32, ok: bool, allowed: &str) -> Result<(), TrainError> {
    if ok {
        Ok(())
    } else {
        Err(TrainError::invalid(field, value, allowed))
    }
}

impl OptimConfig {
    /// The default divergence guard: 100 times the zero field's loss.
    pub const DEFAULT_MAX_LOSS_RATIO: f64 = 100.0;

    /// Check every field against its allowed range (NaN is never allowed).
    pub fn validate(&self) -> Result<(), TrainError> {
        check("optim.lr", self.lr, self.lr > 0.0 && self.lr <= 1.0, "(0, 1]")?;
        check("optim.beta1", self.beta1, (0.0..1.0).contains(&self.beta1), "[0, 1)")?;
        check("optim.beta2", self.beta2, (0.0..1.0).contains(&self.beta2), "[0, 1)")?;
        check("optim.eps", self.eps, self.eps > 0.0 && self.eps <= 1.0, "(0, 1]")?;
        if let Some(c) = self.clip {
            check("optim.clip", c, c > 0.0 && c.is_finite(), "a finite number > 0, or none")?;
        }
        check("optim.ema_decay", self.ema_decay, (0.0..1.0).contains(&self.ema_decay), "[0, 1)")?;
        match self.max_loss_ratio {
            Some(r) if !(r.is_finite() && r > 1.0) => Err(TrainError::invalid(
                "optim.max_loss_ratio",
                r,
                "a finite ratio > 1, or none (0 on the command line)",
            )),
            _ => Ok(()),
        }
    }

    /// The scalars of update number `t` (t ≥ 1) for a gradient of squared norm `norm_sq`.
    ///
    /// # Formula
    /// `s = min(1, clip/‖g‖)` (s = 1 without clipping or for ‖g‖ = 0), `c1 = 1 − β1ᵗ`, `c2 = 1 − β2ᵗ`,
    /// computed in f64 and rounded to f32. The EMA decay warms up, `δ_t = min(δ, (1 + t)/(10 + t))`, so
    /// that a short run's EMA does not stay at the initial weights (δ = 0.999 would keep 74% of them after
    /// 300 steps); from t = (10δ − 1)/(1 − δ) on (about 9 000 steps for δ = 0.999) it is δ itself.
    pub fn step_scalars(&self, t: u64, norm_sq: f64) -> AdamStep {
        let norm = norm_sq.sqrt();
        let grad_scale = match self.clip {
            Some(c) if norm > c as f64 => c as f64 / norm,
            _ => 1.0,
        };
        let power = |b: f32| (b as f64).powf(t as f64);
        AdamStep {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            grad_scale: grad_scale as f32,
            bias1: (1.0 - power(self.beta1)) as f32,
            bias2: (1.0 - power(self.beta2)) as f32,
            ema_decay: self.ema_decay.min(((1 + t) as f64 / (10 + t) as f64) as f32),
        }
    }
}

/// Everything a [`super::Trainer`] needs besides the backend and the pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub mlp: MlpConfig,
    pub optim: OptimConfig,
    /// Pairs per step, in 1..=[`TrainConfig::MAX_BATCH`].
    pub batch: usize,
    /// Seed of the initialisation and of the training times.
    pub seed: u64,
}

impl TrainConfig {
    pub const DEFAULT_BATCH: usize = 128;
    pub const MAX_BATCH: usize = 1 << 20;

    /// Default optimiser, batch 128, seed 0.
    pub fn new(mlp: MlpConfig) -> Self {
        TrainConfig { mlp, optim: OptimConfig::default(), batch: Self::DEFAULT_BATCH, seed: 0 }
    }

    /// Check every field against its allowed range.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.mlp.validate()?;
        self.optim.validate()?;
        if !(1..=Self::MAX_BATCH).contains(&self.batch) {
            return Err(TrainError::invalid("batch", self.batch, format!("1..={}", Self::MAX_BATCH)));
        }
        Ok(())
    }
}
