//! `flowcollapse train`: flags → validated config → `experiment::train::train` into a run directory.

use super::on_device;
use super::{failure, print_stdout, Failure, Format, RunArgs};
use clap::Args;
use flowcollapse::data::{Dataset, Shape};
use flowcollapse::experiment::input::Params as _;
use flowcollapse::experiment::train::{
    self as run, resolved, Device, Interrupt, LoopEnd, TrainParams, TrainRecord, TrainRunConfig,
};
use flowcollapse::experiment::ConfigError;
use flowcollapse::invalid::Invalid;
use flowcollapse::report::grid::write_grid;
use flowcollapse::report::rundir::utc_stamp;
use flowcollapse::report::train_run::{TrainRun, TrainRunError, CHECKPOINT};
use flowcollapse::train::sampler::{self, Solver};
use flowcollapse::train::{persist, Backend, Mlp, TrainError, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Samples drawn for the grid at the end of a run.
const GRID_SAMPLES: usize = 64;

#[derive(Args)]
pub struct TrainArgs {
    #[command(flatten)]
    flags: TrainParams,
    /// Continue the run in DIR from its checkpoint (only --steps may change)
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "out"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

impl From<TrainRunError> for Failure {
    fn from(e: TrainRunError) -> Self {
        // A checkpoint that cannot be read back, or a directory another run holds, is the user's input (exit
        // 2); the rest are failures.
        let code = if matches!(e, TrainRunError::Checkpoint(_) | TrainRunError::Locked(_)) { 2 } else { 1 };
        failure(code, e)
    }
}

fn data_failure(e: flowcollapse::data::DataError) -> Failure {
    failure(2, e)
}

/// Everything the loop needs, from fresh flags or from a run to resume.
struct Prepared<B: Backend> {
    config: TrainRunConfig,
    data: Dataset,
    run: TrainRun,
    trainer: Trainer<B>,
}

pub fn run_train(args: &TrainArgs) -> Result<(), Failure> {
    // The device of a resumed run is the one it was started on.
    let device = match &args.resume {
        Some(dir) => {
            let (manifest, ..) = TrainRun::reopen(dir).map_err(|e| failure(2, e))?;
            Device::parse(manifest["params"]["device"].as_str())?
        }
        None => Device::parse(args.run.params(args.flags.clone())?.device.as_deref())?,
    };
    on_device!(device, |b| train_on(args, b))
}

fn train_on<B: Backend>(args: &TrainArgs, backend: B) -> Result<(), Failure> {
    let jsonl = matches!(args.run.format, Format::Jsonl);
    let Prepared { config, data, mut run, mut trainer } = match &args.resume {
        Some(dir) => prepare_resume(args, dir, jsonl, backend)?,
        None => prepare_fresh(args, jsonl, backend)?,
    };
    let interrupt = Interrupt::on_signals().map_err(|e| failure(1, format!("cannot watch for SIGINT/SIGTERM: {e}")))?;
    let outcome = run::train(&mut trainer, &data, &config, &mut run, &interrupt);
    match outcome {
        Ok(LoopEnd::Interrupted) => {
            let dir = run.finish("interrupted", |_| Ok(()))?;
            Err(failure(
                130,
                format!(
                    "interrupted at step {}; continue with: flowcollapse train --resume {}",
                    trainer.step_count(),
                    dir.display()
                ),
            ))
        }
        Ok(LoopEnd::Complete) => {
            let (mlp, ema) = (trainer.mlp().clone(), trainer.ema());
            let shape = data.shape();
            let dir = run.finish("complete", |dir| draw_grid(trainer.backend(), &mlp, ema, shape, &config, dir))?;
            let checkpoint = dir.join(CHECKPOINT);
            let last = run.records().last().cloned();
            let text = if jsonl {
                let done = json!({
                    "step": trainer.step_count(),
                    "loss": last.as_ref().map(|r| r.loss),
                    "checkpoint": checkpoint,
                    "run_dir": dir,
                });
                format!("{done}\n")
            } else {
                format!(
                    "trained {} steps, last loss {:.5}; checkpoint {}\nrun directory: {}\n",
                    trainer.step_count(),
                    last.map(|r| r.loss).unwrap_or(f64::NAN),
                    checkpoint.display(),
                    dir.display()
                )
            };
            print_stdout(&text)
        }
        Err(TrainRunError::Train(
            e @ (TrainError::NonFinite { .. } | TrainError::NonFiniteState { .. } | TrainError::Exploding { .. }),
        )) => {
            let dir = run.finish("diverged", |_| Ok(()))?;
            let last_good = match run.manifest_mut().get("checkpoint_step").cloned() {
                Some(step) if dir.join(CHECKPOINT).exists() => {
                    format!("The last good state is {} (step {step})", dir.join(CHECKPOINT).display())
                }
                _ => "No checkpoint was written before it".to_string(),
            };
            Err(failure(1, format!("training stopped: {e}. {last_good}; lower --lr or keep --clip")))
        }
        Err(e) => Err(e.into()),
    }
}

fn prepare_fresh<B: Backend>(args: &TrainArgs, jsonl: bool, backend: B) -> Result<Prepared<B>, Failure> {
    let params = args.run.params(args.flags.clone())?;
    let mut config = params.validate()?;
    let data = run::load_data(&config).map_err(data_failure)?;
    config.train.mlp.dim = data.dim();
    let mlp = Mlp::new(config.train.mlp.clone()).map_err(|e| failure(2, e))?;
    let trainer = Trainer::new(backend, config.train.clone()).map_err(|e| failure(2, e))?;
    let dir = match &args.run.out {
        Some(dir) => dir.clone(),
        None => fresh_dir(Path::new("runs"), "train"),
    };
    let manifest = json!({
        "command": "train",
        "params": params,
        "resolved_params": config.params(),
        "resolved": resolved(&config, &data),
    });
    let run = TrainRun::create(&dir, mlp, manifest, on_log(jsonl, config.steps, 0)).map_err(|e| match e {
        TrainRunError::Io { .. } => failure(2, format!("invalid out: {e} (allowed: a new or empty directory)")),
        TrainRunError::Locked(_) => failure(2, format!("invalid out: {e}")),
        other => other.into(),
    })?;
    Ok(Prepared { config, data, run, trainer })
}

fn prepare_resume<B: Backend>(args: &TrainArgs, dir: &Path, jsonl: bool, backend: B) -> Result<Prepared<B>, Failure> {
    let mut others = args.flags.clone();
    others.steps = None;
    if others != TrainParams::default() {
        return Err(failure(
            2,
            "invalid resume: only --steps (and --format) may be given with --resume; the run's own settings are kept",
        ));
    }
    // The directory to resume is the user's input: anything unreadable there is exit code 2.
    let (manifest, checkpoint, records) = TrainRun::reopen(dir).map_err(|e| failure(2, e))?;
    let manifest_path = dir.join("manifest.json");
    // The settings as resolved when the run started (older runs: as given), so that a change of defaults
    // in this binary cannot change the run.
    let recorded = match manifest.get("resolved_params") {
        Some(p) if !p.is_null() => p.clone(),
        _ => manifest["params"].clone(),
    };
    let stored: TrainParams = serde_json::from_value(recorded)
        .map_err(|e| failure(2, format!("{}: params: {e}", manifest_path.display())))?;
    let params = stored.overridden_by(TrainParams { steps: args.flags.steps, ..TrainParams::default() })?;
    // A bad value now is either --steps or the manifest's (edited, or from another version): say which.
    let mut config = params.validate().map_err(|e| match &e {
        ConfigError::Invalid(Invalid { field: "steps", .. }) if args.flags.steps.is_some() => Failure::from(e),
        _ => failure(2, format!("{}: the resumed run's settings: {e}", manifest_path.display())),
    })?;
    let data = run::load_data(&config).map_err(data_failure)?;
    config.train.mlp.dim = data.dim();
    // This version must resolve the recorded settings to the same run (only the step count may change).
    let mut now = resolved(&config, &data);
    now["run"]["steps"] = manifest["resolved"]["run"]["steps"].clone();
    super::same_resolution(&manifest_path, &manifest["resolved"], &now)?;
    let file = dir.join(CHECKPOINT).display().to_string();
    let mlp = Mlp::new(config.train.mlp.clone()).map_err(|e| failure(2, e))?;
    let mut trainer = Trainer::new(backend, config.train.clone()).map_err(|e| failure(2, e))?;
    // Killed before its first checkpoint, a run starts again from step 0 (the seed gives the same start).
    let state = match &checkpoint {
        None => trainer.state().map_err(|e| failure(1, e))?,
        Some(checkpoint) => {
            let stored_mlp = persist::mlp_config(checkpoint, &file).map_err(|e| failure(2, e))?;
            if stored_mlp != config.train.mlp {
                return Err(failure(
                    2,
                    format!("{file}: network {stored_mlp:?} does not match the run's {:?}", config.train.mlp),
                ));
            }
            persist::from_checkpoint(checkpoint, &mlp, &file).map_err(|e| failure(2, e))?
        }
    };
    if state.step > config.steps {
        return Err(ConfigError::invalid(
            "steps",
            config.steps,
            format!("at least the checkpoint's step {} when resuming", state.step),
        )
        .into());
    }
    trainer.set_state(&state).map_err(|e| failure(2, format!("{file}: {e}")))?;
    let mut manifest = manifest;
    manifest["params"]["steps"] = json!(config.steps);
    manifest["resolved_params"] = json!(config.params());
    manifest["resolved"] = resolved(&config, &data);
    let run = TrainRun::resume(dir, mlp, manifest, records, on_log(jsonl, config.steps, state.step))?;
    Ok(Prepared { config, data, run, trainer })
}

/// A fresh `runs/<prefix>-<UTC>` directory name (with a counter if taken).
pub fn fresh_dir(root: &Path, prefix: &str) -> PathBuf {
    let stamp = utc_stamp(std::time::SystemTime::now());
    let mut dir = root.join(format!("{prefix}-{stamp}"));
    let mut counter = 2;
    while dir.exists() {
        dir = root.join(format!("{prefix}-{stamp}-{counter}"));
        counter += 1;
    }
    dir
}

/// JSON lines on stdout, or a progress bar with loss and images/s on stderr.
pub(crate) fn on_log(jsonl: bool, total: u64, start: u64) -> Box<dyn FnMut(&TrainRecord)> {
    if jsonl {
        return Box::new(|r: &TrainRecord| {
            let _ = print_stdout(&format!("{}\n", serde_json::to_string(r).expect("records serialise")));
        });
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise} < {eta_precise}]")
            .expect("a valid template"),
    );
    bar.set_position(start);
    Box::new(move |r: &TrainRecord| {
        bar.set_position(r.step);
        bar.set_message(format!("loss {:.5}  {:.0} images/s", r.loss, r.images_per_s));
        if r.step >= total {
            bar.finish();
        }
    })
}

/// The grid of EMA samples at the end of a run (image data only).
fn draw_grid<B: Backend>(
    backend: &B,
    mlp: &Mlp,
    ema: &B::Buf,
    shape: Shape,
    config: &TrainRunConfig,
    dir: &Path,
) -> Result<(), TrainRunError> {
    if !matches!(shape, Shape::Image { .. }) {
        return Ok(());
    }
    let sampled =
        sampler::generate(backend, mlp, ema, GRID_SAMPLES, config.train.seed, Solver::Euler, config.sample_steps)?;
    let scale = if shape.dim() <= 14 * 14 * 3 { 4 } else { 2 };
    write_grid(&sampled.x, shape, GRID_SAMPLES, scale, &dir.join("samples.png"))
        .map_err(|e| TrainRunError::Io { path: dir.join("samples.png"), message: e.to_string() })
}
