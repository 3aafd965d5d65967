//! The `reflow` experiment: generations of a trained flow, each retrained on pairs the strategy builds.
//!
//! Generation 0 is the real data. Model 1 is the 1-rectified flow (independent pairs, `train`). Model k ≥ 2
//! starts from model k−1's EMA weights (Adam's moments and step count restart) and trains `steps` steps on:
//!
//! | strategy      | pairs of model k                                                                     |
//! |---------------|--------------------------------------------------------------------------------------|
//! | `reflow`      | N synthetic pairs (z, Φ_K(z)) of model k−1 (Liu et al.)                             |
//! | `ra`          | ⌊ρB⌋ real pairs (Φ_K⁻(x), x) and B − ⌊ρB⌋ synthetic pairs in every batch (RA/RCA)   |
//! | `ora`, `oras` | the same split, both kinds made afresh every step by the model being trained (EMA)   |
//! | `accumulate`  | the pair sets of every earlier generation, equal weight, model 1's independent pairs included |
//! | `independent` | the control: `train` continued on independent pairs, optimiser state and streams kept |
//!
//! Every random stream is keyed by (seed, strategy, generation, purpose), so arms are independent of one
//! another and of the order they run in; the clipped and unclipped arms of one strategy share their streams.

use super::eval::{EvalRecord, Evaluation, Reference};
use super::train::{DataChoice, TrainParams, TrainRunConfig};
use super::ConfigError;
use crate::experiment::input::Params as _;
use crate::train::rng;
use crate::train::sampler::SamplerConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

pub const DEFAULT_GENERATIONS: usize = 5;
pub const MAX_GENERATIONS: usize = 1000;
pub const DEFAULT_PAIRS: usize = 5000;
pub const DEFAULT_SAMPLER_STEPS: usize = 50;
pub const DEFAULT_REAL_RATIO: f64 = 0.5;
pub const DEFAULT_REFRESH_EPOCHS: u64 = 2;
pub const DEFAULT_INVERSION_NOISE: f32 = 0.1;
pub const DEFAULT_STEPS: u64 = 1000;
pub const DEFAULT_EVAL_STEPS: [usize; 5] = [1, 2, 4, 8, 16];
pub const DEFAULT_EVAL_SAMPLES: usize = 1000;
pub const DEFAULT_STRATEGIES: [&str; 5] = ["reflow", "ra", "ora", "accumulate", "independent"];

/// How model k's pairs are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Reflow,
    Ra,
    Ora,
    Oras,
    Accumulate,
    Independent,
}

