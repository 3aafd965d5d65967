//! The `flow` experiment: exact rectified flow N(0, I) → N(m, Σ) and what K-step solvers make of it.
//! Everything here is closed form (`theory::flow`); nothing is sampled.

use super::{input, ConfigError};
use crate::theory::flow::{self, Solver};
use crate::theory::Covariance;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Default target spectrum: one stretched and one squeezed direction (proofs/flow-*.md's λ = 4 and 1/4).
pub const DEFAULT_SPECTRUM: [f64; 2] = [4.0, 0.25];
pub const DEFAULT_EULER_STEPS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
pub const MAX_EULER_STEPS: usize = 1_000_000;

/// The `flow` parameters, defined once: each field is a flag (its help from the doc comment) and a TOML key
/// (`-` → `_`); absent means the default. [`FlowParams::validate`] fills the defaults and checks every range.
#[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct FlowParams {
    /// Target covariance as its eigenvalues, all > 0 [default: 4,0.25]
    #[arg(long, value_delimiter = ',', value_name = "λ1,λ2,…", conflicts_with = "cov")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub spectrum: Option<Vec<f64>>,
    /// Target covariance as a symmetric positive definite matrix in CSV (one row per line)
    #[arg(long, value_name = "FILE.csv")]
    pub cov: Option<PathBuf>,
    /// Target mean m, one value per dimension [default: 0]
    #[arg(long, value_delimiter = ',', value_name = "m1,m2,…")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub mean: Option<Vec<f64>>,
    /// Solver step counts K to report [default: 1,2,4,8,16,32,64]
    #[arg(long, value_delimiter = ',', value_name = "K[,K…]")]
    pub euler_steps: Option<Vec<usize>>,
}

impl FlowParams {
    pub fn validate(&self) -> Result<FlowConfig, ConfigError> {
        let covariance = input::covariance(self.spectrum.as_deref(), self.cov.as_deref(), &DEFAULT_SPECTRUM)?;
        // Inversion divides by √λ: the target must be non-degenerate.
        if let Some(&smallest) = covariance.eigenvalues().last() {
            if smallest <= 0.0 {
                let field = if self.cov.is_some() { "cov" } else { "spectrum" };
                return Err(ConfigError::invalid(
                    field,
                    format!("a covariance with eigenvalue {smallest}"),
                    "a positive definite Σ (every eigenvalue > 0): inversion divides by √λ",
                ));
            }
        }
        let d = covariance.dim();
        let mean = match &self.mean {
            None => DVector::zeros(d),
            Some(m) if m.len() != d => {
                return Err(ConfigError::invalid(
                    "mean",
                    format!("{} values", m.len()),
                    format!("{d} values (one per dimension of Σ)"),
                ))
            }
            Some(m) => {
                if let Some(bad) = m.iter().find(|v| !v.is_finite()) {
                    return Err(ConfigError::invalid("mean", bad, "finite numbers"));
                }
                DVector::from_column_slice(m)
            }
        };
        let euler_steps = self.euler_steps.clone().unwrap_or_else(|| DEFAULT_EULER_STEPS.to_vec());
        if euler_steps.is_empty() {
            return Err(ConfigError::invalid("euler-steps", "an empty list", "at least one step count"));
        }
        if let Some(&bad) = euler_steps.iter().find(|&&k| !(1..=MAX_EULER_STEPS).contains(&k)) {
            return Err(ConfigError::invalid("euler-steps", bad, format!("1 to {MAX_EULER_STEPS}")));
        }
        Ok(FlowConfig { covariance, mean, euler_steps })
    }
}

/// A validated `flow` run.
#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub covariance: Covariance,
    pub mean: DVector<f64>,
    pub euler_steps: Vec<usize>,
}

/// What K solver steps on the exact field give. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FlowRecord {
    pub euler_steps: usize,
    /// Velocity evaluations of K Euler steps (K).
    pub nfe: usize,
    /// `tr Σ`: what an exact sampler generates.
    pub target_trace: f64,
    /// `tr Cov` of the samples K forward Euler steps generate from N(0, I).
    pub generated_trace: f64,
    /// `generated_trace / target_trace` (below 1: the few-step blur).
    pub generated_trace_ratio: f64,
    /// The same for Heun with K steps (2K − 1 evaluations).
    pub heun_generated_trace: f64,
    /// `tr Cov` of real data inverted by K reverse Euler steps; the exact inverse gives d.
    pub inverted_trace: f64,
    /// Smallest per-direction gain of K forward then K reverse Euler steps (1 would be exact).
    pub round_trip_gain_min: f64,
    /// rfpp straightness of the K-step Euler trajectories (mean over steps of ‖Δx/h − (x_K − x_0)‖², summed
    /// over coordinates).
    pub straightness: f64,
    /// Straightness of the exact flow, `(2 − π/2) tr Σ^{1/2}` (the K → ∞ limit of `straightness`).
    pub exact_straightness: f64,
}

/// One record per requested step count.
pub fn run(config: &FlowConfig) -> Vec<FlowRecord> {
    let cov = &config.covariance;
    let target_trace = cov.trace();
    config
        .euler_steps
        .iter()
        .map(|&k| {
            let generated_trace = flow::generated_covariance(cov, k, Solver::Euler).trace();
            FlowRecord {
                euler_steps: k,
                nfe: Solver::Euler.nfe(k),
                target_trace,
                generated_trace,
                generated_trace_ratio: generated_trace / target_trace,
                heun_generated_trace: flow::generated_covariance(cov, k, Solver::Heun).trace(),
                inverted_trace: flow::inverted_covariance(cov, k, Solver::Euler).trace(),
                round_trip_gain_min: cov
                    .eigenvalues()
                    .iter()
                    .map(|&l| flow::round_trip_gain(l, k, Solver::Euler))
                    .fold(f64::INFINITY, f64::min),
                straightness: flow::euler_straightness(cov, k),
                exact_straightness: flow::straightness(cov),
            }
        })
        .collect()
}

impl super::input::Params for FlowParams {}
