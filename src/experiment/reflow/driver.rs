//! The generations loop of `reflow`, resumable from its run directory.
//!
//! Resume works by directory, so the driver owns the layout (unlike `train`, whose observer does):
//!
//! ```text
//! DIR/model-1/                       model 1: a `train` run directory (or a copy of --from's checkpoint)
//! DIR/model-1/evaluation.json        generation 1's records, spectrum and strip samples
//! DIR/<arm>/gen-KK/pairs.safetensors the synthetic pairs model KK trains on (x0 noise, x1 x̂), [N, d]
//! DIR/<arm>/gen-KK/checkpoint.safetensors  model KK's training state (in progress, then final)
//! DIR/<arm>/gen-KK/train_records.json      its logged steps
//! DIR/<arm>/gen-KK/evaluation.json         written last: the generation is done (its commit point)
//! ```
//!
//! A generation that fails or is killed leaves the generations before it untouched; a resumed run skips
//! every generation whose `evaluation.json` exists and continues the first one that lacks it from its
//! checkpoint (or from the start). Every step's pairs are pure functions of the seeds and of checkpointed
//! weights, so a resumed run ends with the same bytes as an uninterrupted one.

use super::{evaluate, generation_seed, Arm, GenerationEval, ReflowConfig, SeedPurpose, Strategy, TrainSummary};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::{DataError, Dataset};
use crate::experiment::eval::Reference;
use crate::experiment::train::{run_loop, Interrupt, LoopEnd, LoopSettings, TrainObserver, TrainRecord};
use crate::metrics::MetricsError;
use crate::report::atomic::write_atomic;
use crate::train::couplings::{
    invert, synthetic_pairs, EntryStats, InvertedRealPairs, OnlineRealPairs, OnlineSyntheticPairs, PairSet, PooledPairs,
};
use crate::train::sampler::{self, Sampled, Solver, Weights};
use crate::train::{persist, rng, Backend, CoupledPairs, IndependentPairs, MixedPairs, Mlp, PairSource, TrainError};
use crate::train::{TrainState, Trainer};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

pub const MODEL1: &str = "model-1";
pub const EVALUATION: &str = "evaluation.json";
pub const PAIRS: &str = "pairs.safetensors";
pub const CHECKPOINT: &str = "checkpoint.safetensors";
pub const TRAIN_RECORDS: &str = "train_records.json";

#[derive(Debug, Error)]
pub enum ReflowError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

fn io(path: &Path, e: impl std::fmt::Display) -> ReflowError {
    ReflowError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// Where everything of a run lives.
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn model1(&self) -> PathBuf {
        self.root.join(MODEL1)
    }

    pub fn arm(&self, arm: &Arm) -> PathBuf {
        self.root.join(arm.name())
    }

    pub fn generation(&self, arm: &Arm, k: usize) -> PathBuf {
        self.arm(arm).join(format!("gen-{k:02}"))
    }
}

/// What the driver reports while it runs (progress bars, JSON lines).
pub enum Event<'a> {
    GenerationStarted {
        arm: &'a Arm,
        generation: usize,
    },
    PairsMade {
        arm: &'a Arm,
        generation: usize,
        pairs: usize,
        seconds: f64,
    },
    Logged {
        arm: &'a Arm,
        generation: usize,
        record: &'a TrainRecord,
        total_steps: u64,
    },
    /// `seconds`: the whole generation; `eval_seconds`: its evaluation alone.
    GenerationDone {
        arm: &'a Arm,
        generation: usize,
        eval: &'a GenerationEval,
        seconds: f64,
        eval_seconds: f64,
        resumed: bool,
    },
}

/// How an arm ended.
pub enum ArmEnd {
    Complete(Vec<GenerationEval>),
    Interrupted,
}

/// The generations of every arm after model 1.
pub struct Driver<'a, B: Backend + Clone> {
    pub backend: B,
    pub config: &'a ReflowConfig,
    pub layout: Layout,
    /// The real training images (RA's real pairs, the control's data).
    pub data: &'a Dataset,
    pub reference: &'a Reference,
    pub mlp: Mlp,
    /// Model 1's full training state.
    pub model1: TrainState,
    pub interrupt: Interrupt,
}

