//! The `dae` experiment: a sweep over noise variances and strategies of the linear-DAE collapse loop,
//! closed form always, Monte Carlo when a sample size is given.

use super::{input, ConfigError};
use crate::sim::dae::{self as mc, DaeSetup, McGeneration, MonteCarlo, SimError};
use crate::theory::dae::{self as closed, GenerationSummary, MixFixedPoint};
use crate::theory::{Covariance, Rule, Strategy};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Confidence level of every Monte Carlo interval.
pub const CONFIDENCE_LEVEL: f64 = 0.95;
/// Default real spectrum: λ_i = 2^−i, i = 0…7, eight octaves of detail.
pub const DEFAULT_SPECTRUM: [f64; 8] = [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125];
pub const DEFAULT_S: f64 = 0.1;
pub const DEFAULT_ALPHA: f64 = 0.5;
pub const DEFAULT_GENERATIONS: usize = 30;
pub const DEFAULT_REPLICATES: usize = 32;
pub const DEFAULT_THRESHOLD: f64 = 0.5;
pub const MAX_GENERATIONS: usize = 1_000_000;
pub const MAX_MC_GENERATIONS: usize = 10_000;
pub const MAX_SAMPLES: usize = 10_000_000;
pub const MAX_REPLICATES: usize = 100_000;
/// How far the closed form is followed to find when the trace ratio crosses the threshold.
pub const THRESHOLD_SEARCH: usize = 100_000;

/// The `dae` parameters, defined once: each field is a flag (its help from the doc comment) and a TOML key
/// (`-` → `_`); absent means the default. [`DaeParams::validate`] fills the defaults and checks every range.
#[derive(Clone, Debug, Default, Deserialize, Serialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DaeParams {
    /// Real covariance as its eigenvalues, e.g. 3,1,0.2 [default: 1,0.5,…,2⁻⁷]
    #[arg(long, value_delimiter = ',', value_name = "λ1,λ2,…", conflicts_with = "cov")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub spectrum: Option<Vec<f64>>,
    /// Real covariance as a symmetric positive semi-definite matrix in CSV (one row per line)
    #[arg(long, value_name = "FILE.csv")]
    pub cov: Option<PathBuf>,
    /// Denoising noise variance s = σ² > 0; a comma list makes a sweep [default: 0.1]
    #[arg(long, value_delimiter = ',', value_name = "S[,S…]")]
    #[serde(default, deserialize_with = "input::one_or_many")]
    pub s: Option<Vec<f64>>,
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
    /// noisy: generation k = f_k(x + σε); clean: f_k(x) [default: noisy]
    #[arg(long, value_parser = ["noisy", "clean"])]
    pub rule: Option<String>,
    /// Number of generations [default: 30]
    #[arg(long, value_name = "G")]
    pub generations: Option<usize>,
    /// Samples per generation; turns the Monte Carlo on (n ≥ d + 2)
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Independent Monte Carlo replicates [default: 32]
    #[arg(long, value_name = "R")]
    pub replicates: Option<usize>,
    /// Seed of the Monte Carlo (same seed, same numbers, whatever the thread count) [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Report the first generation whose trace ratio falls below this [default: 0.5]
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Log scale on the y axis of the per-generation plots
    #[arg(long, num_args = 0, default_missing_value = "true")]
    pub log_y: Option<bool>,
    /// Generation whose spectrum is plotted against the real one [default: the last]
    #[arg(long, value_name = "K")]
    pub spectrum_generation: Option<usize>,
}

