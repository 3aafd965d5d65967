//! `flowcollapse demo`: the main job on the embedded data, end to end, within minutes on a laptop CPU.
//!
//! 1. The theory figures: the linear DAE, the Gaussian refit loop and the linear-Gaussian reflow model.
//! 2. Reflow of a trained flow on the embedded Fashion-MNIST subset at 14×14: a 1-rectified flow, then
//!    reflow generations for Reflow, RA, ORA and the independent control, plus an unclipped Reflow arm.
//! 3. `index.html` in the demo's directory: every figure with its caption, and the reflow report.
//!
//! Each step is the ordinary command with fixed arguments, so the demo is also a recipe.

use super::{failure, print_stdout, Failure};
use clap::Parser;
use flowcollapse::report::page::{self, Block, Page, Section};
use std::path::{Path, PathBuf};

/// The theory commands, with `DIR` standing for the demo's run directory.
const THEORY: [&[&str]; 3] = [
    &["dae", "--s", "0.1", "--alpha", "0,0.5", "--samples", "2000", "--out", "DIR/dae"],
    &[
        "gaussian",
        "--samples",
        "20",
        "--estimator",
        "unbiased",
        "--generations",
        "200",
        "--paths",
        "20000",
        "--out",
        "DIR/gaussian",
    ],
    &["linear-reflow", "--euler-steps", "8", "--pairs", "2000", "--generations", "30", "--out", "DIR/linear-reflow"],
];

/// The arms of the demo's reflow run.
const ARMS: &str = "reflow,ra,ora,independent,reflow:unclipped";

/// The reflow command at each scale (`DIR` as above).
fn reflow_command(scale: Scale) -> Vec<&'static str> {
    let common = ["reflow", "--strategy", ARMS, "--out", "DIR/reflow", "--lr", "1e-3", "--ema", "0.995"];
    let sized: &[&str] = match scale {
        Scale::Quick => &[
            "--downsample",
            "--hidden",
            "256,256",
            "--model1-steps",
            "1500",
            "--steps",
            "200",
            "--generations",
            "3",
            "--pairs",
            "1000",
            "--sampler-steps",
            "10",
            "--eval-steps",
            "1,2,4",
            "--eval-samples",
            "500",
            "--images",
            "5000",
        ],
        Scale::Default => &[
            "--downsample",
            "--hidden",
            "512,512",
            "--model1-steps",
            "3000",
            "--steps",
            "500",
            "--generations",
            "5",
            "--pairs",
            "3000",
            "--sampler-steps",
            "20",
            "--eval-steps",
            "1,2,4,8",
            "--eval-samples",
            "1000",
        ],
        Scale::Paper => &[
            "--hidden",
            "1024,1024",
            "--model1-steps",
            "20000",
            "--steps",
            "5000",
            "--generations",
            "10",
            "--pairs",
            "50000",
            "--sampler-steps",
            "99",
            "--eval-steps",
            "1,2,4,8,16",
            "--eval-samples",
            "2000",
        ],
    };
    common.iter().chain(sized).copied().collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    Quick,
    Default,
    Paper,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's runs (must not exist, or be empty) [default: a fresh one under runs/]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// About a minute: smaller network, 3 generations, fewer pairs and steps
    #[arg(long, conflicts_with = "paper")]
    quick: bool,
    /// As close to the paper's reflow settings as a CPU allows (28×28, 99-step pairs, 10 generations; hours)
    #[arg(long)]
    paper: bool,
}

