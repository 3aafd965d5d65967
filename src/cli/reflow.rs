//! `flowcollapse reflow`: generations of a trained flow under each strategy, with records, figures and a
//! report page. Flags → validated config → model 1 (trained here or `--from`) → `experiment::reflow`'s
//! driver per arm → `report::reflow_run`.

use super::on_device;
use super::train::on_log;
use super::{failure, print_stdout, Failure, Format, RunArgs};
use clap::Args;
use flowcollapse::checkpoint::Checkpoint;
use flowcollapse::experiment::eval::{check_reference_size, classifier_for, load_reference, Reference};
use flowcollapse::experiment::reflow::driver::{
    ema_of, eval_samples, ArmEnd, Driver, Event, Layout, ReflowError, CHECKPOINT, EVALUATION, MODEL1,
};
use flowcollapse::experiment::reflow::{evaluate, Arm, GenerationEval, ReflowConfig, ReflowParams, TrainSummary};
use flowcollapse::experiment::train::{self as run, resolved, Device, Interrupt, LoopEnd, TrainParams};
use flowcollapse::metrics::PrecisionRecallParams;
use flowcollapse::report::lock::{is_empty_but_lock, DirLock};
use flowcollapse::report::reflow_run;
use flowcollapse::report::train_run::TrainRun;
use flowcollapse::train::{persist, Backend, Mlp, TrainState, Trainer};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Principal components of FD-pixelPCA (as `eval`).
const COMPONENTS: usize = 64;

#[derive(Args)]
pub struct ReflowArgs {
    #[command(flatten)]
    params: ReflowParams,
    /// Continue the run in DIR (after a kill or an interruption); no other settings may be given
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "out"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    run: RunArgs,
}

fn reflow_failure(e: ReflowError) -> Failure {
    let code = match e {
        ReflowError::Checkpoint(_) | ReflowError::Data(_) => 2,
        _ => 1,
    };
    failure(code, e)
}

/// A `train` run to start from: its parameters and its checkpoint's state.
struct From {
    params: TrainParams,
    checkpoint: PathBuf,
}

fn open_from(dir: &Path) -> Result<From, Failure> {
    let manifest_path = dir.join("manifest.json");
    let bad =
        |why: String| failure(2, format!("invalid from = {}: {why} (allowed: a `train` run directory)", dir.display()));
    let text = std::fs::read(&manifest_path).map_err(|e| bad(format!("{}: {e}", manifest_path.display())))?;
    let manifest: Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("{}: {e}", manifest_path.display())))?;
    if manifest["command"] != "train" {
        return Err(bad(format!("its manifest's command is {}, not \"train\"", manifest["command"])));
    }
    let params: TrainParams =
        serde_json::from_value(manifest["params"].clone()).map_err(|e| bad(format!("params: {e}")))?;
    Ok(From { params, checkpoint: dir.join(CHECKPOINT) })
}

/// Model 1's full state from a checkpoint file, checked against the network the config describes.
fn load_model1(path: &Path, mlp: &Mlp) -> Result<TrainState, Failure> {
    let file = path.display().to_string();
    let checkpoint = Checkpoint::load(path).map_err(|e| failure(2, e))?;
    let stored = persist::mlp_config(&checkpoint, &file).map_err(|e| failure(2, e))?;
    if &stored != mlp.config() {
        return Err(failure(
            2,
            format!(
                "{file}: the model is {} → {:?} → {} (embed {}), but the data and flags give dimension {} and \
                 hidden {:?}; data whose dimension differs from the model's cannot be reflowed",
                stored.dim,
                stored.hidden,
                stored.dim,
                stored.embed,
                mlp.config().dim,
                mlp.config().hidden
            ),
        ));
    }
    persist::from_checkpoint(&checkpoint, mlp, &file).map_err(|e| failure(2, e))
}

pub fn run_reflow(args: &ReflowArgs) -> Result<(), Failure> {
    // The device of a resumed run is the one it was started on.
    let params = match &args.resume {
        Some(dir) => read_manifest(dir).and_then(|m| serde_json::from_value::<ReflowParams>(m["params"].clone()).ok()),
        None => Some(args.run.params(args.params.clone())?),
    };
    let device = Device::parse(params.as_ref().and_then(|p| p.train.device.as_deref()))?;
    on_device!(device, |b| reflow_on(args, b))
}

