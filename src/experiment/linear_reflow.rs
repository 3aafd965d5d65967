//! The `reflow` experiment: linear-Gaussian reflow across generations, per eigen-direction of Σ. The closed
//! form (`theory::reflow`, the population limit) always; with `--pairs N` also the Monte Carlo with N pairs
//! per generation (`sim::reflow`). Its error sources are the K-step sampler, the B time bins, the ridge γ and
//! (Monte Carlo only) the finite N.

use super::{input, ConfigError};
use crate::sim::reflow::{self as mc, McReflowGeneration, ReflowMc, ReflowSetup};
use crate::theory::gaussian::mix_real_count;
use crate::theory::reflow::{reflow, ReflowGeneration};
use crate::theory::{RealPool, Strategy};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub const DEFAULT_SPECTRUM: [f64; 2] = [4.0, 0.25];
pub const DEFAULT_EULER_STEPS: usize = 8;
pub const DEFAULT_GENERATIONS: usize = 10;
pub const DEFAULT_ALPHA: f64 = 0.5;
pub const DEFAULT_REPLICATES: usize = 32;
pub const MAX_EULER_STEPS: usize = 100_000;
pub const MAX_GENERATIONS: usize = 10_000;
pub const MAX_PAIRS: usize = 10_000_000;
pub const MAX_REPLICATES: usize = 100_000;
/// Pairs drawn in all (R · N · G · d): about 20 ns each, so this bounds a run to a few minutes.
pub const MAX_DRAWS: f64 = 1e10;
pub const CONFIDENCE_LEVEL: f64 = 0.95;

/// The `linear-reflow` parameters, defined once: each field is a flag (its help from the doc comment) and a TOML key
/// (`-` → `_`); absent means the default. [`LinearReflowParams::validate`] fills the defaults and checks every range.
#[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct LinearReflowParams {
    /// Data covariance as its eigenvalues, all > 0 [default: 4,0.25]
    #[arg(long, value_delimiter = ',', value_name = "λ1,λ2,…", conflicts_with = "cov")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub spectrum: Option<Vec<f64>>,
    /// Data covariance as a symmetric positive definite matrix in CSV (only its eigenvalues matter)
    #[arg(long, value_name = "FILE.csv")]
    pub cov: Option<PathBuf>,
    /// K: Euler steps of every model's sampler and inversion [default: 8]
    #[arg(long, value_name = "K")]
    pub euler_steps: Option<usize>,
    /// B: time bins of the fitted linear velocity [default: K]
    #[arg(long, value_name = "B")]
    pub bins: Option<usize>,
    /// γ ≥ 0: ridge penalty of each bin's least-squares fit [default: 0]
    #[arg(long, value_name = "γ")]
    pub ridge: Option<f64>,
    /// How each model's training data is built from earlier generations [default: replace, or mix when
    /// --alpha is given]
    #[arg(long, value_parser = ["replace", "mix", "accumulate"])]
    pub strategy: Option<String>,
    /// Real-data fraction α ∈ [0, 1] for mix (α = 0 is Replace); a comma list makes a sweep [default: 0.5]
    #[arg(long, value_delimiter = ',', value_name = "α[,α…]")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub alpha: Option<Vec<f64>>,
    /// Mix with fresh real samples every generation (default: one fixed real pool)
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub fresh_real: Option<bool>,
    /// Number of generations (models) [default: 10]
    #[arg(long, value_name = "G")]
    pub generations: Option<usize>,
    /// Pairs N per generation (N ≥ B); turns the Monte Carlo on
    #[arg(long, value_name = "N")]
    pub pairs: Option<usize>,
    /// Independent Monte Carlo replicates, at least 2 [default: 32]
    #[arg(long, value_name = "R")]
    pub replicates: Option<usize>,
    /// Seed of the Monte Carlo (same seed, same numbers, whatever the thread count) [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
}