/// The EMA group of a state, flat.
pub fn ema_of(state: &TrainState, mlp: &Mlp) -> Vec<f32> {
    let mut flat = vec![0.0f32; mlp.num_params()];
    for t in mlp.tensors() {
        let name = format!("ema.{}", t.name);
        let values = &state.tensors.iter().find(|(n, _)| *n == name).expect("a complete state").1;
        flat[t.range()].copy_from_slice(values);
    }
    flat
}

fn load_state(path: &Path, mlp: &Mlp) -> Result<TrainState, ReflowError> {
    let checkpoint = Checkpoint::load(path)?;
    Ok(persist::from_checkpoint(&checkpoint, mlp, &path.display().to_string())?)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ReflowError> {
    let bytes = serde_json::to_vec_pretty(value).expect("records serialise");
    write_atomic(path, &bytes).map_err(|e| io(path, e))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReflowError> {
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| io(path, e))
}

/// Samples of `params` at every evaluated K, from the same noise (seed `eval_seed`) for every model.
pub fn eval_samples<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    config: &ReflowConfig,
) -> Result<Vec<Sampled>, TrainError> {
    let seed = eval_seed(config);
    config
        .eval_steps
        .iter()
        .map(|&k| sampler::generate(b, mlp, params, config.eval_samples, seed, Solver::Euler, k))
        .collect()
}

/// The seed of the evaluation noise: one for the whole run, so generations and arms are compared on the
/// same starting points.
pub fn eval_seed(config: &ReflowConfig) -> u64 {
    rng::stream_key(config.run.train.seed, rng::stream(rng::Purpose::User, 0xE7A1))
}

/// The observer of one generation's training: records, then the checkpoint (so a kill between the two
/// leaves records past the checkpoint, which a resume drops, never a checkpoint past its records).
struct GenerationObserver<'a> {
    dir: PathBuf,
    mlp: &'a Mlp,
    records: Vec<TrainRecord>,
    on_log: &'a mut dyn FnMut(&TrainRecord),
}

impl TrainObserver for GenerationObserver<'_> {
    type Error = ReflowError;

    fn logged(&mut self, record: &TrainRecord) -> Result<(), ReflowError> {
        self.records.push(record.clone());
        (self.on_log)(record);
        Ok(())
    }

    fn checkpoint(&mut self, state: &TrainState) -> Result<(), ReflowError> {
        write_json(&self.dir.join(TRAIN_RECORDS), &self.records)?;
        persist::to_checkpoint(state, self.mlp, Vec::new()).save(&self.dir.join(CHECKPOINT))?;
        Ok(())
    }
}

