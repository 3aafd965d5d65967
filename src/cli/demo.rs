//! `flowcollapse demo`: the main job on the embedded data, end to end, in well under a minute on a laptop CPU.
//!
//! 1. Train a rectified flow (1-RF) on the embedded Fashion-MNIST subset at 14×14.
//! 2. Evaluate it against held-out images for K = 1…50 Euler steps: the few-step blur on real data.
//! 3. The closed-form reflow comparison (Reflow, RA, Accumulate) for the linear-Gaussian model.
//!
//! Each step is the ordinary command with fixed arguments, so the demo is also a recipe.

use super::{failure, Failure};
use clap::Parser;
use std::path::{Path, PathBuf};

/// The three commands the demo runs, with `DIR` standing for the demo's run directory.
pub const STEPS: [&[&str]; 3] = [
    &[
        "train",
        "--downsample",
        "--hidden",
        "512,512",
        "--steps",
        "3000",
        "--lr",
        "1e-3",
        "--ema",
        "0.995",
        "--checkpoint-every",
        "1000",
        "--out",
        "DIR/train",
    ],
    &["eval", "--run", "DIR/train", "--samples", "1000", "--euler-steps", "1,2,4,8,16,50", "--out", "DIR/eval"],
    &["linear-reflow", "--euler-steps", "8", "--pairs", "2000", "--generations", "30", "--out", "DIR/linear-reflow"],
];

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Directory for the demo's three runs (must not exist, or be empty) [default: a fresh one under runs/]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run_demo(args: &DemoArgs) -> Result<(), Failure> {
    let dir = args.out.clone().unwrap_or_else(|| super::train::fresh_dir(Path::new("runs"), "demo"));
    if dir.exists() && std::fs::read_dir(&dir).map_err(|e| failure(2, e))?.next().is_some() {
        return Err(failure(2, format!("invalid out = {}: allowed a new or empty directory", dir.display())));
    }
    let root = dir.display().to_string();
    for (i, step) in STEPS.iter().enumerate() {
        let argv: Vec<String> =
            std::iter::once("flowcollapse".to_string()).chain(step.iter().map(|a| a.replace("DIR", &root))).collect();
        eprintln!("[{}/{}] {}", i + 1, STEPS.len(), argv[1..].join(" "));
        let cli = super::super::Cli::try_parse_from(&argv).map_err(|e| failure(1, e))?;
        super::super::dispatch(cli.command)?;
    }
    eprintln!(
        "demo finished: {root}/train/samples.png, {root}/eval/few_step_quality.png, {root}/linear-reflow/variance.png"
    );
    Ok(())
}
