//! `flowcollapse sample` and `flowcollapse eval`: a trained run's checkpoint in, samples and metrics out.

use super::on_device;
use super::{failure, Failure, RunArgs};
use clap::{Args, ValueEnum};
use flowcollapse::checkpoint::{Checkpoint, Tensor};
use flowcollapse::data::Shape;
use flowcollapse::experiment::eval::{check_reference_size, classifier_for, load_reference, EvalRecord, Reference};
use flowcollapse::experiment::input::Params;
use flowcollapse::experiment::train::{Device, TrainParams, TrainRunConfig};
use flowcollapse::metrics::PrecisionRecallParams;
use flowcollapse::report::figures::eval as figures;
use flowcollapse::report::grid::write_grid;
use flowcollapse::report::plot::{render_maps, Maps};
use flowcollapse::report::runs::write_outputs;
use flowcollapse::report::train_run::CHECKPOINT;
use flowcollapse::train::sampler::{self, Sampled, Solver};
use flowcollapse::train::{persist, Backend, Mlp};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// The exponential moving average of the weights (what one samples with).
    #[default]
    Ema,
    /// The raw optimiser weights.
    Params,
}

impl Weights {
    fn group(self) -> &'static str {
        match self {
            Weights::Ema => "ema",
            Weights::Params => "params",
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SolverArg {
    /// Euler: K steps, K evaluations.
    #[default]
    Euler,
    /// Heun on the first K − 1 steps, Euler on the last: 2K − 1 evaluations.
    Heun,
}

impl SolverArg {
    fn solver(self) -> Solver {
        match self {
            SolverArg::Euler => Solver::Euler,
            SolverArg::Heun => Solver::Heun,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SolverArg::Euler => "euler",
            SolverArg::Heun => "heun",
        }
    }
}

/// Which trained model, and how to sample it: flags, or the `[model]` table of a config file.
#[derive(Args, Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelParams {
    /// Training run directory (its manifest says what data the model was trained on) [required]
    #[arg(long, value_name = "DIR")]
    run: Option<PathBuf>,
    /// Checkpoint to load [default: DIR/checkpoint.safetensors]
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<PathBuf>,
    /// Which weights to sample with [default: ema]
    #[arg(long, value_enum)]
    weights: Option<Weights>,
    /// Solver [default: euler]
    #[arg(long, value_enum)]
    solver: Option<SolverArg>,
    /// Seed of the starting noise [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// Where to sample: cpu, or cuda (the kernels of kernels/*.cu on an NVIDIA GPU) [default: cpu]
    #[arg(long, value_parser = ["cpu", "cuda"])]
    device: Option<String>,
}

/// [`ModelParams`] with its defaults filled in.
pub struct ModelChoice {
    run: PathBuf,
    checkpoint: Option<PathBuf>,
    weights: Weights,
    solver: SolverArg,
    seed: u64,
    device: Device,
}

impl ModelParams {
    fn resolve(self) -> Result<ModelChoice, Failure> {
        let run = self.run.ok_or_else(|| {
            failure(
                2,
                "invalid run = nothing: allowed a `train` run directory (--run DIR, or run = \"DIR\" under [model])",
            )
        })?;
        Ok(ModelChoice {
            run,
            checkpoint: self.checkpoint,
            weights: self.weights.unwrap_or_default(),
            solver: self.solver.unwrap_or_default(),
            seed: self.seed.unwrap_or(0),
            device: Device::parse(self.device.as_deref())?,
        })
    }
}

/// `n` samples of the loaded model with `k` solver steps on backend `b`.
fn generate<B: Backend>(b: &B, args: &ModelChoice, model: &Model, n: usize, k: usize) -> Result<Sampled, Failure> {
    let params = b.upload(&model.params).map_err(|e| failure(1, e))?;
    sampler::generate(b, &model.mlp, &params, n, args.seed, args.solver.solver(), k).map_err(|e| failure(1, e))
}

/// A loaded model and the run it belongs to.
struct Model {
    config: TrainRunConfig,
    mlp: Mlp,
    params: Vec<f32>,
    checkpoint: PathBuf,
    step: u64,
}

fn load_model(args: &ModelChoice) -> Result<Model, Failure> {
    let manifest_path = args.run.join("manifest.json");
    let text = std::fs::read(&manifest_path).map_err(|e| {
        let dir = args.run.display();
        failure(2, format!("invalid run = {dir}: {}: {e} (allowed: a `train` run directory)", manifest_path.display()))
    })?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| failure(2, format!("{}: {e}", manifest_path.display())))?;
    let params: TrainParams = serde_json::from_value(manifest["params"].clone())
        .map_err(|e| failure(2, format!("{}: params: {e}", manifest_path.display())))?;
    let mut config = params.validate()?;
    let path = args.checkpoint.clone().unwrap_or_else(|| args.run.join(CHECKPOINT));
    let file = path.display().to_string();
    let checkpoint = Checkpoint::load(&path).map_err(|e| failure(2, e))?;
    config.train.mlp = persist::mlp_config(&checkpoint, &file).map_err(|e| failure(2, e))?;
    let mlp = Mlp::new(config.train.mlp.clone()).map_err(|e| failure(2, format!("{file}: {e}")))?;
    let params = persist::flat_group(&checkpoint, &mlp, args.weights.group(), &file).map_err(|e| failure(2, e))?;
    let step = checkpoint.meta("step", "an integer", &file).map_err(|e| failure(2, e))?;
    Ok(Model { config, mlp, params, checkpoint: path, step })
}