impl LinearReflowParams {
    pub fn validate(&self) -> Result<LinearReflowConfig, ConfigError> {
        let covariance = input::covariance(self.spectrum.as_deref(), self.cov.as_deref(), &DEFAULT_SPECTRUM)?;
        let spectrum = covariance.eigenvalues().to_vec();
        if let Some(&smallest) = spectrum.last() {
            if smallest <= 0.0 {
                let field = if self.cov.is_some() { "cov" } else { "spectrum" };
                return Err(ConfigError::invalid(
                    field,
                    format!("a covariance with eigenvalue {smallest}"),
                    "a positive definite Σ (every eigenvalue > 0): variance ratios divide by λ",
                ));
            }
        }
        let steps = self.euler_steps.unwrap_or(DEFAULT_EULER_STEPS);
        if !(1..=MAX_EULER_STEPS).contains(&steps) {
            return Err(ConfigError::invalid("euler-steps", steps, format!("1 to {MAX_EULER_STEPS}")));
        }
        let bins = self.bins.unwrap_or(steps);
        if !(1..=MAX_EULER_STEPS).contains(&bins) {
            return Err(ConfigError::invalid("bins", bins, format!("1 to {MAX_EULER_STEPS}")));
        }
        let ridge = self.ridge.unwrap_or(0.0);
        if !(ridge.is_finite() && ridge >= 0.0) {
            return Err(ConfigError::invalid("ridge", ridge, "a finite γ ≥ 0"));
        }
        // Without a choice, compare the three: Reflow, RA at α = 0.5 on one fixed real set (the paper's
        // setting: a finite dataset, re-inverted by every model), Accumulate.
        let strategies = if self.strategy.is_none() && self.alpha.is_none() && self.fresh_real.is_none() {
            vec![Strategy::Replace, Strategy::Mix { alpha: DEFAULT_ALPHA, pool: RealPool::Fixed }, Strategy::Accumulate]
        } else {
            input::strategies(
                self.strategy.as_deref(),
                self.alpha.as_deref(),
                self.fresh_real.unwrap_or(false),
                DEFAULT_ALPHA,
            )?
        };
        let generations = self.generations.unwrap_or(DEFAULT_GENERATIONS);
        if !(1..=MAX_GENERATIONS).contains(&generations) {
            return Err(ConfigError::invalid("generations", generations, format!("1 to {MAX_GENERATIONS}")));
        }
        // Every generation keeps its fitted gains: B values per direction and series.
        let kept = 8.0 * (strategies.len() * spectrum.len() * (generations + 1) * bins) as f64;
        let what = format!("{generations} generations keep B = {bins} gains per direction and series");
        super::memory::check("generations", kept, &what)?;
        let replicates = self.replicates.unwrap_or(DEFAULT_REPLICATES);
        if !(2..=MAX_REPLICATES).contains(&replicates) {
            return Err(ConfigError::invalid("replicates", replicates, format!("2 to {MAX_REPLICATES}")));
        }
        let monte_carlo = match self.pairs {
            None => None,
            Some(pairs) => {
                if !(bins..=MAX_PAIRS).contains(&pairs) {
                    return Err(ConfigError::invalid(
                        "pairs",
                        pairs,
                        format!("{bins} to {MAX_PAIRS} (at least one pair per time bin)"),
                    ));
                }
                let draws = (replicates * pairs * generations * spectrum.len()) as f64;
                if draws > MAX_DRAWS {
                    return Err(ConfigError::invalid(
                        "pairs",
                        pairs,
                        format!(
                            "at most {} with {replicates} replicates, {generations} generations and {} directions \
                             (replicates × pairs × generations × directions ≤ {MAX_DRAWS:e})",
                            (MAX_DRAWS / (replicates * generations * spectrum.len()) as f64) as usize,
                            spectrum.len()
                        ),
                    ));
                }
                // RA's two sources are spread over the bins separately (pair i of a source in bin i mod B): each
                // must fill every bin, or some bin's fit is 0/0 or misses a source the closed form has there.
                for strategy in &strategies {
                    if let Strategy::Mix { alpha, .. } = *strategy {
                        let fills = |n: usize| {
                            let real = mix_real_count(alpha, n);
                            // α > 0 must give RA real pairs (else its Monte Carlo is Reflow under RA's name).
                            let real_fills = if alpha > 0.0 { real >= bins } else { real == 0 };
                            real_fills && (n - real == 0 || n - real >= bins)
                        };
                        if !fills(pairs) {
                            let least = (pairs..=MAX_PAIRS).find(|&n| fills(n));
                            let real = mix_real_count(alpha, pairs);
                            return Err(ConfigError::invalid(
                                "pairs",
                                pairs,
                                format!(
                                    "at least {} for RA α = {alpha} with B = {bins} time bins: its {real} real and {} \
                                     synthetic pairs (round(αN) and N − round(αN)) must each fill every bin",
                                    least.map_or("more".to_string(), |n| n.to_string()),
                                    pairs - real
                                ),
                            ));
                        }
                    }
                }
                Some(ReflowMc { pairs, replicates, seed: self.seed.unwrap_or(0) })
            }
        };
        Ok(LinearReflowConfig { spectrum, steps, bins, ridge, strategies, generations, monte_carlo })
    }
}