pub fn run_demo(args: &DemoArgs) -> Result<(), Failure> {
    let dir = args.out.clone().unwrap_or_else(|| super::train::fresh_dir(Path::new("runs"), "demo"));
    if dir.exists() && std::fs::read_dir(&dir).map_err(|e| failure(2, e))?.next().is_some() {
        return Err(failure(2, format!("invalid out = {}: allowed a new or empty directory", dir.display())));
    }
    let scale = if args.quick {
        Scale::Quick
    } else if args.paper {
        Scale::Paper
    } else {
        Scale::Default
    };
    let root = dir.display().to_string();
    let reflow = reflow_command(scale);
    let steps: Vec<&[&str]> = THEORY.iter().copied().chain(std::iter::once(reflow.as_slice())).collect();
    let mut commands = Vec::new();
    let start = std::time::Instant::now();
    for (i, step) in steps.iter().enumerate() {
        let argv: Vec<String> =
            std::iter::once("flowcollapse".to_string()).chain(step.iter().map(|a| a.replace("DIR", &root))).collect();
        let line = argv.join(" ");
        eprintln!("[{}/{}] {line}", i + 1, steps.len());
        commands.push(line);
        let cli = super::super::Cli::try_parse_from(&argv).map_err(|e| failure(1, e))?;
        super::super::dispatch(cli.command)?;
    }
    let page = page::write(&dir, &demo_page(commands, &dir)).map_err(|e| failure(1, e))?;
    eprintln!("demo finished in {:.0} s", start.elapsed().as_secs_f64());
    print_stdout(&format!("{}\n", page.display()))
}

/// The demo's page: the theory figures, then the reflow report's figures, then the commands.
fn demo_page(commands: Vec<String>, dir: &Path) -> Page {
    let figure = |src: &str, caption: &str| Block::Figure { src: src.into(), caption: caption.into() };
    let mut reflow_blocks = vec![Block::Link {
        href: "reflow/index.html".into(),
        label: "The full reflow report (key table, every figure, sample strips, records)".into(),
    }];
    for (src, caption) in [
        ("reflow/fd_generations.png", "Fréchet distance per generation and arm, at the sampler's step count."),
        ("reflow/recall_generations.png", "Recall per generation: how much of the real data the samples still cover."),
        (
            "reflow/variance_decay.png",
            "Variance per generation, with the linear-DAE prediction fitted on generation 1.",
        ),
        (
            "reflow/fd_few_step_generations.png",
            "Fréchet distance at one Euler step: the few-step gain that reflow is for.",
        ),
    ] {
        if dir.join(src).exists() {
            reflow_blocks.push(figure(src, caption));
        }
    }
    let strips: Vec<(String, String)> = ARMS
        .split(',')
        .map(|a| a.replace(":unclipped", "-unclipped"))
        .filter(|a| dir.join(format!("reflow/samples_{a}.png")).exists())
        .map(|a| (a.clone(), format!("reflow/samples_{a}.png")))
        .collect();
    if !strips.is_empty() {
        reflow_blocks.push(Block::Gallery {
            items: strips,
            caption: "Samples across generations: real images first, then generations 1, 2, … from the same noise."
                .into(),
        });
    }
    Page {
        title: "flowcollapse demo: model collapse in rectified flows".into(),
        intro: vec![
            "Generative models retrained on their own outputs lose variance and quality. Reflow, which straightens a \
             rectified flow by retraining it on its own (noise, sample) pairs, is such a loop. This page shows the \
             closed-form models first, then what actually happens to a flow trained on Fashion-MNIST (14×14) when it \
             is reflowed generation after generation, with and without real data brought back in."
                .into(),
        ],
        sections: vec![
            Section {
                heading: "Theory: closed forms and Monte Carlo".into(),
                blocks: vec![
                    figure("dae/variance_decay.png", "Linear DAE retrained on its own outputs: Replace collapses, a 50% real-data mix settles at a fixed point (lines: closed form; points: Monte Carlo with 95% intervals)."),
                    figure("gaussian/variance.png", "Gaussian refit with the unbiased estimator: the mean variance holds while the median collapses."),
                    figure("linear-reflow/variance.png", "Linear-Gaussian reflow: Reflow, RA and Accumulate in closed form and Monte Carlo."),
                ],
            },
            Section { heading: "Reflow of a trained flow".into(), blocks: reflow_blocks },
            Section { heading: "Commands".into(), blocks: vec![Block::Commands(commands)] },
        ],
    }
}