impl<B: Backend + Clone> Driver<'_, B> {
    /// Run (or resume) every generation of `arm` after model 1; `model1_eval` is generation 1's evaluation.
    pub fn run_arm(
        &self,
        arm: &Arm,
        model1_eval: &GenerationEval,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<ArmEnd, ReflowError> {
        let mut evals = vec![relabel(model1_eval, arm)];
        let mut prev = self.model1.clone();
        for k in 2..=self.config.last_generation() {
            let dir = self.layout.generation(arm, k);
            let done = dir.join(EVALUATION);
            if done.exists() {
                let eval: GenerationEval = read_json(&done)?;
                on_event(Event::GenerationDone {
                    arm,
                    generation: k,
                    eval: &eval,
                    seconds: 0.0,
                    eval_seconds: 0.0,
                    resumed: true,
                });
                evals.push(eval);
                prev = load_state(&dir.join(CHECKPOINT), &self.mlp)?;
                continue;
            }
            on_event(Event::GenerationStarted { arm, generation: k });
            let start = Instant::now();
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            let Some((trainer, mut summary)) = self.train_generation(arm, k, &prev, &dir, on_event)? else {
                return Ok(ArmEnd::Interrupted);
            };
            if arm.strategy.inverts() {
                summary.inverted = Some(self.inversion_stats(&trainer, arm)?);
            }
            let eval_start = Instant::now();
            let b = trainer.backend();
            let sampled = eval_samples(b, &self.mlp, trainer.ema(), self.config)?;
            let eval = evaluate(self.reference, arm, k, self.config, &sampled, summary)?;
            write_json(&done, &eval)?;
            on_event(Event::GenerationDone {
                arm,
                generation: k,
                eval: &eval,
                seconds: start.elapsed().as_secs_f64(),
                eval_seconds: eval_start.elapsed().as_secs_f64(),
                resumed: false,
            });
            evals.push(eval);
            prev = trainer.state()?;
        }
        Ok(ArmEnd::Complete(evals))
    }

    /// How Gaussian model k's inversion is: the entries of the noise it inverts the held-out evaluation
    /// images to, with the arm's own inversion (K reverse steps; ORAS stochastic, fixed seed). A pure
    /// function of model k, so a resumed run reports the same numbers.
    fn inversion_stats(&self, trainer: &Trainer<B>, arm: &Arm) -> Result<EntryStats, ReflowError> {
        let config = self.config;
        let n = config.eval_samples.min(self.reference.data.len());
        let sigma = if arm.strategy == Strategy::Oras { config.inversion_noise } else { 0.0 };
        let seed = eval_seed(config) ^ 0x1_4E5E;
        let noise = invert(&trainer.ema_flow(), self.reference.data.rows(0..n), config.sampler_steps, sigma, seed)?;
        Ok(EntryStats::of(&noise))
    }

    /// Train model k of `arm` from model k−1's state `prev`; None if interrupted.
    fn train_generation(
        &self,
        arm: &Arm,
        k: usize,
        prev: &TrainState,
        dir: &Path,
        on_event: &mut dyn FnMut(Event),
    ) -> Result<Option<(Trainer<B>, TrainSummary)>, ReflowError> {
        let (config, strategy) = (self.config, arm.strategy);
        let independent = strategy == Strategy::Independent;
        let seed = |purpose| generation_seed(config.run.train.seed, strategy, k, purpose);
        let mut train = config.run.train.clone();
        if !independent {
            train.seed = seed(SeedPurpose::Train);
        }
        let mut trainer = Trainer::new(self.backend.clone(), train)?;
        let checkpoint = dir.join(CHECKPOINT);
        let mut records: Vec<TrainRecord> = Vec::new();
        if checkpoint.exists() {
            let state = load_state(&checkpoint, &self.mlp)?;
            if dir.join(TRAIN_RECORDS).exists() {
                records = read_json(&dir.join(TRAIN_RECORDS))?;
                records.retain(|r| r.step <= state.step);
            }
            trainer.set_state(&state)?;
            trainer.set_ema_warm_up(independent);
        } else if independent {
            trainer.set_state(prev)?;
        } else {
            trainer.warm_start(&ema_of(prev, &self.mlp))?;
        }
        let target = if independent { prev.step + config.steps } else { config.steps };
        let b = &self.backend;
        let prev_ema = b.upload(&ema_of(prev, &self.mlp)).map_err(TrainError::from)?;
        let prev_flow = Weights { backend: b, mlp: &self.mlp, params: &prev_ema };
        let d = self.data.dim();
        let mut summary = TrainSummary { steps: target, ..TrainSummary::default() };

        // The synthetic pairs of model k−1 (stored, so a resume reuses them and users can open them).
        let synthetic = |on_event: &mut dyn FnMut(Event)| -> Result<PairSet, ReflowError> {
            let path = dir.join(PAIRS);
            if path.exists() {
                if let Ok(set) = PairSet::load(&path, d) {
                    return Ok(set);
                }
            }
            let start = Instant::now();
            let (set, straightness) = synthetic_pairs(
                &prev_flow,
                config.pairs,
                seed(SeedPurpose::Pairs),
                config.sampler_steps,
                arm.clip_pairs,
            )?;
            let meta = vec![
                ("strategy".to_string(), arm.name()),
                ("generation".to_string(), k.to_string()),
                ("sampler_steps".to_string(), config.sampler_steps.to_string()),
                ("clip_pairs".to_string(), arm.clip_pairs.to_string()),
                ("straightness".to_string(), straightness.to_string()),
            ];
            set.save(&path, meta)?;
            on_event(Event::PairsMade {
                arm,
                generation: k,
                pairs: config.pairs,
                seconds: start.elapsed().as_secs_f64(),
            });
            Ok(set)
        };

        let stored = matches!(strategy, Strategy::Reflow | Strategy::Ra | Strategy::Accumulate);
        let mut set = if stored { Some(synthetic(on_event)?) } else { None };
        if let Some(set) = &set {
            summary.pairs_variance_ratio = Some(self.reference.variance_ratio(&set.x1)?);
        }
        let settings = LoopSettings {
            steps: target,
            log_every: config.run.log_every,
            checkpoint_every: config.run.checkpoint_every,
        };
        let mut on_log =
            |r: &TrainRecord| on_event(Event::Logged { arm, generation: k, record: r, total_steps: target });
        let mut observer = GenerationObserver { dir: dir.to_path_buf(), mlp: &self.mlp, records, on_log: &mut on_log };
        let interrupt = &self.interrupt;
        let real = self.data.values();
        let synthetic_rows_seed = seed(SeedPurpose::Train);
        let end = match strategy {
            Strategy::Reflow => {
                let set = set.take().expect("stored pairs");
                let mut source = CoupledPairs::new(set.x0, set.x1, d, synthetic_rows_seed)?;
                run_loop(&mut trainer, &mut source, &settings, &mut observer, interrupt)?
            }
            Strategy::Ra => {
                let set = set.take().expect("stored pairs");
                let synthetic = CoupledPairs::new(set.x0, set.x1, d, synthetic_rows_seed)?;
                let real_pairs = match config.refresh_interval(self.data.len()) {
                    None => {
                        InvertedRealPairs::fixed(&prev_flow, real, config.sampler_steps, 0.0, seed(SeedPurpose::Real))?
                    }
                    Some(every) => {
                        InvertedRealPairs::refreshed(real, d, config.sampler_steps, 0.0, seed(SeedPurpose::Real), every)
                    }
                };
                let mut source = MixedPairs::new(real_pairs, synthetic, config.real_ratio)?;
                run_loop(&mut trainer, &mut source, &settings, &mut observer, interrupt)?
            }
            Strategy::Ora | Strategy::Oras => {
                let sigma = if strategy == Strategy::Oras { config.inversion_noise } else { 0.0 };
                let rows = config.real_rows();
                let batch = config.run.train.batch;
                let real_pairs =
                    OnlineRealPairs::new(real, d, rows, config.sampler_steps, sigma, seed(SeedPurpose::Real));
                let online = OnlineSyntheticPairs::new(
                    d,
                    batch - rows,
                    config.sampler_steps,
                    arm.clip_pairs,
                    seed(SeedPurpose::Online),
                );
                let mut source = MixedPairs::new(real_pairs, online, config.real_ratio)?;
                run_loop(&mut trainer, &mut source, &settings, &mut observer, interrupt)?
            }
            Strategy::Accumulate => {
                let first = self.layout.generation(arm, 1).join(PAIRS);
                if !first.exists() {
                    std::fs::create_dir_all(first.parent().expect("a generation dir")).map_err(|e| io(&first, e))?;
                    independent_pairs(self.data, config.pairs, seed(SeedPurpose::Independent)).save(
                        &first,
                        vec![("generation".into(), "1".into()), ("coupling".into(), "independent".into())],
                    )?;
                }
                drop(set.take());
                let paths: Vec<PathBuf> = (1..=k).map(|j| self.layout.generation(arm, j).join(PAIRS)).collect();
                let mut source = PooledPairs::open(&paths, d, synthetic_rows_seed)?;
                run_loop(&mut trainer, &mut source, &settings, &mut observer, interrupt)?
            }
            Strategy::Independent => {
                let mut source = IndependentPairs::new(real, d, config.run.train.seed)?;
                run_loop(&mut trainer, &mut source, &settings, &mut observer, interrupt)?
            }
        };
        summary.loss = observer.records.last().map(|r| r.loss);
        Ok(match end {
            LoopEnd::Complete => Some((trainer, summary)),
            LoopEnd::Interrupted => None,
        })
    }
}

/// Model 1's independent pairs materialised for Accumulate's pool: n real rows drawn uniformly with
/// replacement and n standard normal noises, both from `seed`.
pub fn independent_pairs(data: &Dataset, n: usize, seed: u64) -> PairSet {
    let d = data.dim();
    let mut source = IndependentPairs::new(data.values(), d, seed).expect("a non-empty dataset");
    let (mut x0, mut x1) = (vec![0.0f32; n * d], vec![0.0f32; n * d]);
    source.fill(0, &mut x0, &mut x1);
    PairSet { x0, x1, dim: d }
}

/// Generation 1's evaluation, labelled as `arm`'s.
pub fn relabel(eval: &GenerationEval, arm: &Arm) -> GenerationEval {
    let mut out = eval.clone();
    for r in &mut out.records {
        r.strategy = arm.name();
        r.clip_pairs = arm.clip_pairs;
    }
    out
}