fn reflow_on<B: Backend + Clone>(args: &ReflowArgs, backend: B) -> Result<(), Failure> {
    let jsonl = matches!(args.run.format, Format::Jsonl);
    let started = Instant::now();
    let (params, dir, resuming) = match &args.resume {
        Some(dir) => {
            if args.params != ReflowParams::default() {
                return Err(failure(
                    2,
                    "invalid resume: no other settings may be given with --resume; the run's own are kept",
                ));
            }
            let path = dir.join("manifest.json");
            let text =
                std::fs::read(&path).map_err(|e| failure(2, format!("invalid resume: {}: {e}", path.display())))?;
            let manifest: Value =
                serde_json::from_slice(&text).map_err(|e| failure(2, format!("{}: {e}", path.display())))?;
            if manifest["command"] != "reflow" {
                return Err(failure(2, format!("invalid resume = {}: not a reflow run directory", dir.display())));
            }
            let params: ReflowParams = serde_json::from_value(manifest["params"].clone())
                .map_err(|e| failure(2, format!("{}: params: {e}", path.display())))?;
            (params, dir.clone(), true)
        }
        None => {
            let params = args.run.params(args.params.clone())?;
            let dir = args.run.out.clone().unwrap_or_else(|| super::train::fresh_dir(Path::new("runs"), "reflow"));
            (params, dir, false)
        }
    };
    // Everything the user gave is checked before anything is written.
    let from = params.from.as_deref().map(open_from).transpose()?;
    let mut config = params.validate(from.as_ref().map(|f| &f.params)).map_err(|e| {
        if resuming {
            failure(2, format!("{}: the resumed run's settings: {e}", dir.join("manifest.json").display()))
        } else {
            Failure::from(e)
        }
    })?;
    let data = run::load_data(&config.run).map_err(|e| failure(2, e))?;
    config.run.train.mlp.dim = data.dim();
    let mlp = Mlp::new(config.run.train.mlp.clone()).map_err(|e| failure(2, e))?;
    let from_state = from.as_ref().map(|f| load_model1(&f.checkpoint, &mlp)).transpose()?;
    let not_empty = |dir: &Path| -> Result<bool, Failure> {
        Ok(dir.exists() && !is_empty_but_lock(dir).map_err(|e| failure(2, format!("{}: {e}", dir.display())))?)
    };
    if !resuming && not_empty(&dir)? && !DirLock::is_held(&dir) {
        return Err(failure(2, format!("invalid out = {}: allowed a new or empty directory", dir.display())));
    }
    let real = load_reference(&config.run, config.eval_samples).map_err(|e| failure(2, e))?;
    check_reference_size(&real, config.eval_samples, "eval-samples")?;
    let delta = config.run.train.optim.ema_decay as f64;
    if delta > 0.0 && (config.steps as f64) * (1.0 - delta) < 3.0 {
        eprintln!(
            "note: {} steps per generation are fewer than 3 EMA time constants (1/(1 − δ) = {:.0} steps): model k's \
             EMA weights will still hold {:.0}% of model k−1's (raise --steps or lower --ema)",
            config.steps,
            1.0 / (1.0 - delta),
            100.0 * delta.powf(config.steps as f64)
        );
    }
    // One writer per directory: lock, then look again (another run may have started here meanwhile).
    let _lock = DirLock::acquire(&dir).map_err(|e| failure(2, format!("invalid out: {e}")))?;
    if !resuming && not_empty(&dir)? {
        return Err(failure(2, format!("invalid out = {}: allowed a new or empty directory", dir.display())));
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let now = json!({ "reflow": &config, "train": resolved(&config.run, &data) });
    if resuming {
        // This version must resolve the recorded settings to the same run, or it cannot continue it exactly.
        let recorded = read_manifest(&dir).map(|m| m["resolved"].clone()).unwrap_or_default();
        super::same_resolution(&dir.join("manifest.json"), &recorded, &now)?;
    }
    let mut manifest = json!({
        "command": "reflow",
        "params": params,
        "resolved": now,
        "arms": config.arms.iter().map(|a| json!({"name": a.name(), "strategy": a.strategy.name(), "clip_pairs": a.clip_pairs})).collect::<Vec<_>>(),
        "model1": match &params.from { Some(d) => json!({"from": d}), None => json!({"trained_in": MODEL1}) },
        "warm_start": "model k ≥ 2 starts from model k−1's EMA weights with Adam's moments and step count reset; \
                       the independent arm continues model k−1's whole optimiser state",
        "online_weights": "ora/oras generate and invert with the EMA weights of the model being trained",
        "status": "running",
    });
    if let Some(previous) = read_manifest(&dir) {
        manifest["commands"] = previous["commands"].clone();
    }
    let mut commands: Vec<Value> = manifest["commands"].as_array().cloned().unwrap_or_default();
    commands.push(json!(command));
    manifest["commands"] = json!(commands);
    reflow_run::write_manifest(&dir, &manifest).map_err(|e| failure(1, e))?;
    let interrupt = Interrupt::on_signals().map_err(|e| failure(1, format!("cannot watch for SIGINT/SIGTERM: {e}")))?;
    let layout = Layout { root: dir.clone() };

    // Model 1.
    let model1 = match from_state {
        Some(state) => {
            let copy = layout.model1().join(CHECKPOINT);
            if !copy.exists() {
                std::fs::create_dir_all(layout.model1()).map_err(|e| failure(1, e))?;
                let bytes = std::fs::read(&from.as_ref().expect("from").checkpoint).map_err(|e| failure(2, e))?;
                flowcollapse::report::atomic::write_atomic(&copy, &bytes).map_err(|e| failure(1, e))?;
            }
            state
        }
        None => match train_model1(&backend, &config, &params.train, &data, &mlp, &layout, jsonl, &interrupt)? {
            Some(state) => state,
            None => return interrupted(&dir, &mut manifest),
        },
    };
    eprintln!("preparing the held-out reference ({} images) …", real.len());
    let pr = PrecisionRecallParams::default();
    let classifier = classifier_for(&config.run, real.shape());
    let reference = Reference::new(real, COMPONENTS, pr, classifier).map_err(|e| failure(1, e))?;
    let model1_eval = {
        let path = layout.model1().join(EVALUATION);
        match std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<GenerationEval>(&b).ok()) {
            Some(eval) => eval,
            None => {
                let ema = backend.upload(&ema_of(&model1, &mlp)).map_err(|e| failure(1, e))?;
                let sampled = eval_samples(&backend, &mlp, &ema, &config).map_err(|e| failure(1, e))?;
                let summary = TrainSummary { steps: model1.step, ..TrainSummary::default() };
                let arm = config.arms[0];
                let eval = evaluate(&reference, &arm, 1, &config, &sampled, summary).map_err(|e| failure(1, e))?;
                let bytes = serde_json::to_vec_pretty(&eval).expect("records serialise");
                flowcollapse::report::atomic::write_atomic(&path, &bytes).map_err(|e| failure(1, e))?;
                eval
            }
        }
    };
    let driver = Driver {
        backend,
        config: &config,
        layout: layout.clone(),
        data: &data,
        reference: &reference,
        mlp: mlp.clone(),
        model1,
        interrupt: interrupt.clone(),
    };
    let mut arms: Vec<(Arm, Vec<GenerationEval>)> = Vec::new();
    for arm in &config.arms {
        let mut printer = Printer::new(jsonl, &config);
        if jsonl {
            for r in &flowcollapse::experiment::reflow::driver::relabel(&model1_eval, arm).records {
                print_stdout(&format!("{}\n", serde_json::to_string(r).expect("records serialise")))?;
            }
        }
        match driver.run_arm(arm, &model1_eval, &mut |e| printer.event(e)).map_err(reflow_failure)? {
            ArmEnd::Complete(evals) => arms.push((*arm, evals)),
            ArmEnd::Interrupted => return interrupted(&dir, &mut manifest),
        }
    }
    let page = reflow_run::write_outputs(&dir, &config, &arms, &reference, &manifest).map_err(|e| failure(1, e))?;
    manifest["status"] = json!("complete");
    manifest["seconds_this_process"] = json!(started.elapsed().as_secs_f64());
    reflow_run::write_manifest(&dir, &manifest).map_err(|e| failure(1, e))?;
    if !jsonl {
        print_stdout(&reflow_run::summary_table(&arms))?;
    }
    eprintln!("finished in {:.1} s", started.elapsed().as_secs_f64());
    if jsonl {
        print_stdout(&format!("{}\n", json!({ "report": page, "run_dir": dir })))
    } else {
        print_stdout(&format!("{}\n", page.display()))
    }
}