impl Strategy {
    pub const ALL: [Strategy; 6] =
        [Strategy::Reflow, Strategy::Ra, Strategy::Ora, Strategy::Oras, Strategy::Accumulate, Strategy::Independent];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Reflow => "reflow",
            Strategy::Ra => "ra",
            Strategy::Ora => "ora",
            Strategy::Oras => "oras",
            Strategy::Accumulate => "accumulate",
            Strategy::Independent => "independent",
        }
    }

    /// The paper's name (v2, with v1's in parentheses), for captions.
    pub fn title(self) -> &'static str {
        match self {
            Strategy::Reflow => "Reflow",
            Strategy::Ra => "RA (RCA)",
            Strategy::Ora => "ORA (OCAR)",
            Strategy::Oras => "ORAS",
            Strategy::Accumulate => "Accumulate",
            Strategy::Independent => "independent (control)",
        }
    }

    /// Whether model k trains on pairs a model generated (everything but the control).
    pub fn uses_synthetic(self) -> bool {
        self != Strategy::Independent
    }

    /// Whether real images are inverted into pairs.
    pub fn inverts(self) -> bool {
        matches!(self, Strategy::Ra | Strategy::Ora | Strategy::Oras)
    }

    /// Whether a batch holds ⌊ρB⌋ real pairs.
    pub fn mixes_real(self) -> bool {
        self.inverts()
    }

    fn parse(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One arm of a run: a strategy and whether its generated pairs are clipped to the data range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Arm {
    pub strategy: Strategy,
    pub clip_pairs: bool,
    /// Whether `clip_pairs` differs from the run's `--clip-pairs` (then the name says so).
    pub clip_override: bool,
}

impl Arm {
    /// The arm's name: its sub-directory and its `strategy` in the records (`reflow`, `reflow-unclipped`).
    pub fn name(&self) -> String {
        match (self.clip_override, self.clip_pairs) {
            (false, _) => self.strategy.name().to_string(),
            (true, true) => format!("{}-clipped", self.strategy.name()),
            (true, false) => format!("{}-unclipped", self.strategy.name()),
        }
    }

    /// A label for figures.
    pub fn title(&self) -> String {
        match (self.clip_override, self.clip_pairs) {
            (false, _) => self.strategy.title().to_string(),
            (true, true) => format!("{}, clipped pairs", self.strategy.title()),
            (true, false) => format!("{}, unclipped pairs", self.strategy.title()),
        }
    }
}

impl fmt::Display for Arm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The `reflow` parameters, defined once: each field is a flag and a TOML key, with its help; the training
/// settings are `train`'s flags and, in TOML, the `[train]` table (where `steps` is per generation).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ReflowParams {
    /// Arms, a comma list: reflow, ra, ora, oras, accumulate, independent; a suffix :unclipped or :clipped
    /// overrides --clip-pairs for that arm (e.g. reflow,ra,reflow:unclipped) [default:
    /// reflow,ra,ora,accumulate,independent]
    #[arg(long, value_delimiter = ',', value_name = "S[,S…]")]
    pub strategy: Option<Vec<String>>,
    /// Reflow generations after model 1 (models 2 … G+1) [default: 5]
    #[arg(long, value_name = "G")]
    pub generations: Option<usize>,
    /// Synthetic pairs N made by model k−1 for model k (at least one batch) [default: 5000]
    #[arg(long, value_name = "N")]
    pub pairs: Option<usize>,
    /// Euler steps K that make (and invert) pairs [default: 50]
    #[arg(long, value_name = "K")]
    pub sampler_steps: Option<usize>,
    /// Clip generated pairs x̂ to the data range [-1, 1] [default: on for images, off for gaussian]
    #[arg(long, value_parser = ["on", "off"])]
    pub clip_pairs: Option<String>,
    /// ρ: real pairs are ⌊ρB⌋ of every batch in ra, ora and oras [default: 0.5]
    #[arg(long, value_name = "ρ")]
    pub real_ratio: Option<f64>,
    /// ra: re-invert the real pairs every E epochs over them with the model being trained; 0 inverts them
    /// once per generation with model k−1 [default: 2]
    #[arg(long, value_name = "E")]
    pub refresh_epochs: Option<u64>,
    /// oras: σ of the stochastic (Euler–Maruyama) inversion [default: 0.1]
    #[arg(long, value_name = "σ")]
    pub inversion_noise: Option<f32>,
    /// Model 1 from this `train` run directory (its data settings are the defaults) instead of training it
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Optimiser steps of model 1 when reflow trains it [default: 2000, as train]
    #[arg(long, value_name = "S")]
    pub model1_steps: Option<u64>,
    /// Euler step counts K evaluated per generation (the sampler's K is always added) [default: 1,2,4,8,16]
    #[arg(long, value_delimiter = ',', value_name = "K[,K…]")]
    pub eval_steps: Option<Vec<usize>>,
    /// Generated and held-out real samples per evaluation [default: 1000]
    #[arg(long, value_name = "N")]
    pub eval_samples: Option<usize>,
    #[command(flatten)]
    #[serde(default)]
    pub train: TrainParams,
}

