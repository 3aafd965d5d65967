//! The `train` experiment: flow matching of the velocity MLP on a dataset, with logging and checkpoints.
//!
//! Parameters (flags or TOML) are validated into a [`TrainRunConfig`]; [`train`] runs the loop and hands
//! every logged step and every checkpoint to a [`TrainObserver`], which does the I/O (the run directory
//! lives in `report::train_run`). The loop itself is `train::Trainer::step`, one fixed op sequence.

use super::{input, ConfigError};
use crate::data::{self, Dataset, Split};
use crate::invalid::Invalid;
use crate::theory::Covariance;
use crate::train::{
    Backend, IndependentPairs, MlpConfig, OptimConfig, PairSource, TrainConfig, TrainError, TrainState, Trainer,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub const DEFAULT_STEPS: u64 = 2_000;
pub const DEFAULT_HIDDEN: [usize; 2] = [1024, 1024];
pub const DEFAULT_LOG_EVERY: u64 = 50;
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 500;
pub const DEFAULT_SAMPLE_STEPS: usize = 50;
pub const DEFAULT_GAUSSIAN_SPECTRUM: [f64; 2] = [4.0, 0.25];
pub const DEFAULT_GAUSSIAN_IMAGES: usize = 10_000;
pub const MAX_STEPS: u64 = 100_000_000;

/// The `train` parameters, defined once: each field is a flag (`--data-dir`, its help from the doc comment)
/// and a TOML key (`data_dir`); absent means the default. [`TrainParams::validate`] checks them all.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct TrainParams {
    /// Training data: fashion-mnist (embedded subset), idx (MNIST-format files in --data-dir), cifar10
    /// (binary batches in --data-dir) or gaussian (N(0, diag(--spectrum)) vectors) [default: fashion-mnist]
    #[arg(long, value_parser = ["fashion-mnist", "idx", "cifar10", "gaussian"])]
    pub data: Option<String>,
    /// Directory of the idx or cifar10 files
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Halve the image size by 2×2 mean pooling (28×28 → 14×14) for fast runs
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub downsample: Option<bool>,
    /// Use only the first N training images (gaussian: draw N vectors) [default: all; gaussian 10000]
    #[arg(long, value_name = "N")]
    pub images: Option<usize>,
    /// Eigenvalues of the gaussian data's covariance [default: 4,0.25]
    #[arg(long, value_delimiter = ',', value_name = "λ1,λ2,…")]
    #[serde(default, deserialize_with = "input::one_or_many", skip_serializing_if = "Option::is_none")]
    pub spectrum: Option<Vec<f64>>,
    /// Optimiser steps in all (a resumed run continues up to this count) [default: 2000]
    #[arg(long, value_name = "S")]
    pub steps: Option<u64>,
    /// Pairs per step [default: 128]
    #[arg(long, value_name = "B")]
    pub batch: Option<usize>,
    /// Hidden layer widths of the velocity MLP [default: 1024,1024]
    #[arg(long, value_delimiter = ',', value_name = "W[,W…]")]
    pub hidden: Option<Vec<usize>>,
    /// Width of the sinusoidal time embedding, even [default: 16]
    #[arg(long, value_name = "E")]
    pub embed: Option<usize>,
    /// Adam learning rate in (0, 1] [default: 5e-4]
    #[arg(long)]
    pub lr: Option<f32>,
    /// EMA decay of the weights in [0, 1) [default: 0.999]
    #[arg(long)]
    pub ema: Option<f32>,
    /// Largest global gradient norm; 0 turns clipping off [default: 1]
    #[arg(long)]
    pub clip: Option<f32>,
    /// Divergence guard: stop when a batch's loss exceeds R times the loss of the zero velocity field on
    /// that batch (mean u²), as for a NaN loss; 0 turns it off [default: 100]
    #[arg(long, value_name = "R")]
    pub max_loss_ratio: Option<f64>,
    /// Seed of the initialisation, the batches and the noise [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Backend [default: cpu]
    #[arg(long, value_parser = ["cpu", "cuda"])]
    pub device: Option<String>,
    /// Log (and print) every L steps [default: 50]
    #[arg(long, value_name = "L")]
    pub log_every: Option<u64>,
    /// Write the checkpoint every C steps (and at the end) [default: 500]
    #[arg(long, value_name = "C")]
    pub checkpoint_every: Option<u64>,
    /// Euler steps of the sample grid drawn at the end [default: 50]
    #[arg(long, value_name = "K")]
    pub sample_steps: Option<usize>,
}