fn check_range(field: &'static str, value: usize, lo: usize, hi: usize) -> Result<(), Failure> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(failure(2, format!("invalid {field} = {value}: allowed {lo} to {hi}")))
    }
}

/// The data shape a model generates (from the run's data, after down-sampling).
fn shape_of(model: &Model) -> Result<Shape, Failure> {
    let reference = load_reference(&model.config, 1).map_err(|e| failure(2, e))?;
    Ok(reference.shape())
}

/// The `sample` settings: flags, or keys of a config file (the model's under `[model]`).
#[derive(Args, Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SampleParams {
    #[command(flatten)]
    #[serde(default)]
    model: ModelParams,
    /// Number of samples [default: 64]
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Solver steps K [default: 50]
    #[arg(long, value_name = "K")]
    euler_steps: Option<usize>,
}

impl Params for SampleParams {}

#[derive(Args)]
pub struct SampleArgs {
    #[command(flatten)]
    params: SampleParams,
    #[command(flatten)]
    run: RunArgs,
}

/// A validated `sample` run.
struct Sample {
    model: ModelChoice,
    samples: usize,
    euler_steps: usize,
}

impl SampleParams {
    fn validate(self) -> Result<Sample, Failure> {
        let (samples, euler_steps) = (self.samples.unwrap_or(64), self.euler_steps.unwrap_or(50));
        check_range("samples", samples, 1, 1_000_000)?;
        check_range("euler-steps", euler_steps, 1, sampler::SamplerConfig::MAX_STEPS)?;
        Ok(Sample { model: self.model.resolve()?, samples, euler_steps })
    }
}

/// What `sample` reports.
#[derive(Serialize)]
struct SampleRecord {
    samples: usize,
    solver: &'static str,
    euler_steps: usize,
    nfe: usize,
    straightness: f64,
    checkpoint_step: u64,
}

pub fn run_sample(args: &SampleArgs) -> Result<(), Failure> {
    let sample = args.run.params(args.params.clone())?.validate()?;
    on_device!(sample.model.device, |b| sample_on(&b, &sample, &args.run))
}