/// A validated `reflow` run: one series per strategy.
#[derive(Clone, Debug)]
pub struct LinearReflowConfig {
    /// Eigenvalues of Σ, largest first.
    pub spectrum: Vec<f64>,
    pub steps: usize,
    pub bins: usize,
    pub ridge: f64,
    pub strategies: Vec<Strategy>,
    pub generations: usize,
    pub monte_carlo: Option<ReflowMc>,
}

/// The paper's name for each strategy's reflow: Reflow (Replace), RA (Mix with inverted real data),
/// and Accumulate.
pub fn label(strategy: Strategy) -> String {
    match strategy {
        Strategy::Replace => "Reflow".into(),
        Strategy::Mix { alpha, pool } => {
            let pool = if pool == RealPool::Fresh { "fresh" } else { "fixed pool" };
            match strategy.same_as() {
                Some(same) => format!("RA α={alpha} ({pool}, = {same})"),
                None => format!("RA α={alpha} ({pool})"),
            }
        }
        Strategy::Accumulate => "Accumulate".into(),
    }
}

/// What one series produced.
#[derive(Clone, Debug)]
pub struct LinearReflowOutcome {
    pub strategy: Strategy,
    pub label: String,
    /// Closed form per direction (same order as the spectrum), generations 0…G.
    pub closed_form: Vec<Vec<ReflowGeneration>>,
    /// Monte Carlo summaries, generations 0…G, when it ran.
    pub monte_carlo: Option<Vec<McReflowGeneration>>,
}

impl LinearReflowOutcome {
    /// `Σ_i β_{k,i}² / Σ_i λ_i` of the closed form at generation k.
    pub fn trace_ratio(&self, spectrum: &[f64], k: usize) -> f64 {
        let generated: f64 = self.closed_form.iter().map(|d| d[k].forward_gain.powi(2)).sum();
        generated / spectrum.iter().sum::<f64>()
    }
}

/// Run every series (the series index separates the Monte Carlo streams).
pub fn run(config: &LinearReflowConfig) -> Vec<LinearReflowOutcome> {
    config
        .strategies
        .iter()
        .enumerate()
        .map(|(index, &strategy)| {
            let closed_form = config
                .spectrum
                .iter()
                .map(|&lambda| reflow(lambda, config.steps, config.bins, config.ridge, strategy, config.generations))
                .collect();
            let monte_carlo = config.monte_carlo.map(|m| {
                let setup = ReflowSetup {
                    spectrum: config.spectrum.clone(),
                    steps: config.steps,
                    bins: config.bins,
                    ridge: config.ridge,
                    strategy,
                    generations: config.generations,
                };
                mc::run(&setup, &m, index as u64, CONFIDENCE_LEVEL)
            });
            LinearReflowOutcome { strategy, label: label(strategy), closed_form, monte_carlo }
        })
        .collect()
}