impl TrainParams {
    pub fn validate(&self) -> Result<TrainRunConfig, ConfigError> {
        let data = match (self.data.as_deref().unwrap_or("fashion-mnist"), &self.data_dir) {
            ("fashion-mnist", None) => DataChoice::Embedded,
            ("idx", Some(dir)) => DataChoice::Idx(dir.clone()),
            ("cifar10", Some(dir)) => DataChoice::Cifar10(dir.clone()),
            ("gaussian", None) => {
                let spectrum = self.spectrum.clone().unwrap_or_else(|| DEFAULT_GAUSSIAN_SPECTRUM.to_vec());
                super::memory::check_spectrum(spectrum.len())?;
                Covariance::from_spectrum(&spectrum)
                    .map_err(|source| ConfigError::Covariance { field: "spectrum", source })?;
                DataChoice::Gaussian { spectrum }
            }
            ("idx" | "cifar10", None) => {
                return Err(ConfigError::invalid(
                    "data-dir",
                    "nothing",
                    "a directory of IDX files (--data idx) or CIFAR-10 binary batches (--data cifar10)",
                ))
            }
            ("fashion-mnist" | "gaussian", Some(dir)) => {
                return Err(ConfigError::invalid(
                    "data-dir",
                    dir.display(),
                    "only with --data idx or --data cifar10 (fashion-mnist is embedded, gaussian is drawn)",
                ))
            }
            (other, _) => return Err(ConfigError::invalid("data", other, "fashion-mnist, idx, cifar10 or gaussian")),
        };
        if self.spectrum.is_some() && !matches!(data, DataChoice::Gaussian { .. }) {
            return Err(ConfigError::invalid("spectrum", "a spectrum", "only with --data gaussian"));
        }
        let downsample = self.downsample.unwrap_or(false);
        if downsample && matches!(data, DataChoice::Gaussian { .. }) {
            return Err(ConfigError::invalid("downsample", true, "only for image data"));
        }
        if let Some(0) = self.images {
            return Err(ConfigError::invalid("images", 0, "≥ 1 (or leave it out to use the whole split)"));
        }
        let steps = self.steps.unwrap_or(DEFAULT_STEPS);
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(ConfigError::invalid("steps", steps, format!("1 to {MAX_STEPS}")));
        }
        let defaults = OptimConfig::default();
        let optim = OptimConfig {
            lr: self.lr.unwrap_or(defaults.lr),
            ema_decay: self.ema.unwrap_or(defaults.ema_decay),
            clip: match self.clip {
                None => defaults.clip,
                Some(0.0) => None,
                Some(c) => Some(c),
            },
            max_loss_ratio: match self.max_loss_ratio {
                None => defaults.max_loss_ratio,
                Some(0.0) => None,
                Some(r) => Some(r),
            },
            ..defaults
        };
        let train = TrainConfig {
            // The data dimension is known once the data is loaded: `dim` is set by `train`.
            mlp: MlpConfig {
                dim: 1,
                hidden: self.hidden.clone().unwrap_or_else(|| DEFAULT_HIDDEN.to_vec()),
                embed: self.embed.unwrap_or(MlpConfig::DEFAULT_EMBED),
            },
            optim,
            batch: self.batch.unwrap_or(TrainConfig::DEFAULT_BATCH),
            seed: self.seed.unwrap_or(0),
        };
        train.validate().map_err(train_error)?;
        check_memory(&data, downsample, self.images, &train)?;
        let device = Device::parse(self.device.as_deref())?;
        let every = |field: &'static str, value: Option<u64>, default: u64| match value.unwrap_or(default) {
            0 => Err(ConfigError::invalid(field, 0, "≥ 1 steps")),
            n => Ok(n),
        };
        let sample_steps = self.sample_steps.unwrap_or(DEFAULT_SAMPLE_STEPS);
        if !(1..=crate::train::sampler::SamplerConfig::MAX_STEPS).contains(&sample_steps) {
            return Err(ConfigError::invalid(
                "sample-steps",
                sample_steps,
                format!("1 to {}", crate::train::sampler::SamplerConfig::MAX_STEPS),
            ));
        }
        Ok(TrainRunConfig {
            data,
            downsample,
            images: self.images,
            train,
            steps,
            device,
            log_every: every("log-every", self.log_every, DEFAULT_LOG_EVERY)?,
            checkpoint_every: every("checkpoint-every", self.checkpoint_every, DEFAULT_CHECKPOINT_EVERY)?,
            sample_steps,
        })
    }
}