fn sample_on<B: Backend>(b: &B, args: &Sample, out: &RunArgs) -> Result<(), Failure> {
    let model = load_model(&args.model)?;
    let shape = shape_of(&model)?;
    let run = out.stage("sample")?;
    let solver = args.model.solver;
    let sampled = generate(b, &args.model, &model, args.samples, args.euler_steps)?;
    let mut dims = vec![args.samples];
    match shape {
        Shape::Image { channels, height, width } => dims.extend([channels, height, width]),
        Shape::Vector { dim } => dims.push(dim),
    }
    let tensors = Checkpoint {
        tensors: vec![Tensor::new("samples", dims, sampled.x.clone())],
        metadata: vec![("checkpoint".into(), model.checkpoint.display().to_string())],
    };
    run.write("samples.safetensors", &tensors.to_bytes()).map_err(|e| failure(1, e))?;
    if matches!(shape, Shape::Image { .. }) {
        write_grid(&sampled.x, shape, args.samples.min(256), 2, &run.path().join("samples.png"))
            .map_err(|e| failure(1, e))?;
    }
    let record = SampleRecord {
        samples: args.samples,
        solver: solver.name(),
        euler_steps: args.euler_steps,
        nfe: sampled.nfe,
        straightness: sampled.straightness,
        checkpoint_step: model.step,
    };
    let manifest = json!({ "command": "sample", "run": args.model.run, "checkpoint": model.checkpoint });
    write_outputs(&run, std::slice::from_ref(&record), &[], manifest).map_err(|e| failure(1, e))?;
    out.finish(run, &[record], |dir| format!("wrote {} samples\nrun directory: {}\n", args.samples, dir.display()))
}

/// Eigenvalues shown in the spectrum figure.
const SPECTRUM_SHOWN: usize = 100;

/// Per-pixel variance maps, real first then one per K, on a common grey scale (white = the largest variance),
/// with their labels, a colour bar and a caption saying what they show.
fn write_variance_maps(
    reference: &Reference,
    evaluations: &[flowcollapse::experiment::eval::Evaluation],
    (channels, height, width): (usize, usize, usize),
    path: &std::path::Path,
) -> Result<(), Failure> {
    // One channel: average the channels' variances per pixel.
    let plane = height * width;
    let per_pixel = |v: &[f64]| -> Vec<f64> {
        (0..plane).map(|p| v.iter().skip(p).step_by(plane).sum::<f64>() / (v.len() / plane) as f64).collect()
    };
    let n = reference.data.len();
    let panels = std::iter::once((format!("real (held out, n = {n})"), per_pixel(&reference.pixel_variance)))
        .chain(
            evaluations
                .iter()
                .map(|e| (format!("K = {} ({})", e.record.euler_steps, e.record.solver), per_pixel(&e.pixel_variance))),
        )
        .collect();
    let channels_note = if channels > 1 { format!(", averaged over the {channels} channels") } else { String::new() };
    let maps = Maps {
        title: "Per-pixel variance: real images and samples per solver step count".into(),
        caption: Some(format!(
            "each pixel's variance over {n} images{channels_note}, in units of the [-1, 1] pixel scale; one grey \
             scale for every panel (black 0, white the largest): where the samples are darker than the real \
             images, they have lost variation"
        )),
        height,
        width,
        panels,
        scale_label: "variance".into(),
    };
    render_maps(&maps, path).map(drop).map_err(|e| failure(1, e))
}

/// The `eval` settings: flags, or keys of a config file (the model's under `[model]`).
#[derive(Args, Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EvalParams {
    #[command(flatten)]
    #[serde(default)]
    model: ModelParams,
    /// Generated samples per setting (and held-out real samples) [default: 2000]
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Solver step counts K to evaluate; a list shows the few-step blur [default: 1,2,4,8,16,50]
    #[arg(long, value_delimiter = ',', value_name = "K[,K…]")]
    euler_steps: Option<Vec<usize>>,
    /// Principal components of the FD-pixelPCA feature space (at most the data dimension) [default: 64]
    #[arg(long, value_name = "C")]
    components: Option<usize>,
    /// Neighbour rank k of the precision/recall manifolds [default: 3]
    #[arg(long, value_name = "k")]
    knn: Option<usize>,
}

impl Params for EvalParams {}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    params: EvalParams,
    #[command(flatten)]
    run: RunArgs,
}