impl DaeParams {
    /// Check every value once; the result is immutable.
    pub fn validate(&self) -> Result<DaeConfig, ConfigError> {
        let covariance = input::covariance(self.spectrum.as_deref(), self.cov.as_deref(), &DEFAULT_SPECTRUM)?;

        let s_values = self.s.clone().unwrap_or_else(|| vec![DEFAULT_S]);
        input::non_empty("s", &s_values)?;
        for &s in &s_values {
            if !(s.is_finite() && s > 0.0) {
                return Err(ConfigError::invalid("s", s, "finite values > 0"));
            }
        }

        let strategies = input::strategies(
            self.strategy.as_deref(),
            self.alpha.as_deref(),
            self.fresh_real.unwrap_or(false),
            DEFAULT_ALPHA,
        )?;

        let rule = match self.rule.as_deref().unwrap_or("noisy") {
            "noisy" => Rule::Noisy,
            "clean" => Rule::Clean,
            other => return Err(ConfigError::invalid("rule", other, "noisy or clean")),
        };

        let generations = self.generations.unwrap_or(DEFAULT_GENERATIONS);
        let max_generations = if self.samples.is_some() { MAX_MC_GENERATIONS } else { MAX_GENERATIONS };
        if !(1..=max_generations).contains(&generations) {
            let why = if self.samples.is_some() { " with the Monte Carlo on" } else { "" };
            return Err(ConfigError::invalid("generations", generations, format!("1 to {max_generations}{why}")));
        }

        let replicates = self.replicates.unwrap_or(DEFAULT_REPLICATES);
        let monte_carlo = match self.samples {
            None => {
                if self.replicates.is_some() {
                    return Err(ConfigError::invalid(
                        "replicates",
                        replicates,
                        "only with --samples N (which turns the Monte Carlo on)",
                    ));
                }
                None
            }
            Some(samples) => {
                let min = mc::min_samples(covariance.dim());
                if !(min..=MAX_SAMPLES).contains(&samples) {
                    return Err(ConfigError::invalid(
                        "samples",
                        samples,
                        format!(
                            "{min} to {MAX_SAMPLES} (the least-squares fit of W and b in d = {} dimensions needs n ≥ d + 2)",
                            covariance.dim()
                        ),
                    ));
                }
                if !(2..=MAX_REPLICATES).contains(&replicates) {
                    return Err(ConfigError::invalid("replicates", replicates, format!("2 to {MAX_REPLICATES}")));
                }
                Some(MonteCarlo { samples, replicates, seed: self.seed.unwrap_or(0) })
            }
        };

        let threshold = self.threshold.unwrap_or(DEFAULT_THRESHOLD);
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(ConfigError::invalid("threshold", threshold, "a trace ratio in (0, 1)"));
        }
        let spectrum_generation = self.spectrum_generation.unwrap_or(generations);
        if spectrum_generation > generations {
            return Err(ConfigError::invalid(
                "spectrum-generation",
                spectrum_generation,
                format!("0 to {generations} (the number of generations)"),
            ));
        }

        let series: Vec<SeriesSpec> =
            s_values.iter().flat_map(|&s| strategies.iter().map(move |&strategy| SeriesSpec { s, strategy })).collect();
        if let Some(m) = &monte_carlo {
            // Replicates run side by side, one per worker thread.
            let accumulate = series.iter().any(|x| x.strategy == Strategy::Accumulate);
            let at_once = m.replicates.min(rayon::current_num_threads()) as f64;
            let d = covariance.dim();
            let bytes = at_once * mc::replicate_bytes(m.samples, d, generations, accumulate);
            let what = format!("{at_once} replicates at once of {} samples × {d} dimensions", m.samples);
            super::memory::check("samples", bytes, &what)?;
        }
        Ok(DaeConfig {
            covariance,
            series,
            rule,
            generations,
            monte_carlo,
            seed: self.seed.unwrap_or(0),
            threshold,
            log_y: self.log_y.unwrap_or(false),
            spectrum_generation,
        })
    }
}

/// One curve of a sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesSpec {
    pub s: f64,
    pub strategy: Strategy,
}

impl SeriesSpec {
    /// A label that tells the series of a sweep apart.
    pub fn label(&self, sweep_over_s: bool) -> String {
        let strategy = match (self.strategy, self.strategy.same_as()) {
            (Strategy::Mix { alpha, .. }, Some(same)) => format!("mix α={alpha} (= {same})"),
            (Strategy::Mix { alpha, .. }, None) => format!("mix α={alpha}"),
            (other, _) => other.name().to_string(),
        };
        if sweep_over_s {
            format!("{strategy} at s={}", self.s)
        } else {
            strategy
        }
    }
}

