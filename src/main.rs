//! `flowcollapse`: the command line. A thin layer: parse, validate, call the library, report.

mod cli;

use clap::{Args, Parser, Subcommand, ValueEnum};
use flowcollapse::experiment::dae::{self, DaeParams};
use flowcollapse::experiment::flow::{self, FlowParams};
use flowcollapse::experiment::gaussian::{self, GaussianParams};
use flowcollapse::experiment::input::Params;
use flowcollapse::experiment::linear_reflow::{self, LinearReflowParams};
use flowcollapse::experiment::{input, ConfigError};
use flowcollapse::report::records::to_jsonl;
use flowcollapse::report::rundir::RunDir;
use flowcollapse::report::runs::{write_dae_run, write_flow_run, write_gaussian_run, write_linear_reflow_run};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "flowcollapse",
    version,
    about = "Model collapse in rectified-flow models: closed forms, Monte Carlo and plots"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Worker threads for parallel work (Monte Carlo, CPU training and sampling, metrics) [default: one
    /// per core]. The numbers do not depend on it.
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
}

/// The most `--threads` accepted.
const MAX_THREADS: usize = 1024;

/// `--threads N`: the global rayon pool every parallel command runs on.
fn set_threads(threads: Option<usize>) -> Result<(), Failure> {
    let Some(n) = threads else { return Ok(()) };
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(failure(2, format!("invalid threads = {n}: allowed 1 to {MAX_THREADS}")));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| failure(1, format!("cannot start {n} worker threads: {e}")))
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Linear denoising autoencoder retrained on its own outputs: closed form, Monte Carlo, plots.
    ///
    /// Every generation k trains W_k = C_k (C_k + sI)⁻¹ on a distribution built from earlier
    /// generations by the strategy, then generates the next one. Writes a run directory with
    /// manifest.json, records.csv, records.json and the figures (PNG + SVG).
    #[command(after_help = "Examples:\n  \
        flowcollapse dae --s 0.1 --alpha 0,0.5 --samples 2000\n  \
        flowcollapse dae --spectrum 3,1,0.2 --strategy accumulate --generations 200 --log-y\n  \
        flowcollapse dae --cov sigma.csv --s 0.05,0.1,0.2 --format jsonl | jq .trace_ratio")]
    Dae(DaeArgs),
    /// Exact rectified flow from N(0, I) to N(m, Σ), and what K-step solvers make of it.
    ///
    /// Closed forms only: the generated covariance of K Euler (and Heun) steps (the few-step blur), the
    /// inversion of real data by K reverse steps, and the straightness of the exact and the Euler
    /// trajectories. Writes a run directory with manifest.json, records.csv, records.json and the figures
    /// euler_variance, straightness and trajectories (PNG + SVG).
    #[command(after_help = "Examples:\n  \
        flowcollapse flow --spectrum 4,0.25 --euler-steps 1,2,4,8\n  \
        flowcollapse flow --cov sigma.csv --mean 1,0 --format jsonl | jq .generated_trace")]
    Flow(FlowArgs),
    /// The classic self-consuming loop: fit a Gaussian to n samples, sample n from the fit, repeat.
    ///
    /// Exact expected variance and mean error for every strategy, the log drift that drives the median
    /// (Replace, 1-D), and with --paths a Monte Carlo reporting mean, median and 5–95% quantiles per
    /// generation. Writes a run directory with manifest.json, records.csv, records.json and the figures
    /// variance and mean_error (PNG + SVG).
    #[command(after_help = "Examples:\n  \
        flowcollapse gaussian --samples 20 --estimator unbiased --generations 200 --paths 100000\n  \
        flowcollapse gaussian --strategy accumulate --samples 10 --paths 20000\n  \
        flowcollapse gaussian --alpha 0.1,0.5 --fresh-real --format jsonl | jq .expected_variance")]
    Gaussian(GaussianArgs),
    /// Linear-Gaussian reflow across generations: which error sources make it drift, and which strategy
    /// holds it.
    ///
    /// Model k fits a time-binned linear velocity (B bins, ridge γ) to (noise, sample) pairs and samples with
    /// K Euler steps. Model 1 is the 1-rectified flow; Reflow (replace) trains model k on model k−1's
    /// pairs, RA (mix) adds real data inverted by model k−1, Accumulate keeps every earlier model's pairs.
    /// Closed form per eigen-direction always; --pairs N adds a Monte Carlo with N pairs per generation.
    /// Without --strategy or --alpha, compares Reflow, RA α=0.5 and Accumulate. Writes a run directory with
    /// manifest.json, records.csv, records.json and the figures variance and trace (PNG + SVG).
    #[command(after_help = "Examples:\n  \
        flowcollapse linear-reflow --euler-steps 4 --generations 20\n  \
        flowcollapse linear-reflow --euler-steps 8 --pairs 2000 --replicates 64 --generations 30\n  \
        flowcollapse linear-reflow --ridge 0.05 --strategy replace --format jsonl | jq .variance_ratio")]
    LinearReflow(LinearReflowArgs),
    /// Reflow generations of a trained flow: retrain it on its own (noise, sample) pairs, generation after
    /// generation, under each strategy, and watch what happens to variance and quality.
    ///
    /// Model 1 is the 1-rectified flow (trained here, or --from a train run). Model k ≥ 2 starts from model
    /// k−1's EMA weights and trains --steps steps on the pairs its arm builds: reflow (synthetic pairs only),
    /// ra (⌊ρB⌋ real images with their inverted noise in every batch), ora / oras (both kinds made online
    /// every step; oras inverts stochastically), accumulate (every earlier generation's pairs) and
    /// independent (the control: train continued on independent pairs). Every generation is evaluated at
    /// several Euler step counts. Writes a resumable run directory with records, figures and index.html.
    #[command(after_help = "Examples:\n  \
        flowcollapse reflow --downsample --hidden 512,512 --generations 5 --strategy reflow,ra,ora,independent\n  \
        flowcollapse reflow --from runs/train-20261125T120000Z --strategy reflow,reflow:unclipped --pairs 10000\n  \
        flowcollapse reflow --resume runs/reflow-20261202T030000Z\n  \
        flowcollapse reflow --data gaussian --spectrum 4,0.25 --hidden 64,64 --format jsonl | jq .variance_ratio")]
    Reflow(Box<cli::reflow::ReflowArgs>),
    /// Train a rectified-flow velocity MLP by flow matching on images or Gaussian vectors (CPU).
    ///
    /// Independent coupling (the 1-rectified flow): x0 ~ N(0, I), x1 a training image, t ~ U(0, 1), loss
    /// ‖v(x_t, t) − (x1 − x0)‖². Adam with gradient clipping and an EMA of the weights. Writes a run
    /// directory in place: manifest.json, records.csv/json (one row per logged step), checkpoint.safetensors
    /// (every --checkpoint-every steps; resumable bit for bit with --resume), loss.png/svg and samples.png.
    #[command(after_help = "Examples:\n  \
        flowcollapse train --downsample --steps 500 --hidden 256,256\n  \
        flowcollapse train --data idx --data-dir /usr/share/datasets/fashion-mnist --steps 20000\n  \
        flowcollapse train --resume runs/train-20261125T120000Z --steps 40000\n  \
        flowcollapse train --data gaussian --spectrum 4,0.25 --hidden 64 --format jsonl | jq .loss")]
    Train(Box<cli::train::TrainArgs>),
    /// Draw samples from a trained run's checkpoint: samples.safetensors (n × shape), a PNG grid, NFE and
    /// straightness.
    #[command(
        after_help = "Example:\n  flowcollapse sample --run runs/train-20261125T120000Z --samples 100 --euler-steps 8"
    )]
    Sample(Box<cli::evaluate::SampleArgs>),
    /// Evaluate a trained run's samples against held-out real data, for several solver step counts.
    ///
    /// Per K: total variance ratio, the Fréchet distance in the real pixels' PCA space (FD-pixelPCA; not an
    /// FID), k-NN precision and recall, NFE and straightness. The reference is the test split of the run's
    /// data, transformed like the training data. Writes records and the figures few_step_quality and
    /// few_step_fd.
    #[command(
        after_help = "Example:\n  flowcollapse eval --run runs/train-20261125T120000Z --euler-steps 1,4,16,64 --format jsonl"
    )]
    Eval(Box<cli::evaluate::EvalArgs>),
    /// The main job on the embedded data: the closed-form models (DAE, Gaussian refit, linear reflow), then a
    /// flow trained on Fashion-MNIST (14×14) reflowed for five generations under Reflow, RA, ORA and a
    /// control, with a report page. About six minutes on a laptop CPU (`--quick`: half a minute).
    Demo(cli::demo::DemoArgs),
    /// Train the FD-classifier network (MLP 256-128-10) on the embedded Fashion-MNIST subset and write its
    /// weights (safetensors). With the default settings the file equals the shipped
    /// data/classifier/fashion-mnist-SIZE.safetensors byte for byte; prints the test accuracy.
    #[command(after_help = "Examples:\n  \
        flowcollapse classifier --size 28 --out fashion-mnist-28.safetensors\n  \
        flowcollapse classifier --size 14 --epochs 2 --seed 7 --out small.safetensors --format jsonl")]
    Classifier(cli::classifier::ClassifierArgs),
    /// Print a shell completion script: `flowcollapse completions bash > ~/.local/share/bash-completion/completions/flowcollapse`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `flowcollapse man > flowcollapse.1 && man ./flowcollapse.1`.
    Man,
}