/// Refuse, before anything is allocated, a run that cannot fit in memory: the data as loaded (before
/// downsampling), the network's five parameter-sized buffers (parameters, gradient, Adam's two moments,
/// EMA) plus a checkpoint's copies of four of them, and one batch's activations and pairs, in f32.
fn check_memory(
    data: &DataChoice,
    downsample: bool,
    images: Option<usize>,
    train: &TrainConfig,
) -> Result<(), ConfigError> {
    let (full_dim, split_rows) = data.expected_size();
    let rows = match (images, data) {
        (Some(n), _) => (n as f64).min(split_rows),
        (None, DataChoice::Gaussian { .. }) => DEFAULT_GAUSSIAN_IMAGES as f64,
        (None, _) => split_rows,
    };
    let d = if downsample { full_dim / 4.0 } else { full_dim };
    let (embed, hidden) = (train.mlp.embed as f64, &train.mlp.hidden);
    let widths: Vec<f64> = std::iter::once(d + embed).chain(hidden.iter().map(|&h| h as f64)).chain([d]).collect();
    let params: f64 = widths.windows(2).map(|w| (w[0] + 1.0) * w[1]).sum();
    let batch = train.batch as f64;
    let activations = batch * (embed + 4.0 * hidden.iter().map(|&h| h as f64).sum::<f64>() + 7.0 * d);
    let data_values = rows * full_dim * if downsample { 1.25 } else { 1.0 };
    let bytes = 4.0 * (13.0 * params + activations + data_values);
    let what = format!("{params:.3e} parameters, batch {}, {rows} rows of {full_dim} values", train.batch);
    super::memory::check("hidden/batch/images", bytes, &what)
}

/// A training error that is the user's to fix, as a config error named like the flag.
fn train_error(e: TrainError) -> ConfigError {
    match e {
        TrainError::Invalid(Invalid { field, value, allowed }) => {
            let field = match field {
                "mlp.dim" => "dim",
                "mlp.embed" => "embed",
                "mlp.hidden" => "hidden",
                "optim.lr" => "lr",
                "optim.clip" => "clip",
                "optim.ema_decay" => "ema",
                "optim.max_loss_ratio" => "max-loss-ratio",
                other => other,
            };
            ConfigError::Invalid(Invalid { field, value, allowed })
        }
        other => ConfigError::Invalid(Invalid::new("training", other, "")),
    }
}

/// Where the training images come from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataChoice {
    /// The Fashion-MNIST subset compiled into the binary.
    Embedded,
    /// A directory of MNIST-format IDX files.
    Idx(PathBuf),
    /// A directory of CIFAR-10 binary batches.
    Cifar10(PathBuf),
    /// N(0, diag(spectrum)) vectors, the theory's oracle data.
    Gaussian { spectrum: Vec<f64> },
}