impl ReflowParams {
    /// Validate into a config. `model1` is the training parameters of the `--from` run, if any: its data and
    /// network settings are the defaults that this run's flags override.
    pub fn validate(&self, model1: Option<&TrainParams>) -> Result<ReflowConfig, ConfigError> {
        let steps = self.train.steps.unwrap_or(DEFAULT_STEPS);
        let base = model1.cloned().unwrap_or_default();
        let mut train = base.overridden_by(TrainParams { steps: None, ..self.train.clone() })?;
        train.steps = match (model1, self.model1_steps) {
            (Some(_), Some(s)) => {
                return Err(ConfigError::invalid("model1-steps", s, "nothing with --from (model 1 is trained already)"))
            }
            (Some(m), None) => m.steps,
            (None, s) => Some(s.unwrap_or(super::train::DEFAULT_STEPS)),
        };
        let run = train.validate()?;
        if !(1..=super::train::MAX_STEPS).contains(&steps) {
            return Err(ConfigError::invalid(
                "steps",
                steps,
                format!("1 to {} per generation", super::train::MAX_STEPS),
            ));
        }
        let clip_default = match self.clip_pairs.as_deref() {
            None => !matches!(run.data, DataChoice::Gaussian { .. }),
            Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(ConfigError::invalid("clip-pairs", other, "on or off")),
        };
        let names: Vec<String> = match &self.strategy {
            Some(list) if !list.is_empty() => list.clone(),
            Some(_) => return Err(ConfigError::invalid("strategy", "nothing", "one or more strategies")),
            None => DEFAULT_STRATEGIES.iter().map(|s| s.to_string()).collect(),
        };
        let mut arms: Vec<Arm> = Vec::new();
        for raw in &names {
            let (name, clip) = match raw.split_once(':') {
                None => (raw.as_str(), None),
                Some((name, "clipped")) => (name, Some(true)),
                Some((name, "unclipped")) => (name, Some(false)),
                Some((_, suffix)) => {
                    return Err(ConfigError::invalid(
                        "strategy",
                        raw,
                        format!("a suffix :clipped or :unclipped, not :{suffix}"),
                    ))
                }
            };
            let strategy = Strategy::parse(name).ok_or_else(|| {
                ConfigError::invalid(
                    "strategy",
                    name,
                    "reflow, ra, ora, oras, accumulate or independent (optionally :clipped or :unclipped)",
                )
            })?;
            let clip_pairs = clip.unwrap_or(clip_default);
            let arm = Arm { strategy, clip_pairs, clip_override: clip_pairs != clip_default };
            if arms.iter().any(|a| a.name() == arm.name()) {
                return Err(ConfigError::invalid("strategy", raw, "each arm once"));
            }
            arms.push(arm);
        }
        let generations = self.generations.unwrap_or(DEFAULT_GENERATIONS);
        if !(1..=MAX_GENERATIONS).contains(&generations) {
            return Err(ConfigError::invalid(
                "generations",
                generations,
                format!("1 to {MAX_GENERATIONS} reflow generations after model 1"),
            ));
        }
        let batch = run.train.batch;
        let pairs = self.pairs.unwrap_or(DEFAULT_PAIRS);
        if !(batch..=10_000_000).contains(&pairs) {
            return Err(ConfigError::invalid("pairs", pairs, format!("{batch} (one batch, --batch) to 10000000")));
        }
        // A generation's pair set (x0 and x1) in f32, held while the next one is built from it.
        let d = run.data.expected_size().0 / if run.downsample { 4.0 } else { 1.0 };
        let what = format!("two pair sets of {pairs} pairs × 2 × {d} values");
        super::memory::check("pairs", 2.0 * 2.0 * 4.0 * pairs as f64 * d, &what)?;
        let max_k = SamplerConfig::MAX_STEPS;
        let sampler_steps = self.sampler_steps.unwrap_or(DEFAULT_SAMPLER_STEPS);
        if !(1..=max_k).contains(&sampler_steps) {
            return Err(ConfigError::invalid("sampler-steps", sampler_steps, format!("1 to {max_k}")));
        }
        let real_ratio = self.real_ratio.unwrap_or(DEFAULT_REAL_RATIO);
        if !(0.0..=1.0).contains(&real_ratio) {
            return Err(ConfigError::invalid("real-ratio", real_ratio, "[0, 1]"));
        }
        let refresh_epochs = self.refresh_epochs.unwrap_or(DEFAULT_REFRESH_EPOCHS);
        if refresh_epochs > 1_000_000 {
            return Err(ConfigError::invalid("refresh-epochs", refresh_epochs, "0 (once per generation) to 1000000"));
        }
        let inversion_noise = self.inversion_noise.unwrap_or(DEFAULT_INVERSION_NOISE);
        if !(inversion_noise.is_finite() && inversion_noise > 0.0 && inversion_noise <= 10.0) {
            return Err(ConfigError::invalid("inversion-noise", inversion_noise, "(0, 10] (σ of ORAS's reverse SDE)"));
        }
        let mut eval_steps = self.eval_steps.clone().unwrap_or_else(|| DEFAULT_EVAL_STEPS.to_vec());
        if let Some(&k) = eval_steps.iter().find(|&&k| !(1..=max_k).contains(&k)) {
            return Err(ConfigError::invalid("eval-steps", k, format!("1 to {max_k}")));
        }
        eval_steps.push(sampler_steps);
        eval_steps.sort_unstable();
        eval_steps.dedup();
        let eval_samples = self.eval_samples.unwrap_or(DEFAULT_EVAL_SAMPLES);
        if !(10..=100_000).contains(&eval_samples) {
            return Err(ConfigError::invalid("eval-samples", eval_samples, "10 to 100000"));
        }
        Ok(ReflowConfig {
            run,
            arms,
            generations,
            steps,
            pairs,
            sampler_steps,
            real_ratio,
            refresh_epochs,
            inversion_noise,
            from: self.from.clone(),
            eval_steps,
            eval_samples,
        })
    }
}