/// One series, direction and generation. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinearReflowRecord {
    pub series: String,
    pub strategy: &'static str,
    pub alpha: Option<f64>,
    pub fresh_real: Option<bool>,
    pub same_as: Option<&'static str>,
    pub euler_steps: usize,
    pub bins: usize,
    pub ridge: f64,
    /// N pairs per generation of the Monte Carlo (null without it).
    pub pairs: Option<usize>,
    /// Index of the eigen-direction (largest λ first) and its variance λ.
    pub direction: usize,
    pub lambda: f64,
    pub generation: usize,
    /// β_k² / λ of the closed form: the variance model k generates over the real one.
    pub variance_ratio: f64,
    /// β_k: model k's K forward Euler steps map z to β_k z.
    pub forward_gain: f64,
    /// ρ_k: its K reverse steps map x to ρ_k x (the exact inverse is 1/√λ).
    pub reverse_gain: f64,
    /// `Σ_i β_{k,i}² / Σ_i λ_i` over all directions (the same in every direction's row).
    pub trace_ratio: f64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub mc: Option<LinearReflowMcColumns>,
}

/// Monte Carlo columns: replicate mean with its confidence interval, and 5–50–95% quantiles across replicates.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LinearReflowMcColumns {
    pub mc_variance_ratio_mean: f64,
    pub mc_variance_ratio_lo: f64,
    pub mc_variance_ratio_hi: f64,
    pub mc_variance_ratio_q05: f64,
    pub mc_variance_ratio_median: f64,
    pub mc_variance_ratio_q95: f64,
    pub mc_reverse_gain_mean: f64,
    pub mc_trace_ratio_mean: f64,
    pub mc_trace_ratio_lo: f64,
    pub mc_trace_ratio_hi: f64,
}

/// Flatten the outcomes: series by series, direction by direction, generation 0 first.
pub fn records(config: &LinearReflowConfig, outcomes: &[LinearReflowOutcome]) -> Vec<LinearReflowRecord> {
    let mut out = Vec::new();
    for o in outcomes {
        for (direction, (&lambda, path)) in config.spectrum.iter().zip(&o.closed_form).enumerate() {
            for g in path {
                let k = g.generation;
                let mc = o.monte_carlo.as_ref().map(|m| {
                    let (v, tr) = (&m[k].variance_ratio[direction], &m[k].trace_ratio);
                    LinearReflowMcColumns {
                        mc_variance_ratio_mean: v.mean.mean,
                        mc_variance_ratio_lo: v.mean.lo,
                        mc_variance_ratio_hi: v.mean.hi,
                        mc_variance_ratio_q05: v.q05,
                        mc_variance_ratio_median: v.median,
                        mc_variance_ratio_q95: v.q95,
                        mc_reverse_gain_mean: m[k].reverse_gain[direction].mean,
                        mc_trace_ratio_mean: tr.mean.mean,
                        mc_trace_ratio_lo: tr.mean.lo,
                        mc_trace_ratio_hi: tr.mean.hi,
                    }
                });
                out.push(LinearReflowRecord {
                    series: o.label.clone(),
                    strategy: o.strategy.name(),
                    alpha: o.strategy.alpha(),
                    fresh_real: match o.strategy {
                        Strategy::Mix { pool, .. } => Some(pool == RealPool::Fresh),
                        _ => None,
                    },
                    same_as: o.strategy.same_as(),
                    euler_steps: config.steps,
                    bins: config.bins,
                    ridge: config.ridge,
                    pairs: config.monte_carlo.map(|m| m.pairs),
                    direction,
                    lambda,
                    generation: k,
                    variance_ratio: g.variance_ratio,
                    forward_gain: g.forward_gain,
                    reverse_gain: g.reverse_gain,
                    trace_ratio: o.trace_ratio(&config.spectrum, k),
                    mc,
                });
            }
        }
    }
    out
}

impl super::input::Params for LinearReflowParams {}