impl DaeConfig {
    /// How many replicate generations the Monte Carlo computes in all (0 without it): a progress total.
    pub fn monte_carlo_generations(&self) -> u64 {
        self.monte_carlo.map_or(0, |m| (self.series.len() * m.replicates * self.generations) as u64)
    }
}

/// A validated `dae` run.
#[derive(Clone, Debug)]
pub struct DaeConfig {
    pub covariance: Covariance,
    pub series: Vec<SeriesSpec>,
    pub rule: Rule,
    pub generations: usize,
    pub monte_carlo: Option<MonteCarlo>,
    pub seed: u64,
    pub threshold: f64,
    pub log_y: bool,
    pub spectrum_generation: usize,
}

/// Everything one series of the sweep produced.
#[derive(Clone, Debug)]
pub struct SeriesOutcome {
    pub spec: SeriesSpec,
    pub label: String,
    /// Closed form, generations 0…G.
    pub closed_form: Vec<GenerationSummary>,
    /// Monte Carlo, generations 0…G, when it ran.
    pub monte_carlo: Option<Vec<McGeneration>>,
    /// Closed-form generated spectrum at `spectrum_generation` (one value per real eigenvalue).
    pub spectrum: Vec<f64>,
    /// First generation whose closed-form trace ratio is below the threshold (searched up to [`THRESHOLD_SEARCH`]).
    pub generations_to_threshold: Option<usize>,
    /// Per-direction fixed points for Mix with α > 0.
    pub fixed_points: Option<Vec<MixFixedPoint>>,
}

/// Run every series: closed form, then the Monte Carlo if configured.
pub fn run(config: &DaeConfig) -> Result<Vec<SeriesOutcome>, SimError> {
    run_observed(config, &|| {})
}

/// [`run`], calling `generation_done` each time a Monte Carlo replicate finishes a generation
/// ([`DaeConfig::monte_carlo_generations`] calls in all).
pub fn run_observed(config: &DaeConfig, generation_done: &(dyn Fn() + Sync)) -> Result<Vec<SeriesOutcome>, SimError> {
    let lambda = config.covariance.eigenvalues();
    let sweep_over_s = config.series.iter().any(|x| x.s != config.series[0].s);
    config
        .series
        .iter()
        .enumerate()
        .map(|(index, &spec)| {
            let closed_form = closed::summaries(lambda, spec.s, spec.strategy, config.rule, config.generations);
            let mut recursion = closed::DaeRecursion::new(lambda, spec.s, spec.strategy, config.rule);
            for _ in 0..config.spectrum_generation {
                recursion.step();
            }
            let monte_carlo = config
                .monte_carlo
                .map(|m| {
                    let setup = DaeSetup {
                        covariance: &config.covariance,
                        s: spec.s,
                        strategy: spec.strategy,
                        rule: config.rule,
                        generations: config.generations,
                    };
                    mc::run_observed(&setup, &m, index as u64, CONFIDENCE_LEVEL, generation_done)
                })
                .transpose()?;
            let fixed_points = match spec.strategy {
                Strategy::Mix { alpha, .. } if alpha > 0.0 => {
                    Some(lambda.iter().map(|&l| closed::mix_fixed_point(l, spec.s, alpha, config.rule)).collect())
                }
                _ => None,
            };
            Ok(SeriesOutcome {
                spec,
                label: spec.label(sweep_over_s),
                closed_form,
                monte_carlo,
                spectrum: recursion.generated().to_vec(),
                generations_to_threshold: closed::generations_until_trace_ratio_below(
                    lambda,
                    spec.s,
                    spec.strategy,
                    config.rule,
                    config.threshold,
                    THRESHOLD_SEARCH,
                ),
                fixed_points,
            })
        })
        .collect()
}

impl super::input::Params for DaeParams {}