impl DataChoice {
    /// Dimension and rows of the training split as the readers deliver it (IDX: MNIST's shape), before
    /// any downsampling or `--images` cut: what memory estimates start from.
    pub fn expected_size(&self) -> (f64, f64) {
        match self {
            DataChoice::Embedded => (784.0, 10_000.0),
            DataChoice::Idx(_) => (784.0, 60_000.0),
            DataChoice::Cifar10(_) => (3072.0, 50_000.0),
            DataChoice::Gaussian { spectrum } => (spectrum.len() as f64, f64::INFINITY),
        }
    }
}

/// Where training and sampling run: the CPU reference backend or the CUDA kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Cpu,
    Cuda,
}

impl Device {
    /// `--device`: `cpu` (the default) or `cuda`.
    pub fn parse(value: Option<&str>) -> Result<Device, ConfigError> {
        match value.unwrap_or("cpu") {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            other => Err(ConfigError::invalid("device", other, "cpu or cuda")),
        }
    }
}

/// A validated `train` run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainRunConfig {
    pub data: DataChoice,
    pub downsample: bool,
    pub images: Option<usize>,
    #[serde(skip)]
    pub train: TrainConfig,
    /// Total optimiser steps (a resumed run continues up to this count).
    pub steps: u64,
    pub device: Device,
    pub log_every: u64,
    pub checkpoint_every: u64,
    pub sample_steps: usize,
}

impl TrainRunConfig {
    /// The parameters that validate to this config, every one set: what a run records so that resuming
    /// it does not depend on the defaults of the binary that resumes it.
    pub fn params(&self) -> TrainParams {
        let (data, data_dir, spectrum) = match &self.data {
            DataChoice::Embedded => ("fashion-mnist", None, None),
            DataChoice::Idx(dir) => ("idx", Some(dir.clone()), None),
            DataChoice::Cifar10(dir) => ("cifar10", Some(dir.clone()), None),
            DataChoice::Gaussian { spectrum } => ("gaussian", None, Some(spectrum.clone())),
        };
        let t = &self.train;
        TrainParams {
            data: Some(data.into()),
            data_dir,
            downsample: Some(self.downsample),
            images: self.images,
            spectrum,
            steps: Some(self.steps),
            batch: Some(t.batch),
            hidden: Some(t.mlp.hidden.clone()),
            embed: Some(t.mlp.embed),
            lr: Some(t.optim.lr),
            ema: Some(t.optim.ema_decay),
            clip: Some(t.optim.clip.unwrap_or(0.0)),
            max_loss_ratio: Some(t.optim.max_loss_ratio.unwrap_or(0.0)),
            seed: Some(t.seed),
            device: Some(match self.device {
                Device::Cpu => "cpu".into(),
                Device::Cuda => "cuda".into(),
            }),
            log_every: Some(self.log_every),
            checkpoint_every: Some(self.checkpoint_every),
            sample_steps: Some(self.sample_steps),
        }
    }
}

/// Where two recorded JSON values first differ: the dotted path and both values (`None` if equal).
pub fn first_difference(recorded: &serde_json::Value, now: &serde_json::Value) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (recorded, now) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let (x, y) = (a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                first_difference(x, y)
                    .map(|(path, x, y)| (if path.is_empty() { k.clone() } else { format!("{k}.{path}") }, x, y))
            })
        }
        (a, b) if a == b => None,
        (a, b) => Some((String::new(), a.to_string(), b.to_string())),
    }
}

/// Load the training split the config names (first `images` rows if set, 2× down-sampled if asked).
pub fn load_data(config: &TrainRunConfig) -> Result<Dataset, data::DataError> {
    load_split(config, Split::Train, config.images, config.train.seed)
}

