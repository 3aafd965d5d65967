//! The `gaussian` experiment: the classic self-consuming loop (fit a Gaussian, sample from the fit, repeat)
//! in 1-D or d dimensions, closed form always and Monte Carlo over many paths when `--paths` is given.
//!
//! Every number is relative to the real distribution (σ̂²/σ², tr Σ̂/tr Σ, error/σ²), which the loop leaves
//! invariant, so the real data is N(0, I_d) without loss of generality.

use super::{input, ConfigError};
use crate::sim::gaussian::{self as mc, GaussianGeneration, GaussianSetup, McConfig, MeanInterval, SimError};
use crate::theory::gaussian::{self as closed, Estimator, ExpectedMoments};
use crate::theory::{Covariance, RealPool, Strategy};
use serde::{Deserialize, Serialize};

pub const DEFAULT_SAMPLES: usize = 20;
pub const DEFAULT_GENERATIONS: usize = 100;
pub const DEFAULT_ALPHA: f64 = 0.5;
pub const MAX_DIM: usize = 256;
pub const MAX_SAMPLES: usize = 1_000_000;
pub const MAX_GENERATIONS: usize = 100_000;
pub const MAX_PATHS: usize = 10_000_000;
/// Memory the Monte Carlo may hold for its paths' states.
pub const MAX_STATE_BYTES: usize = 4 << 30;

/// The `gaussian` parameters, defined once: each field is a flag (its help from the doc comment) and a TOML key
/// (`-` → `_`); absent means the default. [`GaussianParams::validate`] fills the defaults and checks every range.
#[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct GaussianParams {
    /// Samples n per generation (n ≥ max(2, d + 1)) [default: 20]
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Dimension d of the data [default: 1]
    #[arg(long, value_name = "D")]
    pub dim: Option<usize>,
    /// Covariance estimator: mle (1/n) or unbiased (1/(n−1)) [default: mle]
    #[arg(long, value_parser = ["mle", "unbiased"])]
    pub estimator: Option<String>,
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
    /// Number of generations [default: 100]
    #[arg(long, value_name = "G")]
    pub generations: Option<usize>,
    /// Monte Carlo paths; turns the Monte Carlo on
    #[arg(long, value_name = "P")]
    pub paths: Option<usize>,
    /// Seed of the Monte Carlo (same seed, same numbers, whatever the thread count) [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
}

impl GaussianParams {
    pub fn validate(&self) -> Result<GaussianConfig, ConfigError> {
        let dim = self.dim.unwrap_or(1);
        if !(1..=MAX_DIM).contains(&dim) {
            return Err(ConfigError::invalid("dim", dim, format!("1 to {MAX_DIM}")));
        }
        let samples = self.samples.unwrap_or(DEFAULT_SAMPLES);
        let min = (dim + 1).max(2);
        if !(min..=MAX_SAMPLES).contains(&samples) {
            return Err(ConfigError::invalid(
                "samples",
                samples,
                format!("{min} to {MAX_SAMPLES} (a covariance fit in d = {dim} needs n ≥ max(2, d + 1))"),
            ));
        }
        let estimator = match self.estimator.as_deref().unwrap_or("mle") {
            "mle" => Estimator::Mle,
            "unbiased" => Estimator::Unbiased,
            other => return Err(ConfigError::invalid("estimator", other, "mle or unbiased")),
        };
        let strategies = input::strategies(
            self.strategy.as_deref(),
            self.alpha.as_deref(),
            self.fresh_real.unwrap_or(false),
            DEFAULT_ALPHA,
        )?;
        let generations = self.generations.unwrap_or(DEFAULT_GENERATIONS);
        if !(1..=MAX_GENERATIONS).contains(&generations) {
            return Err(ConfigError::invalid("generations", generations, format!("1 to {MAX_GENERATIONS}")));
        }
        let covariance = Covariance::from_spectrum(&vec![1.0; dim]).expect("the identity is a covariance");
        let monte_carlo = match self.paths {
            None => None,
            Some(paths) => {
                if !(2..=MAX_PATHS).contains(&paths) {
                    return Err(ConfigError::invalid("paths", paths, format!("2 to {MAX_PATHS}")));
                }
                let setup = GaussianSetup {
                    covariance: covariance.clone(),
                    n: samples,
                    estimator,
                    strategy: strategies[0],
                    generations,
                };
                let per_path = mc::bytes_per_path(&setup);
                let max_paths = MAX_STATE_BYTES / per_path.max(1);
                if paths > max_paths {
                    return Err(ConfigError::invalid(
                        "paths",
                        paths,
                        format!(
                            "2 to {max_paths} for d = {dim}, n = {samples} ({per_path} bytes per path, 4 GiB in all)"
                        ),
                    ));
                }
                Some(McConfig::new(paths, self.seed.unwrap_or(0)))
            }
        };
        Ok(GaussianConfig { covariance, samples, estimator, strategies, generations, monte_carlo })
    }
}