/// A validated `eval` run.
struct Eval {
    model: ModelChoice,
    samples: usize,
    euler_steps: Vec<usize>,
    components: usize,
    knn: usize,
}

impl EvalParams {
    fn validate(self) -> Result<Eval, Failure> {
        let samples = self.samples.unwrap_or(2000);
        let components = self.components.unwrap_or(64);
        let knn = self.knn.unwrap_or(PrecisionRecallParams::default().k);
        let euler_steps = self.euler_steps.unwrap_or_else(|| vec![1, 2, 4, 8, 16, 50]);
        check_range("samples", samples, 10, 100_000)?;
        check_range("components", components, 1, 4096)?;
        check_range("knn", knn, 1, 100)?;
        for &k in &euler_steps {
            check_range("euler-steps", k, 1, sampler::SamplerConfig::MAX_STEPS)?;
        }
        if knn >= samples {
            return Err(failure(2, format!("invalid knn = {knn}: allowed below --samples ({samples})")));
        }
        Ok(Eval { model: self.model.resolve()?, samples, euler_steps, components, knn })
    }
}

pub fn run_eval(args: &EvalArgs) -> Result<(), Failure> {
    let eval = args.run.params(args.params.clone())?.validate()?;
    on_device!(eval.model.device, |b| eval_on(&b, &eval, &args.run))
}

fn eval_on<B: Backend>(b: &B, args: &Eval, out: &RunArgs) -> Result<(), Failure> {
    let model = load_model(&args.model)?;
    let real = load_reference(&model.config, args.samples).map_err(|e| failure(2, e))?;
    check_reference_size(&real, args.samples, "samples")?;
    let run = out.stage("eval")?;
    let pr = PrecisionRecallParams { k: args.knn, ..PrecisionRecallParams::default() };
    let classifier = classifier_for(&model.config, real.shape());
    let reference = Reference::new(real, args.components, pr, classifier).map_err(|e| failure(1, e))?;
    let solver = args.model.solver;
    let n = reference.data.len();
    let mut evaluations = Vec::new();
    let bar = super::progress(args.euler_steps.len() as u64, "solver step counts sampled and scored");
    for &k in &args.euler_steps {
        let sampled = generate(b, &args.model, &model, n, k)?;
        evaluations.push(reference.evaluate(&sampled, k, solver.name()).map_err(|e| failure(1, e))?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let records: Vec<EvalRecord> = evaluations.iter().map(|e| e.record.clone()).collect();
    let charts = [
        ("few_step_quality", figures::few_step_quality(&records, model.step)),
        ("few_step_fd", figures::few_step_fd(&records, model.step)),
        ("spectrum", figures::spectrum(&reference, &evaluations, model.step, SPECTRUM_SHOWN)),
    ];
    if let Shape::Image { channels, height, width } = reference.data.shape() {
        let path = run.path().join("pixel_variance.png");
        write_variance_maps(&reference, &evaluations, (channels, height, width), &path)?;
    }
    let manifest = json!({
        "command": "eval",
        "run": args.model.run,
        "checkpoint": model.checkpoint,
        "checkpoint_step": model.step,
        "reference": reference.data.source(),
        "weights": args.model.weights.group(),
        "seed": args.model.seed,
    });
    write_outputs(&run, &records, &charts, manifest).map_err(|e| failure(1, e))?;
    out.finish(run, &records, |dir| {
        use std::fmt::Write;
        let mut out =
            String::from("    K   NFE  variance ratio  FD-pixelPCA  FD-classifier  precision  recall  straightness\n");
        for r in &records {
            let _ = writeln!(
                out,
                "{:>5} {:>5}  {:>14.4}  {:>11.4}  {:>13}  {:>9.3}  {:>6.3}  {:>12.4}",
                r.euler_steps,
                r.nfe,
                r.total_variance_ratio,
                r.fd,
                r.fd_classifier.map_or("—".to_string(), |v| format!("{v:.3}")),
                r.precision,
                r.recall,
                r.straightness
            );
        }
        let _ = writeln!(out, "run directory: {}", dir.display());
        out
    })
}