/// `split` of the config's data: its first `rows` rows (all if `None`), 2× down-sampled if the config asks.
/// Gaussian data has no splits: `rows` vectors (default [`DEFAULT_GAUSSIAN_IMAGES`]) drawn with
/// `gaussian_seed`.
pub fn load_split(
    config: &TrainRunConfig,
    split: Split,
    rows: Option<usize>,
    gaussian_seed: u64,
) -> Result<Dataset, data::DataError> {
    let full = match &config.data {
        DataChoice::Embedded => data::embedded_fashion_mnist(split)?,
        DataChoice::Idx(dir) => data::read_idx(dir, split)?,
        DataChoice::Cifar10(dir) => data::read_cifar10(dir, split)?,
        DataChoice::Gaussian { spectrum } => {
            let cov = Covariance::from_spectrum(spectrum).expect("validated");
            let n = rows.unwrap_or(DEFAULT_GAUSSIAN_IMAGES);
            return data::gaussian_vectors(n, &vec![0.0; spectrum.len()], &cov, gaussian_seed);
        }
    };
    let kept = match rows {
        Some(n) if n < full.len() => {
            let (values, shape, labels, source) = full.into_parts();
            let d = shape.dim();
            Dataset::new(
                values[..n * d].to_vec(),
                shape,
                labels.map(|l| l[..n].to_vec()),
                format!("{source}, first {n} rows"),
            )?
        }
        _ => full,
    };
    if config.downsample {
        kept.downsample2()
    } else {
        Ok(kept)
    }
}

/// The resolved settings of a run, as its manifest (and each checkpoint's `config` metadata) records them:
/// what a resume and a reader need to know without the binary's defaults.
pub fn resolved(config: &TrainRunConfig, data: &Dataset) -> serde_json::Value {
    let t = &config.train;
    serde_json::json!({
        "run": config,
        "data_source": data.source(),
        "data_shape": data.shape().to_string(),
        "data_rows": data.len(),
        "mlp": { "dim": t.mlp.dim, "hidden": t.mlp.hidden, "embed": t.mlp.embed },
        "optim": {
            "lr": t.optim.lr, "beta1": t.optim.beta1, "beta2": t.optim.beta2, "eps": t.optim.eps,
            "clip": t.optim.clip, "ema_decay": t.optim.ema_decay, "max_loss_ratio": t.optim.max_loss_ratio,
        },
        "batch": t.batch,
        "seed": t.seed,
    })
}

/// One logged step. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct TrainRecord {
    pub step: u64,
    /// Mean batch loss over the steps since the previous record.
    pub loss: f64,
    /// Gradient norm (before clipping) of the last step.
    pub grad_norm: f64,
    /// Training images (pairs) per second since the previous record.
    pub images_per_s: f64,
    /// Wall-clock seconds since this process started training.
    pub elapsed_s: f64,
}

/// What the training loop reports to; implemented by the run directory writer.
pub trait TrainObserver {
    type Error: From<TrainError>;
    /// A logged step.
    fn logged(&mut self, record: &TrainRecord) -> Result<(), Self::Error>;
    /// A consistent training state to persist (every `checkpoint_every` steps and at the end).
    fn checkpoint(&mut self, state: &TrainState) -> Result<(), Self::Error>;
}

/// How far and how often: the part of a run's settings the loop itself reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopSettings {
    /// Run until the trainer's step count reaches this.
    pub steps: u64,
    pub log_every: u64,
    pub checkpoint_every: u64,
}

impl LoopSettings {
    /// The checkpoint interval for `source`: `checkpoint_every` rounded up to a multiple of `log_every` and
    /// of the source's refresh interval, so that every checkpoint closes a logging window (a resumed run
    /// logs the same windows) and falls on a step where the source refreshes from the checkpointed weights
    /// (a resumed run repeats the refresh exactly).
    pub fn checkpoint_interval(&self, source: &dyn PairSource) -> u64 {
        let unit = crate::train::pairs::lcm(self.log_every.max(1), source.refresh_every().unwrap_or(1).max(1));
        unit * self.checkpoint_every.div_ceil(unit).max(1)
    }
}

impl From<&TrainRunConfig> for LoopSettings {
    fn from(c: &TrainRunConfig) -> Self {
        LoopSettings { steps: c.steps, log_every: c.log_every, checkpoint_every: c.checkpoint_every }
    }
}