/// A validated `gaussian` run: one series per strategy (a list of α sweeps).
#[derive(Clone, Debug)]
pub struct GaussianConfig {
    pub covariance: Covariance,
    pub samples: usize,
    pub estimator: Estimator,
    pub strategies: Vec<Strategy>,
    pub generations: usize,
    pub monte_carlo: Option<McConfig>,
}

impl GaussianConfig {
    pub fn dim(&self) -> usize {
        self.covariance.dim()
    }
}

/// What one series produced.
#[derive(Clone, Debug)]
pub struct GaussianOutcome {
    pub strategy: Strategy,
    pub label: String,
    /// Exact expected moments, generations 0…G.
    pub expected: Vec<ExpectedMoments>,
    /// Monte Carlo summaries, generations 0…G, when it ran; if it stopped early ([`Self::monte_carlo_error`]),
    /// the generations it completed (`None` if none).
    pub monte_carlo: Option<Vec<GaussianGeneration>>,
    /// Why the Monte Carlo stopped before generation G, if it did (a singular fit in d dimensions).
    pub monte_carlo_error: Option<SimError>,
}

/// One series at one generation. Field names are the `--format jsonl` contract.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GaussianRecord {
    pub series: String,
    pub generation: usize,
    pub n: usize,
    pub dim: usize,
    pub estimator: &'static str,
    pub strategy: &'static str,
    pub alpha: Option<f64>,
    pub fresh_real: Option<bool>,
    /// `E[σ̂²_k]/σ²` (d > 1: `E[tr Σ̂_k]/tr Σ`), exact.
    pub expected_variance: f64,
    /// `E[(μ̂_k − μ)²]/σ²` (d > 1: `E‖μ̂_k − m‖²/tr Σ`), exact.
    pub expected_mean_error: f64,
    /// Replace in 1-D: the mean of each generation's step of ln σ̂², `ψ((n−1)/2) + ln(2/D)` (exact); null
    /// otherwise.
    pub log_drift: Option<f64>,
    /// Replace in 1-D: `E[ln(σ̂²_k/σ²)] = k · log_drift` (exact); null otherwise.
    pub expected_log_variance: Option<f64>,
    /// Replace in 1-D: the median of σ̂²_k/σ², `exp(k·drift + δ)` (approximate, see proofs/gaussian-log-drift.md).
    pub approx_median_variance: Option<f64>,
    /// Replace in any dimension: `E[ln det Σ̂_k − ln det Σ] = k · (Σ_{i=1}^{d} ψ((n−i)/2) + d ln(2/D))`
    /// (exact, proofs/gaussian-log-drift.md; in 1-D the same as `expected_log_variance`); null otherwise.
    pub expected_log_det: Option<f64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub mc: Option<GaussianMcColumns>,
}

/// Monte Carlo columns: across paths, of σ̂²_k/σ² (or the trace ratio), its log, `ln det Σ̂_k − ln det Σ`
/// and the mean error.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GaussianMcColumns {
    pub mc_mean: f64,
    pub mc_mean_lo: f64,
    pub mc_mean_hi: f64,
    /// The interval of `mc_mean` and `mc_mean_error`: `student-t` or `bootstrap-t`. Either misses the exact
    /// mean often once the ratio is heavy-tailed (Replace after a few dozen generations); check the log there.
    pub mc_mean_interval: &'static str,
    pub mc_median: f64,
    pub mc_q05: f64,
    pub mc_q95: f64,
    /// Mean of `ln(σ̂²_k/σ²)` (d > 1: `ln(tr Σ̂_k/tr Σ)`), with its interval.
    pub mc_log_mean: f64,
    pub mc_log_mean_lo: f64,
    pub mc_log_mean_hi: f64,
    /// Mean of `ln det Σ̂_k − ln det Σ` (1-D: `mc_log_mean`), with its interval.
    pub mc_log_det_mean: f64,
    pub mc_log_det_mean_lo: f64,
    pub mc_log_det_mean_hi: f64,
    /// The interval of the two log means: always `student-t` (the logs are light-tailed).
    pub mc_log_interval: &'static str,
    pub mc_mean_error: f64,
    pub mc_mean_error_lo: f64,
    pub mc_mean_error_hi: f64,
}

fn label(strategy: Strategy) -> String {
    match strategy {
        Strategy::Mix { alpha, pool } => {
            let pool = if pool == RealPool::Fresh { "fresh" } else { "fixed pool" };
            format!("mix α={alpha} ({pool})")
        }
        other => other.name().to_string(),
    }
}