/// A validated `reflow` run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReflowConfig {
    /// Data, network, optimiser, batch, seed, log and checkpoint cadence; `run.steps` is model 1's steps.
    pub run: TrainRunConfig,
    pub arms: Vec<Arm>,
    /// Reflow generations after model 1: models 2 … generations + 1.
    pub generations: usize,
    /// Optimiser steps per reflow generation.
    pub steps: u64,
    /// Synthetic pairs N per generation (and independent pairs of model 1 in Accumulate's pool).
    pub pairs: usize,
    /// K of the Euler integrations that make and invert pairs.
    pub sampler_steps: usize,
    /// ρ: the real share of a batch, ⌊ρB⌋ rows (RA, ORA, ORAS).
    pub real_ratio: f64,
    /// RA: re-invert the real pairs every E epochs over them with the model being trained; 0: once per
    /// generation, by model k−1.
    pub refresh_epochs: u64,
    /// σ of ORAS's stochastic inversion.
    pub inversion_noise: f32,
    pub from: Option<PathBuf>,
    /// Solver steps K evaluated per generation (always includes `sampler_steps`).
    pub eval_steps: Vec<usize>,
    pub eval_samples: usize,
}

impl ReflowConfig {
    /// The last generation's index (model `generations + 1`).
    pub fn last_generation(&self) -> usize {
        self.generations + 1
    }

    /// Real rows in a batch: ⌊ρB⌋.
    pub fn real_rows(&self) -> usize {
        (self.real_ratio * self.run.train.batch as f64).floor() as usize
    }

    /// RA's steps between re-inversions: E epochs over `real` real pairs at ⌊ρB⌋ a step (None when E = 0).
    pub fn refresh_interval(&self, real: usize) -> Option<u64> {
        (self.refresh_epochs > 0 && self.real_rows() > 0)
            .then(|| self.refresh_epochs * (real as u64).div_ceil(self.real_rows() as u64))
    }
}

/// What a seed of a generation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum SeedPurpose {
    /// The noise of the generation's synthetic pairs.
    Pairs = 1,
    /// Training times and batch rows of model k.
    Train = 2,
    /// The real rows and inversion noise of RA/ORA/ORAS.
    Real = 3,
    /// ORA/ORAS's online synthetic pairs.
    Online = 4,
    /// Accumulate's materialised independent pairs of model 1 (noise and rows).
    Independent = 5,
}

/// The seed of `purpose` in `generation` of `strategy`'s arm.
///
/// # Formula
/// `stream_key(seed ⊕ mix64(index(strategy) + 1), stream(User, generation·2⁸ + purpose))`.
pub fn generation_seed(seed: u64, strategy: Strategy, generation: usize, purpose: SeedPurpose) -> u64 {
    let index = Strategy::ALL.iter().position(|&s| s == strategy).expect("a listed strategy") as u64;
    rng::stream_key(
        seed ^ rng::mix64(index + 1),
        rng::stream(rng::Purpose::User, ((generation as u64) << 8) | purpose as u64),
    )
}

/// One generation of one arm at one solver step count K. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GenerationRecord {
    /// The arm's name (`reflow`, `ra`, …, `reflow-unclipped`).
    pub strategy: String,
    pub generation: usize,
    pub clip_pairs: bool,
    /// ρ for the arms that mix real pairs in, else null.
    pub real_ratio: Option<f64>,
    /// Optimiser steps model k was trained in all (model 1 included for the control arm).
    pub train_steps: u64,
    pub euler_steps: usize,
    pub nfe: usize,
    pub total_variance: f64,
    /// `total_variance` over the held-out real data's.
    pub variance_ratio: f64,
    pub fd_pixel_pca: f64,
    /// Null where no classifier fits the data.
    pub fd_classifier: Option<f64>,
    pub precision: f64,
    pub recall: f64,
    pub straightness: f64,
    pub top_eigenvalue: f64,
    /// Flow-matching loss of the last logged window of model k's training.
    pub train_loss: Option<f64>,
    /// Total variance of the training pairs' own x̂ over the real data's (null for model 1 and online arms).
    pub pairs_variance_ratio: Option<f64>,
    /// Mean and standard deviation over entries of the noise model k inverts the held-out real images to
    /// with the arm's own inversion (K reverse steps); null for arms that invert nothing and for model 1.
    /// N(0, I) would give 0 and 1.
    pub inverted_noise_mean: Option<f64>,
    pub inverted_noise_std: Option<f64>,
}