/// What every command shares: where settings come from, where results go, what stdout shows.
#[derive(Args)]
pub(crate) struct RunArgs {
    /// Settings from a TOML file, named like the flags with _ for - (e.g. s = [0.1, 0.2]); flags override it
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Run directory to create (must not exist, or be empty) [default: a fresh one under runs/]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl RunArgs {
    /// The config file's parameters (if any) with the command line's over them.
    fn params<P: Params>(&self, cli: P) -> Result<P, Failure> {
        let file = match &self.config {
            Some(path) => input::read_toml::<P>(path)?,
            None => P::default(),
        };
        Ok(file.overridden_by(cli)?)
    }

    /// Stage the run directory; an unusable `--out` is bad input.
    fn stage(&self, prefix: &str) -> Result<RunDir, Failure> {
        match &self.out {
            Some(dir) => RunDir::create(dir).map_err(|e| Failure {
                code: 2,
                message: format!("invalid out = {}: {e} (allowed: a new or empty directory)", dir.display()),
            }),
            None => RunDir::create_fresh(Path::new("runs"), prefix).map_err(|e| failure(1, e)),
        }
    }

    /// Publish the run, then print the records as JSON lines or the human summary.
    fn finish<T: Serialize>(
        &self,
        run: RunDir,
        records: &[T],
        human: impl FnOnce(&Path) -> String,
    ) -> Result<(), Failure> {
        let dir = run.finish().map_err(|e| failure(1, e))?;
        let text = match self.format {
            Format::Jsonl => {
                eprintln!("run directory: {}", dir.display());
                to_jsonl(records)
            }
            Format::Human => human(&dir),
        };
        print_stdout(&text)
    }
}

#[derive(Args)]
struct GaussianArgs {
    #[command(flatten)]
    params: GaussianParams,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct FlowArgs {
    #[command(flatten)]
    params: FlowParams,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct LinearReflowArgs {
    #[command(flatten)]
    params: LinearReflowParams,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub(crate) enum Format {
    /// A short summary per series.
    #[default]
    Human,
    /// One JSON object per record on stdout (the run directory goes to stderr).
    Jsonl,
}

#[derive(Args)]
struct DaeArgs {
    #[command(flatten)]
    params: DaeParams,
    #[command(flatten)]
    run: RunArgs,
}

/// A failure and its exit code: 2 for bad input, 1 for everything else.
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure { code: 2, message: e.to_string() }
    }
}

pub(crate) fn failure(code: u8, e: impl std::fmt::Display) -> Failure {
    Failure { code, message: e.to_string() }
}

fn main() -> ExitCode {
    let cli: Cli = cli::parse::parse();
    match set_threads(cli.threads).and_then(|()| dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Run one command.
fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Dae(args) => run_dae(&args),
        Command::Flow(args) => run_flow(&args),
        Command::Gaussian(args) => run_gaussian(&args),
        Command::LinearReflow(args) => run_linear_reflow(&args),
        Command::Reflow(args) => cli::reflow::run_reflow(&args),
        Command::Train(args) => cli::train::run_train(&args),
        Command::Sample(args) => cli::evaluate::run_sample(&args),
        Command::Eval(args) => cli::evaluate::run_eval(&args),
        Command::Demo(args) => cli::demo::run_demo(&args),
        Command::Classifier(args) => cli::classifier::run_classifier(&args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "flowcollapse", &mut script);
            print_stdout(&String::from_utf8_lossy(&script))
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .map_err(|e| failure(1, e))?;
            print_stdout(&String::from_utf8_lossy(&page))
        }
    }
}

fn run_dae(args: &DaeArgs) -> Result<(), Failure> {
    let params = args.run.params(args.params.clone())?;
    let config = params.validate()?;
    let run = args.run.stage("dae")?;
    let bar = cli::progress(config.monte_carlo_generations(), "Monte Carlo replicate generations");
    let outcomes = dae::run_observed(&config, &|| bar.inc(1)).map_err(|e| failure(1, e))?;
    bar.finish_and_clear();
    let records = write_dae_run(&run, &params, &config, &outcomes).map_err(|e| failure(1, e))?;
    args.run.finish(run, &records, |dir| human_summary(&outcomes, config.threshold, dir))
}

/// Print to stdout; a closed pipe (`| head`) ends the output quietly instead of panicking.
pub(crate) fn print_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(failure(1, e)),
        _ => Ok(()),
    }
}