fn read_manifest(dir: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).ok()?).ok()
}

fn interrupted(dir: &Path, manifest: &mut Value) -> Result<(), Failure> {
    manifest["status"] = json!("interrupted");
    reflow_run::write_manifest(dir, manifest).map_err(|e| failure(1, e))?;
    Err(failure(130, format!("interrupted; continue with: flowcollapse reflow --resume {}", dir.display())))
}

/// Train (or resume) model 1 into DIR/model-1 as an ordinary `train` run; None if interrupted.
#[allow(clippy::too_many_arguments)]
fn train_model1<B: Backend + Clone>(
    backend: &B,
    config: &ReflowConfig,
    train_params: &TrainParams,
    data: &flowcollapse::data::Dataset,
    mlp: &Mlp,
    layout: &Layout,
    jsonl: bool,
    interrupt: &Interrupt,
) -> Result<Option<TrainState>, Failure> {
    let dir = layout.model1();
    let mut trainer = Trainer::new(backend.clone(), config.run.train.clone()).map_err(|e| failure(2, e))?;
    let log = |start| {
        if jsonl {
            Box::new(|_: &run::TrainRecord| {}) as Box<dyn FnMut(&run::TrainRecord)>
        } else {
            on_log(false, config.run.steps, start)
        }
    };
    let mut run = if dir.join(CHECKPOINT).exists() {
        let (manifest, checkpoint, records) = TrainRun::reopen(&dir).map_err(|e| failure(2, e))?;
        let checkpoint = checkpoint.expect("the checkpoint exists");
        let state = persist::from_checkpoint(&checkpoint, mlp, &dir.join(CHECKPOINT).display().to_string())
            .map_err(|e| failure(2, e))?;
        if manifest["status"] == "complete" && state.step == config.run.steps {
            return Ok(Some(state));
        }
        trainer.set_state(&state).map_err(|e| failure(2, e))?;
        TrainRun::resume(&dir, mlp.clone(), manifest, records, log(state.step))?
    } else {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| failure(1, e))?;
        }
        eprintln!("training model 1 (the 1-rectified flow), {} steps …", config.run.steps);
        let manifest = json!({
            "command": "train",
            "params": TrainParams { steps: Some(config.run.steps), ..train_params.clone() },
            "resolved": resolved(&config.run, data),
            "part_of": "reflow",
        });
        TrainRun::create(&dir, mlp.clone(), manifest, log(0))?
    };
    match run::train(&mut trainer, data, &config.run, &mut run, interrupt)? {
        LoopEnd::Interrupted => {
            run.finish("interrupted", |_| Ok(()))?;
            Ok(None)
        }
        LoopEnd::Complete => {
            run.finish("complete", |_| Ok(()))?;
            Ok(Some(trainer.state().map_err(|e| failure(1, e))?))
        }
    }
}