/// How a loop ended without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopEnd {
    /// The step count reached `steps`; the last state is checkpointed.
    Complete,
    /// An interruption (SIGINT, SIGTERM) was seen: the current step finished and was checkpointed.
    Interrupted,
}

/// A flag the loop polls after every step: set by SIGINT or SIGTERM once [`Interrupt::on_signals`] ran.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// A flag nothing sets (library use, tests) unless [`Interrupt::raise`] is called.
    pub fn none() -> Self {
        Interrupt::default()
    }

    /// A flag that SIGINT and SIGTERM set, instead of killing the process.
    pub fn on_signals() -> std::io::Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&flag))?;
        }
        Ok(Interrupt(flag))
    }

    pub fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn raised(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The one training loop that `train` and every reflow generation run: from the trainer's current step up
/// to `settings.steps`, asking `source` to refresh before each step, logging every `log_every` steps and
/// checkpointing every [`LoopSettings::checkpoint_interval`] steps, at the end and on an interruption.
/// A non-finite loss or gradient stops it with the error; the last checkpoint written stays the last good
/// state.
pub fn run_loop<B: Backend, O: TrainObserver>(
    trainer: &mut Trainer<B>,
    source: &mut dyn PairSource,
    settings: &LoopSettings,
    observer: &mut O,
    interrupt: &Interrupt,
) -> Result<LoopEnd, O::Error> {
    let every = settings.checkpoint_interval(source);
    let batch = trainer.config().batch as f64;
    let (start, mut window_loss, mut window_steps) = (Instant::now(), 0.0, 0u64);
    let mut window_start = Instant::now();
    while trainer.step_count() < settings.steps {
        source.refresh(trainer.step_count(), &trainer.ema_flow())?;
        let stats = trainer.step(source)?;
        window_loss += stats.loss;
        window_steps += 1;
        let step = trainer.step_count();
        let last = step == settings.steps;
        if step.is_multiple_of(settings.log_every) || last {
            let seconds = window_start.elapsed().as_secs_f64();
            observer.logged(&TrainRecord {
                step,
                loss: window_loss / window_steps as f64,
                grad_norm: stats.grad_norm,
                images_per_s: (window_steps as f64 * batch) / seconds.max(1e-9),
                elapsed_s: start.elapsed().as_secs_f64(),
            })?;
            (window_loss, window_steps, window_start) = (0.0, 0, Instant::now());
        }
        if interrupt.raised() && !last {
            // Between refreshes a resumed run could not rebuild the source's pairs: keep the last checkpoint.
            if step.is_multiple_of(every) || source.refresh_every().is_none() {
                observer.checkpoint(&finite_state(trainer)?)?;
            }
            return Ok(LoopEnd::Interrupted);
        }
        if step.is_multiple_of(every) || last {
            observer.checkpoint(&finite_state(trainer)?)?;
        }
    }
    Ok(LoopEnd::Complete)
}

/// The trainer's state, or the error naming its first non-finite tensor (finite gradients can still
/// overflow Adam's second moment in f32): the last checkpoint then stays the last good state.
fn finite_state<B: Backend>(trainer: &Trainer<B>) -> Result<TrainState, TrainError> {
    let state = trainer.state()?;
    if let Some((tensor, value)) = state.non_finite() {
        return Err(TrainError::NonFiniteState { step: state.step, tensor: tensor.to_string(), value });
    }
    Ok(state)
}

/// The 1-rectified flow: [`run_loop`] on independent pairs of `data` under the config's seed.
pub fn train<B: Backend, O: TrainObserver>(
    trainer: &mut Trainer<B>,
    data: &Dataset,
    config: &TrainRunConfig,
    observer: &mut O,
    interrupt: &Interrupt,
) -> Result<LoopEnd, O::Error> {
    let mut pairs = IndependentPairs::new(data.values(), data.dim(), config.train.seed)?;
    run_loop(trainer, &mut pairs, &LoopSettings::from(config), observer, interrupt)
}

impl super::input::Params for TrainParams {}