/// One line per series: where the trace ratio starts and ends, and when it crosses the threshold.
fn human_summary(outcomes: &[dae::SeriesOutcome], threshold: f64, dir: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for o in outcomes {
        let last = o.closed_form.last().expect("at least one generation");
        let first = &o.closed_form[1];
        let _ = write!(
            out,
            "{:<24} trace ratio: gen 1 {:.4}, gen {} {:.4e}",
            o.label, first.trace_ratio, last.generation, last.trace_ratio
        );
        if let Some(m) = &o.monte_carlo {
            let iv = m[last.generation].trace_ratio;
            let _ = write!(out, " (Monte Carlo {:.4e} [{:.4e}, {:.4e}])", iv.mean, iv.lo, iv.hi);
        }
        let _ = match o.generations_to_threshold {
            Some(k) => writeln!(out, "; below {threshold} at generation {k}"),
            None => writeln!(out, "; never below {threshold} (searched {} generations)", dae::THRESHOLD_SEARCH),
        };
    }
    let _ = writeln!(out, "run directory: {}", dir.display());
    out
}

fn run_flow(args: &FlowArgs) -> Result<(), Failure> {
    let params = args.run.params(args.params.clone())?;
    let config = params.validate()?;
    let run = args.run.stage("flow")?;
    let records = flow::run(&config);
    write_flow_run(&run, &params, &config, &records).map_err(|e| failure(1, e))?;
    args.run.finish(run, &records, |dir| {
        use std::fmt::Write;
        let mut out = String::from("    K   NFE  generated/target  inverted trace  straightness (exact flow)\n");
        for r in &records {
            let _ = writeln!(
                out,
                "{:>5} {:>5}  {:>16.6}  {:>14.6}  {:.6} ({:.6})",
                r.euler_steps, r.nfe, r.generated_trace_ratio, r.inverted_trace, r.straightness, r.exact_straightness
            );
        }
        let _ = writeln!(out, "run directory: {}", dir.display());
        out
    })
}