/// Progress on stderr (human) or one JSON object per record on stdout.
struct Printer {
    jsonl: bool,
    bar: Option<ProgressBar>,
    eval_k: usize,
}

impl Printer {
    fn new(jsonl: bool, config: &ReflowConfig) -> Self {
        Printer { jsonl, bar: None, eval_k: config.sampler_steps }
    }

    fn event(&mut self, event: Event) {
        match event {
            Event::GenerationStarted { arm, generation } => {
                if !self.jsonl {
                    eprintln!("[{arm}] generation {generation}: making pairs and training …");
                }
            }
            Event::PairsMade { arm, generation, pairs, seconds } => {
                if !self.jsonl {
                    eprintln!("[{arm}] generation {generation}: {pairs} pairs in {seconds:.1} s");
                }
            }
            Event::Logged { record, total_steps, .. } => {
                if self.jsonl {
                    return;
                }
                let bar = self.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total_steps);
                    bar.set_style(
                        ProgressStyle::with_template("  {bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise}]")
                            .expect("a valid template"),
                    );
                    bar
                });
                bar.set_position(record.step.min(total_steps));
                bar.set_message(format!("loss {:.5}", record.loss));
            }
            Event::GenerationDone { arm, generation, eval, seconds, eval_seconds, resumed } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                if self.jsonl {
                    for r in &eval.records {
                        let _ = print_stdout(&format!("{}\n", serde_json::to_string(r).expect("records serialise")));
                    }
                } else if let Some(r) = eval.records.iter().find(|r| r.euler_steps == self.eval_k) {
                    let fd = r
                        .fd_classifier
                        .map_or(format!("FD-pixelPCA {:.3}", r.fd_pixel_pca), |v| format!("FD-classifier {v:.3}"));
                    let how = if resumed {
                        "done earlier".to_string()
                    } else {
                        format!("{seconds:.1} s, of which evaluation {eval_seconds:.1} s")
                    };
                    eprintln!(
                        "[{arm}] generation {generation} ({how}): K = {}: variance ratio {:.3}, {fd}, recall {:.3}",
                        r.euler_steps, r.variance_ratio, r.recall
                    );
                }
            }
        }
    }
}