impl GenerationRecord {
    /// The record of `evaluation` with the generation's own fields.
    pub fn new(arm: &Arm, generation: usize, config: &ReflowConfig, e: &EvalRecord, train: TrainSummary) -> Self {
        GenerationRecord {
            strategy: arm.name(),
            generation,
            clip_pairs: arm.clip_pairs,
            real_ratio: (generation > 1 && arm.strategy.mixes_real()).then_some(config.real_ratio),
            train_steps: train.steps,
            euler_steps: e.euler_steps,
            nfe: e.nfe,
            total_variance: e.total_variance,
            variance_ratio: e.total_variance_ratio,
            fd_pixel_pca: e.fd,
            fd_classifier: e.fd_classifier,
            precision: e.precision,
            recall: e.recall,
            straightness: e.straightness,
            top_eigenvalue: e.top_eigenvalue,
            train_loss: train.loss,
            pairs_variance_ratio: train.pairs_variance_ratio,
            inverted_noise_mean: train.inverted.map(|s| s.mean),
            inverted_noise_std: train.inverted.map(|s| s.std),
        }
    }
}

/// What a generation's training reports besides the evaluation.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct TrainSummary {
    pub steps: u64,
    pub loss: Option<f64>,
    pub pairs_variance_ratio: Option<f64>,
    pub inverted: Option<crate::train::couplings::EntryStats>,
}

/// One evaluated generation: its records (one per K), the covariance spectrum and a few samples at the
/// sampler's K (the same noise in every generation and arm).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GenerationEval {
    pub records: Vec<GenerationRecord>,
    pub spectrum: Vec<f64>,
    pub strip: Vec<f32>,
}

/// Samples of each generation kept for the strip figure.
pub const STRIP_SAMPLES: usize = 8;

/// Evaluate a model's samples (one [`crate::train::sampler::Sampled`] per K, in `config.eval_steps` order).
pub fn evaluate(
    reference: &Reference,
    arm: &Arm,
    generation: usize,
    config: &ReflowConfig,
    sampled: &[crate::train::sampler::Sampled],
    train: TrainSummary,
) -> Result<GenerationEval, crate::metrics::MetricsError> {
    let mut records = Vec::new();
    let (mut spectrum, mut strip) = (Vec::new(), Vec::new());
    for (&k, s) in config.eval_steps.iter().zip(sampled) {
        let Evaluation { record, spectrum: sp, .. } = reference.evaluate(s, k, "euler")?;
        if k == config.sampler_steps {
            spectrum = sp;
            let d = reference.data.dim();
            strip = s.x[..STRIP_SAMPLES.min(s.x.len() / d) * d].to_vec();
        }
        records.push(GenerationRecord::new(arm, generation, config, &record, train));
    }
    Ok(GenerationEval { records, spectrum, strip })
}

/// The linear-DAE prediction of the variance ratio per generation, with one noise level s fitted on
/// generation 1: `theory::dae` started from the real spectrum λ (noisy rule), s chosen by bisection on ln s so
/// that the trace ratio of generation 1 equals `ratio1` (the measured one). None when `ratio1` is not in
/// (0, 1) (no loss to fit, as with unclipped pairs that gain variance).
pub fn fit_dae_noise(spectrum: &[f64], ratio1: f64) -> Option<f64> {
    use crate::theory::{dae, strategy::Rule, Strategy as DaeStrategy};
    if !(ratio1 > 0.0 && ratio1 < 1.0) || spectrum.iter().all(|&l| l <= 0.0) {
        return None;
    }
    let lambda: Vec<f64> = spectrum.iter().map(|&l| l.max(0.0)).collect();
    let top = lambda.iter().cloned().fold(0.0, f64::max);
    let ratio = |s: f64| dae::summaries(&lambda, s, DaeStrategy::Replace, Rule::Noisy, 1)[1].trace_ratio;
    let (mut lo, mut hi) = ((top * 1e-12).ln(), (top * 1e12).ln());
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if ratio(mid.exp()) > ratio1 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((0.5 * (lo + hi)).exp())
}
pub mod driver;
pub mod gaussian;

impl crate::experiment::input::Params for ReflowParams {}