fn run_gaussian(args: &GaussianArgs) -> Result<(), Failure> {
    let params = args.run.params(args.params.clone())?;
    let config = params.validate()?;
    let run = args.run.stage("gaussian")?;
    // The closed forms are always written and printed; a Monte Carlo that stopped is reported after them.
    let total = config.monte_carlo.map_or(0, |_| (config.strategies.len() * (config.generations + 1)) as u64);
    let bar = cli::progress(total, "Monte Carlo generations");
    let outcomes = gaussian::run_observed(&config, &mut || bar.inc(1));
    bar.finish_and_clear();
    let records = gaussian::records(&config, &outcomes);
    write_gaussian_run(&run, &params, &config, &outcomes, &records).map_err(|e| failure(1, e))?;
    let stopped: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let e = o.monte_carlo_error.as_ref()?;
            let completed = o.monte_carlo.as_ref().map_or(0, Vec::len);
            Some(format!(
                "{}: {e}; its records carry Monte Carlo columns up to generation {}",
                o.label,
                completed.saturating_sub(1)
            ))
        })
        .collect();
    args.run.finish(run, &records, |dir| {
        use std::fmt::Write;
        let mut out = String::new();
        for o in &outcomes {
            let last = records.iter().rfind(|r| r.series == o.label).expect("generation 0 at least");
            let _ = write!(
                out,
                "{:<24} generation {}: E[variance ratio] {:.4e}, E[mean error] {:.4e}",
                o.label, last.generation, last.expected_variance, last.expected_mean_error
            );
            if let Some(m) = &last.mc {
                let _ = write!(out, "; Monte Carlo mean {:.4e}, median {:.4e}", m.mc_mean, m.mc_median);
            }
            if o.monte_carlo_error.is_some() {
                out.push_str("; Monte Carlo stopped early (see the error below)");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "run directory: {}", dir.display());
        out
    })?;
    if stopped.is_empty() {
        Ok(())
    } else {
        Err(failure(
            1,
            format!(
                "the Monte Carlo stopped early; the closed forms of every series were written and printed.\n  {}",
                stopped.join("\n  ")
            ),
        ))
    }
}

fn run_linear_reflow(args: &LinearReflowArgs) -> Result<(), Failure> {
    let params = args.run.params(args.params.clone())?;
    let config = params.validate()?;
    let run = args.run.stage("linear-reflow")?;
    let outcomes = linear_reflow::run(&config);
    let records = linear_reflow::records(&config, &outcomes);
    write_linear_reflow_run(&run, &params, &config, &outcomes, &records).map_err(|e| failure(1, e))?;
    args.run.finish(run, &records, |dir| {
        use std::fmt::Write;
        let g = config.generations;
        let mut out = format!("total variance ratio tr Cov(generated) / tr Σ, generation 1 and {g}:\n");
        for o in &outcomes {
            let _ = write!(
                out,
                "{:<28} {:.4} → {:.4}",
                o.label,
                o.trace_ratio(&config.spectrum, 1),
                o.trace_ratio(&config.spectrum, g)
            );
            if let Some(m) = &o.monte_carlo {
                let iv = m[g].trace_ratio.mean;
                let _ = write!(out, "  (Monte Carlo {:.4} [{:.4}, {:.4}])", iv.mean, iv.lo, iv.hi);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "run directory: {}", dir.display());
        out
    })
}