/// Run every series: closed form, then the Monte Carlo if configured (series index separates the streams).
///
/// The closed form never depends on the Monte Carlo: a Monte Carlo that stops (Mix and Accumulate in d
/// dimensions refit from a pooled covariance, whose factorisation can fail after an extreme collapse) leaves
/// its series with the closed form, the generations it completed and the error
/// ([`GaussianOutcome::monte_carlo_error`]), and the other series run on.
pub fn run(config: &GaussianConfig) -> Vec<GaussianOutcome> {
    run_observed(config, &mut || {})
}

/// [`run`], calling `generation_done` as each Monte Carlo generation of each series completes
/// (`series × (generations + 1)` calls when none stops): a progress total.
pub fn run_observed(config: &GaussianConfig, generation_done: &mut dyn FnMut()) -> Vec<GaussianOutcome> {
    config
        .strategies
        .iter()
        .enumerate()
        .map(|(index, &strategy)| {
            let expected = closed::expected_moments(config.samples, config.estimator, strategy, config.generations);
            let (monte_carlo, monte_carlo_error) = match config.monte_carlo {
                None => (None, None),
                Some(m) => {
                    let setup = GaussianSetup {
                        covariance: config.covariance.clone(),
                        n: config.samples,
                        estimator: config.estimator,
                        strategy,
                        generations: config.generations,
                    };
                    let mut completed = Vec::new();
                    let observe = |g: &GaussianGeneration| {
                        completed.push(*g);
                        generation_done();
                    };
                    match mc::run_observed(&setup, &McConfig { series: index as u64, ..m }, observe) {
                        Ok(all) => (Some(all), None),
                        Err(e) => (Some(completed).filter(|c| !c.is_empty()), Some(e)),
                    }
                }
            };
            GaussianOutcome { strategy, label: label(strategy), expected, monte_carlo, monte_carlo_error }
        })
        .collect()
}

/// Flatten the outcomes into records, series by series, generation 0 first.
pub fn records(config: &GaussianConfig, outcomes: &[GaussianOutcome]) -> Vec<GaussianRecord> {
    let (n, estimator) = (config.samples, config.estimator);
    let mut out = Vec::new();
    for o in outcomes {
        // Mix whose real share rounds to no sample is Replace.
        let replace = match o.strategy {
            Strategy::Replace => true,
            Strategy::Mix { alpha, .. } => closed::mix_real_count(alpha, n) == 0,
            Strategy::Accumulate => false,
        };
        let replace_1d = config.dim() == 1 && replace;
        for e in &o.expected {
            let k = e.generation;
            // A Monte Carlo that stopped early has no record from its failed generation on.
            let mc = o.monte_carlo.as_ref().and_then(|m| m.get(k)).map(|g| GaussianMcColumns {
                mc_mean: g.variance_ratio.mean.mean,
                mc_mean_lo: g.variance_ratio.mean.lo,
                mc_mean_hi: g.variance_ratio.mean.hi,
                mc_mean_interval: g.mean_interval.name(),
                mc_median: g.variance_ratio.median,
                mc_q05: g.variance_ratio.q05,
                mc_q95: g.variance_ratio.q95,
                mc_log_mean: g.log_variance_ratio.mean.mean,
                mc_log_mean_lo: g.log_variance_ratio.mean.lo,
                mc_log_mean_hi: g.log_variance_ratio.mean.hi,
                mc_log_det_mean: g.log_det_ratio.mean.mean,
                mc_log_det_mean_lo: g.log_det_ratio.mean.lo,
                mc_log_det_mean_hi: g.log_det_ratio.mean.hi,
                mc_log_interval: MeanInterval::StudentT.name(),
                mc_mean_error: g.mean_error.mean.mean,
                mc_mean_error_lo: g.mean_error.mean.lo,
                mc_mean_error_hi: g.mean_error.mean.hi,
            });
            out.push(GaussianRecord {
                series: o.label.clone(),
                generation: k,
                n,
                dim: config.dim(),
                estimator: estimator.name(),
                strategy: o.strategy.name(),
                alpha: o.strategy.alpha(),
                fresh_real: match o.strategy {
                    Strategy::Mix { pool, .. } => Some(pool == RealPool::Fresh),
                    _ => None,
                },
                expected_variance: e.variance_ratio,
                expected_mean_error: e.mean_error,
                log_drift: replace_1d.then(|| closed::log_drift(n, estimator)),
                expected_log_variance: replace_1d.then(|| closed::replace_expected_log_variance(1.0, n, estimator, k)),
                approx_median_variance: replace_1d.then(|| closed::replace_median_variance(1.0, n, estimator, k)),
                // (0 at k = 0, not the −0 of 0 × a negative drift.)
                expected_log_det: replace.then(|| {
                    if k == 0 {
                        0.0
                    } else {
                        k as f64 * closed::log_det_drift(n, config.dim(), estimator)
                    }
                }),
                mc,
            });
        }
    }
    out
}

impl super::input::Params for GaussianParams {}
