//! Monte Carlo of the Gaussian refit loop (proofs/gaussian-*.md; closed forms in `theory::gaussian`).
//!
//! Each path is one run of the loop: model k (k ≥ 1) fits mean and covariance with an [`Estimator`] to its
//! training set, built by the [`Strategy`] from generations 0…k−1, and generation k is n samples from the
//! fit. Generation 0 is n samples of the real distribution N(m, Σ); "model 0" is that distribution itself.
//!
//! | strategy          | training set of model k                                                          |
//! |-------------------|----------------------------------------------------------------------------------|
//! | Replace           | the n samples of generation k−1                                                  |
//! | Accumulate        | the k·n samples of generations 0…k−1                                             |
//! | Mix α, fresh pool | r = round(αn) new real samples, then the last n − r samples of generation k−1    |
//! | Mix α, fixed pool | the first r samples of generation 0, then the last n − r samples of generation k−1 |
//!
//! So model 1 always fits n real samples (for a fixed pool, exactly generation 0). Samples that no model
//! ever sees (the first r of each generation under Mix) are not drawn: they change nothing.
//!
//! # What is reported
//! For every generation k = 0…G, across paths ([`GaussianGeneration`]): the variance ratio
//! `σ̂²_k / σ²` (`tr Σ̂_k / tr Σ` in d dimensions) with mean, standard deviation, 5% quantile, median and
//! 95% quantile; the mean of its log; the mean of `ln det Σ̂_k − ln det Σ`; and the mean squared error of
//! the mean, `(μ̂_k − μ)²/σ²` (`‖μ̂_k − m‖² / tr Σ`). Generation 0 is the real distribution: ratio 1,
//! logs 0, error 0.
//!
//! # Which interval each mean carries
//! The means of the logs always carry a Student-t interval
//! ([`mean_interval`](super::stats::mean_interval)): under Replace `ln σ̂²_k` is a sum of independent log-χ²
//! steps, light-tailed, and the interval covers at its level however long the collapse (tested at n = 10,
//! k = 60). The means of the variance ratio and of the mean error carry the interval named by
//! [`McConfig::mean_interval`] and recorded in [`GaussianGeneration::mean_interval`]: Student-t by
//! default, or the bootstrap-t ([`bootstrap_t_interval`](super::stats::bootstrap_t_interval)).
//!
//! Under Replace the variance ratio is heavy-tailed (its log has variance k·ψ′((n−1)/2)): its mean is
//! carried by rare paths, and once those are too rare to be among the P paths no interval built from the
//! paths covers it (Bahadur and Savage, 1956). Measured for MLE, n = 10, P = 20 000, over 100 independent
//! runs each: the Student-t interval misses the exact mean 0.9^k in 9 runs at k = 24, 37 at k = 60 and 67
//! at k = 100, always from below; the bootstrap-t (999 resamples) in 5, 17 and 45. There the reliable
//! check is the exact mean of the log,
//! [`theory::gaussian::replace_expected_log_variance`](crate::theory::gaussian::replace_expected_log_variance)
//! (and `k ·` [`log_det_drift`](crate::theory::gaussian::log_det_drift) for `ln det` in d dimensions).
//!
//! # How
//! Generations form the outer loop and all paths' states are kept (about 120 bytes per path in 1-D, see
//! [`bytes_per_path`]), so quantiles are exact order statistics of the paths' values, and nothing of size
//! paths × generations is stored. Path p draws from its own Xoshiro256++ stream seeded with
//! [`stream_seed`]`(seed, series, p)`; paths are processed in parallel in fixed blocks and every
//! cross-path statistic is a sequential pass in path order, so the numbers are bit-identical for every
//! thread count.
//!
//! The loop is affine-equivariant (the fit of `m + L x` is `m + L·(fit of x)`), so a path runs in
//! standardised coordinates: real data N(0, I_ρ) on Σ's support (ρ = rank Σ), mapped back through
//! `Σ = Q diag(λ) Qᵀ` only in the reported numbers. In 1-D (and whenever ρ = 1) a model N(μ̂, σ̂²) draws
//! its n samples as `x_i = μ̂ + σ̂ z_i` from standard normals z_i, and the fit uses the identities
//! `x̄ = μ̂ + σ̂ z̄`, `Σ(x_i − x̄)² = σ̂² Σ(z_i − z̄)²`; under Replace `ln σ̂²` is carried alongside σ̂² and
//! updated by adding `ln(Σ(z_i − z̄)²/D)`, so the log stays exact however long the collapse runs (σ̂²
//! itself may underflow to 0). Training sets made of several groups (Mix,
//! Accumulate) are combined exactly by the pooled mean and sum of squares (Chan et al.'s update). In d
//! dimensions Replace carries the Cholesky factor forward (`L_k = L_{k−1} C_k`, C_k the factor of a
//! standard Wishart draw) and `ln det` alongside it, so a long collapse never factors an ill-conditioned
//! matrix; Mix and Accumulate refit from the pooled covariance, which real data or the pool keep
//! well-conditioned (a failure there is [`SimError::SingularFit`]).
//!
//! [`Sampling::Sufficient`] (1-D only) replaces the n normal draws of a group by its exact sufficient
//! statistics, `z̄ ~ N(0, 1/m)` and `Σ(z_i − z̄)² ~ χ²_{m−1}`, independent: the same law, several times
//! faster; [`Sampling::Samples`] is the reference.

use super::dae::stream_seed;
use super::stats::{moments, spread};
pub use super::stats::{MeanInterval, Moments, Spread};
use crate::theory::gaussian::{mix_real_count, Estimator};
use crate::theory::{Covariance, CovarianceError, RealPool, Strategy};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What is simulated: the real distribution, the loop's sizes and its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianSetup {
    /// Σ of the real data (σ² as a 1 × 1 covariance in 1-D, see [`GaussianSetup::one_dim`]). Its mean is
    /// irrelevant: every reported number is invariant under translation.
    pub covariance: Covariance,
    /// n: samples per generation. At least [`GaussianSetup::min_samples`].
    pub n: usize,
    pub estimator: Estimator,
    /// Mix needs α ∈ [0, 1]; its real part is r = round(αn) samples (α = 0 or r = 0 is Replace).
    pub strategy: Strategy,
    /// G: generations after the real data; records run from 0 to G.
    pub generations: usize,
}

impl GaussianSetup {
    /// A 1-D setup with real variance `sigma2` (finite and > 0).
    pub fn one_dim(
        sigma2: f64,
        n: usize,
        estimator: Estimator,
        strategy: Strategy,
        generations: usize,
    ) -> Result<Self, SimError> {
        if !(sigma2.is_finite() && sigma2 > 0.0) {
            return Err(SimError::BadVariance { sigma2 });
        }
        let covariance = Covariance::from_spectrum(&[sigma2])?;
        Ok(Self { covariance, n, estimator, strategy, generations })
    }

    /// Dimension d of the data.
    pub fn dim(&self) -> usize {
        self.covariance.dim()
    }

    /// ρ = rank Σ: the dimension the loop really runs in. Directions with eigenvalue 0 carry no variance
    /// in any generation. Eigenvalues up to [`RANK_TOLERANCE`] × the largest count as 0 (a rank-deficient Σ
    /// given as a rotated matrix has rounding-level eigenvalues in place of its zeros).
    pub fn rank(&self) -> usize {
        support(&self.covariance).len()
    }

    /// The smallest n for which every fitted covariance is non-singular (almost surely): `max(2, ρ + 1)`.
    pub fn min_samples(&self) -> usize {
        (self.rank() + 1).max(2)
    }

    /// Real samples in each Mix training set, r = round(αn); 0 for Replace and Accumulate.
    pub fn real_count(&self) -> usize {
        match self.strategy {
            Strategy::Mix { alpha, .. } => mix_real_count(alpha, self.n),
            _ => 0,
        }
    }

    /// Check the setup: n ≥ [`min_samples`](Self::min_samples), α ∈ [0, 1].
    pub fn validate(&self) -> Result<(), SimError> {
        let min = self.min_samples();
        if self.n < min {
            return Err(SimError::TooFewSamples { n: self.n, min });
        }
        if let Strategy::Mix { alpha, .. } = self.strategy {
            if !(0.0..=1.0).contains(&alpha) {
                return Err(SimError::BadAlpha { alpha });
            }
        }
        Ok(())
    }
}

/// Relative size below which an eigenvalue of Σ counts as 0 (see [`GaussianSetup::rank`]).
pub const RANK_TOLERANCE: f64 = 1e-9;

/// The eigenvalues of Σ's support, largest first.
fn support(covariance: &Covariance) -> Vec<f64> {
    let eigenvalues = covariance.eigenvalues();
    let threshold = RANK_TOLERANCE * eigenvalues[0];
    eigenvalues.iter().copied().filter(|&l| l > threshold).collect()
}

/// How a group of m samples from a fitted model enters the next fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Draw the m samples (the reference).
    #[default]
    Samples,
    /// Draw only their exact sufficient statistics, `z̄ ~ N(0, 1/m)` and `Σ(z_i − z̄)² ~ χ²_{m−1}`
    /// (1-D and rank-1 Σ only): the same law, several times faster for large n.
    Sufficient,
}

impl Sampling {
    /// The lower-case name used in records and on the command line (`samples`, `sufficient`).
    pub fn name(&self) -> &'static str {
        match self {
            Sampling::Samples => "samples",
            Sampling::Sufficient => "sufficient",
        }
    }
}

/// Size, seed and reporting of a Monte Carlo run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct McConfig {
    /// P: independent paths, at least 2. 10⁶ paths take about 120 MB in 1-D ([`bytes_per_path`]).
    pub paths: usize,
    pub seed: u64,
    /// Separates the streams of the series of a sweep (path p of series s uses `stream_seed(seed, s, p)`).
    pub series: u64,
    /// Level of the confidence intervals for means, in (0, 1).
    pub level: f64,
    pub sampling: Sampling,
    /// The interval of the means of the variance ratio and the mean error (the logs' means always carry a
    /// Student-t interval). A bootstrap costs `resamples × paths` draws per generation and quantity.
    pub mean_interval: MeanInterval,
}

impl McConfig {
    /// `paths` paths under `seed`: series 0, 95% Student-t intervals, sampled draws.
    pub fn new(paths: usize, seed: u64) -> Self {
        Self { paths, seed, series: 0, level: 0.95, sampling: Sampling::Samples, mean_interval: MeanInterval::StudentT }
    }
}

/// Why a run cannot be done.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    #[error("n = {n} samples per generation is too small: the covariance fit needs n ≥ {min}")]
    TooFewSamples { n: usize, min: usize },
    #[error("alpha = {alpha} is not a real-data fraction: allowed range [0, 1]")]
    BadAlpha { alpha: f64 },
    #[error("sigma2 = {sigma2} is not a variance: it must be finite and > 0")]
    BadVariance { sigma2: f64 },
    #[error(transparent)]
    Covariance(#[from] CovarianceError),
    #[error("paths = {paths}: at least 2 paths are needed for a confidence interval")]
    TooFewPaths { paths: usize },
    #[error("confidence level {level} is outside (0, 1)")]
    BadLevel { level: f64 },
    #[error("a bootstrap interval needs at least one resample")]
    NoResamples,
    #[error("sufficient-statistics sampling is implemented for a rank-1 covariance only, got rank {rank}")]
    SufficientNeedsRankOne { rank: usize },
    #[error(
        "the fitted covariance of generation {generation} is singular on path {path}: its samples span fewer \
         than d directions to working precision (a path collapsed far below the real scale, or a pooled fit \
         whose n barely exceeds d); use fewer generations or more samples"
    )]
    SingularFit { generation: usize, path: usize },
}

/// Summaries across paths of one generation k.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GaussianGeneration {
    pub generation: usize,
    /// `σ̂²_k / σ²`; in d dimensions `tr Σ̂_k / tr Σ`. Its mean estimates
    /// `theory::gaussian::expected_moments(..).variance_ratio`; its interval is [`Self::mean_interval`]'s.
    pub variance_ratio: Spread,
    /// `ln(σ̂²_k / σ²)`; in d dimensions `ln(tr Σ̂_k / tr Σ)`. Under Replace in 1-D its mean is exactly
    /// `k · theory::gaussian::log_drift` and its sd `√(k ψ′((n−1)/2))`. Student-t interval.
    pub log_variance_ratio: Moments,
    /// `ln det Σ̂_k − ln det Σ` on Σ's support (the same as `log_variance_ratio` when rank Σ = 1). Under
    /// Replace its mean is exactly `k · theory::gaussian::log_det_drift`. Student-t interval.
    pub log_det_ratio: Moments,
    /// `(μ̂_k − μ)² / σ²`; in d dimensions `‖μ̂_k − m‖² / tr Σ`. Its interval is [`Self::mean_interval`]'s.
    pub mean_error: Moments,
    /// The interval carried by the means of `variance_ratio` and `mean_error` (from [`McConfig`]).
    pub mean_interval: MeanInterval,
}

/// Run the Monte Carlo: records for generations 0…G.
///
/// ```
/// use flowcollapse::sim::gaussian::{run, GaussianSetup, McConfig, Sampling};
/// use flowcollapse::theory::gaussian::{log_drift, Estimator};
/// use flowcollapse::theory::Strategy;
///
/// // Refit N(μ, σ²) by maximum likelihood to n = 10 of its own samples, 5 times, on 20 000 paths.
/// let setup = GaussianSetup::one_dim(2.0, 10, Estimator::Mle, Strategy::Replace, 5)?;
/// let mc = McConfig { level: 0.999, sampling: Sampling::Sufficient, ..McConfig::new(20_000, 7) };
/// let sim = run(&setup, &mc)?;
/// assert_eq!(sim.len(), 6);
/// let last = &sim[5];
/// // E[σ̂²_5]/σ² = ((n − 1)/n)⁵ = 0.9⁵ = 0.59049 (proofs/gaussian-expected-variance.md).
/// let ratio = last.variance_ratio.mean;
/// assert!(ratio.lo <= 0.59049 && 0.59049 <= ratio.hi, "{ratio:?}");
/// // E[ln(σ̂²_5/σ²)] = 5 (ψ(4.5) + ln(2/10)) = 5 (1.388871 − 1.609438) = −1.102835
/// // (proofs/gaussian-log-drift.md), the reliable check once σ̂²_k is heavy-tailed.
/// assert!((5.0 * log_drift(10, Estimator::Mle) + 1.102_835).abs() < 1e-6);
/// let log = last.log_variance_ratio.mean;
/// assert!(log.lo <= -1.102_835 && -1.102_835 <= log.hi, "{log:?}");
/// // Both means carry Student-t intervals unless `mc.mean_interval` says otherwise.
/// assert_eq!(last.mean_interval.name(), "student-t");
/// # Ok::<(), flowcollapse::sim::gaussian::SimError>(())
/// ```
pub fn run(setup: &GaussianSetup, mc: &McConfig) -> Result<Vec<GaussianGeneration>, SimError> {
    run_observed(setup, mc, |_| {})
}

/// [`run`], calling `observer` with each generation's record as soon as it is complete (for progress
/// reports or streaming output). If the run fails, the generations observed are those completed before.
///
/// ```
/// use flowcollapse::sim::gaussian::{run_observed, GaussianSetup, McConfig};
/// use flowcollapse::theory::gaussian::Estimator;
/// use flowcollapse::theory::Strategy;
///
/// // Accumulate, unbiased, n = 5: E[σ̂²_1]/σ² = 1 and E[σ̂²_2]/σ² = 1 − 1/(2 (2n − 1)) = 17/18
/// // (proofs/gaussian-accumulate-variance.md).
/// let setup = GaussianSetup::one_dim(1.0, 5, Estimator::Unbiased, Strategy::Accumulate, 2)?;
/// let mut seen = Vec::new();
/// let sim = run_observed(&setup, &McConfig { level: 0.999, ..McConfig::new(50_000, 1) }, |g| {
///     seen.push(g.generation)
/// })?;
/// assert_eq!(seen, [0, 1, 2]);
/// for (k, exact) in [(1, 1.0), (2, 17.0 / 18.0)] {
///     let iv = sim[k].variance_ratio.mean;
///     assert!(iv.lo <= exact && exact <= iv.hi, "k = {k}: {iv:?}");
/// }
/// # Ok::<(), flowcollapse::sim::gaussian::SimError>(())
/// ```
pub fn run_observed(
    setup: &GaussianSetup,
    mc: &McConfig,
    observer: impl FnMut(&GaussianGeneration),
) -> Result<Vec<GaussianGeneration>, SimError> {
    validate(setup, mc)?;
    let kind = Kind::new(setup);
    if setup.rank() == 1 {
        drive(&Scalar::new(setup, kind, mc.sampling), setup.generations, mc, observer)
    } else {
        drive(&Matrix::new(setup, kind), setup.generations, mc, observer)
    }
}

/// Every check [`run`] makes before it starts: the setup's ([`GaussianSetup::validate`]), at least 2 paths,
/// a level in (0, 1), and [`Sampling::Sufficient`] only for rank Σ = 1. A run that passes can still fail
/// with [`SimError::SingularFit`] (only in d dimensions, after an extreme collapse).
pub fn validate(setup: &GaussianSetup, mc: &McConfig) -> Result<(), SimError> {
    setup.validate()?;
    if mc.paths < 2 {
        return Err(SimError::TooFewPaths { paths: mc.paths });
    }
    if !(mc.level > 0.0 && mc.level < 1.0) {
        return Err(SimError::BadLevel { level: mc.level });
    }
    if mc.mean_interval == (MeanInterval::BootstrapT { resamples: 0 }) {
        return Err(SimError::NoResamples);
    }
    let rank = setup.rank();
    if rank > 1 && mc.sampling == Sampling::Sufficient {
        return Err(SimError::SufficientNeedsRankOne { rank });
    }
    Ok(())
}

/// An estimate of the memory one path needs during a run (state, per-generation values and scratch), in
/// bytes; multiply by the number of paths.
pub fn bytes_per_path(setup: &GaussianSetup) -> usize {
    let columns = 5 * std::mem::size_of::<f64>();
    let rank = setup.rank();
    if rank == 1 {
        std::mem::size_of::<ScalarPath>() + columns
    } else {
        // Mean and pool mean (ρ each), Cholesky factor and pool sum of squares (ρ² each), plus headers.
        std::mem::size_of::<MatrixPath>() + 8 * (2 * rank + 2 * rank * rank) + columns
    }
}

// ---------------------------------------------------------------------------------------------------
// The generation loop shared by both engines
// ---------------------------------------------------------------------------------------------------

/// Paths per parallel work item. Results do not depend on it (every path has its own stream).
const BLOCK: usize = 1024;

/// The strategy as the engines use it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Replace,
    Accumulate,
    Mix { real: usize, pool: RealPool },
}

impl Kind {
    fn new(setup: &GaussianSetup) -> Self {
        match setup.strategy {
            Strategy::Replace => Kind::Replace,
            Strategy::Accumulate => Kind::Accumulate,
            Strategy::Mix { pool, .. } => match setup.real_count() {
                0 => Kind::Replace,
                real => Kind::Mix { real, pool },
            },
        }
    }
}

/// What a path reports at one generation, in the order of [`Columns`].
struct Measured {
    ratio: f64,
    log_ratio: f64,
    log_det: f64,
    error: f64,
}

/// One path's loop in some representation.
trait Engine: Sync {
    type State: Send;
    fn init(&self, rng: Xoshiro256PlusPlus) -> Self::State;
    /// Fit model k (k ≥ 1) from model k − 1's state. `Err(())` when the fitted covariance is singular.
    fn step(&self, state: &mut Self::State, k: usize, scratch: &mut Vec<f64>) -> Result<(), ()>;
    fn measure(&self, state: &Self::State) -> Measured;
    /// Whether `log_det` always equals `log_ratio` (rank 1), so it is summarised once.
    fn log_det_is_log_ratio(&self) -> bool;
}

/// Per-path values of the current generation, one column per metric.
struct Columns {
    ratio: Vec<f64>,
    log_ratio: Vec<f64>,
    log_det: Vec<f64>,
    error: Vec<f64>,
}

fn drive<E: Engine>(
    engine: &E,
    generations: usize,
    mc: &McConfig,
    mut observer: impl FnMut(&GaussianGeneration),
) -> Result<Vec<GaussianGeneration>, SimError> {
    let paths = mc.paths;
    let mut states: Vec<E::State> = (0..paths)
        .into_par_iter()
        .map(|p| engine.init(Xoshiro256PlusPlus::seed_from_u64(stream_seed(mc.seed, mc.series, p as u64))))
        .collect();
    let mut columns = Columns {
        ratio: vec![0.0; paths],
        log_ratio: vec![0.0; paths],
        log_det: vec![0.0; paths],
        error: vec![0.0; paths],
    };
    let mut sorted = vec![0.0; paths];
    let mut records = Vec::with_capacity(generations + 1);
    for k in 0..=generations {
        let failures: Vec<Option<usize>> = states
            .par_chunks_mut(BLOCK)
            .zip(columns.ratio.par_chunks_mut(BLOCK))
            .zip(columns.log_ratio.par_chunks_mut(BLOCK))
            .zip(columns.log_det.par_chunks_mut(BLOCK))
            .zip(columns.error.par_chunks_mut(BLOCK))
            .enumerate()
            .map(|(block, ((((states, ratio), log_ratio), log_det), error))| {
                let mut scratch = Vec::new();
                for (i, state) in states.iter_mut().enumerate() {
                    if k > 0 && engine.step(state, k, &mut scratch).is_err() {
                        return Some(block * BLOCK + i);
                    }
                    let m = engine.measure(state);
                    (ratio[i], log_ratio[i], log_det[i], error[i]) = (m.ratio, m.log_ratio, m.log_det, m.error);
                }
                None
            })
            .collect();
        if let Some(path) = failures.into_iter().flatten().next() {
            return Err(SimError::SingularFit { generation: k, path });
        }
        let record = summarise(k, &columns, &mut sorted, mc, engine.log_det_is_log_ratio());
        observer(&record);
        records.push(record);
    }
    Ok(records)
}

/// Tag of the bootstrap's streams, apart from the paths' (`stream_seed(seed, series, p)`).
const BOOTSTRAP_STREAMS: u64 = 0xb007_5742_a9f1_0c3d;

fn summarise(k: usize, columns: &Columns, sorted: &mut [f64], mc: &McConfig, same_logs: bool) -> GaussianGeneration {
    let level = mc.level;
    // The bootstrap of generation k and quantity q (0: ratio, 1: error) resamples under its own seed.
    let boot_seed = |q: u64| stream_seed(mc.seed ^ BOOTSTRAP_STREAMS, mc.series, 2 * k as u64 + q);
    let (variance_ratio, (log_variance_ratio, (log_det_ratio, mean_error))) = rayon::join(
        || {
            let mut s = spread(&columns.ratio, sorted, level);
            if mc.mean_interval != MeanInterval::StudentT {
                s.mean = mc.mean_interval.interval(&columns.ratio, level, boot_seed(0));
            }
            s
        },
        || {
            rayon::join(
                || moments(&columns.log_ratio, level),
                || {
                    rayon::join(
                        || if same_logs { None } else { Some(moments(&columns.log_det, level)) },
                        || {
                            let mut m = moments(&columns.error, level);
                            if mc.mean_interval != MeanInterval::StudentT {
                                m.mean = mc.mean_interval.interval(&columns.error, level, boot_seed(1));
                            }
                            m
                        },
                    )
                },
            )
        },
    );
    GaussianGeneration {
        generation: k,
        variance_ratio,
        log_variance_ratio,
        log_det_ratio: log_det_ratio.unwrap_or(log_variance_ratio),
        mean_error,
        mean_interval: mc.mean_interval,
    }
}

// ---------------------------------------------------------------------------------------------------
// Rank 1: scalar paths
// ---------------------------------------------------------------------------------------------------

/// Count, mean and sum of squares about the mean of a group of samples.
#[derive(Clone, Copy, Debug, Default)]
struct Group {
    count: f64,
    mean: f64,
    ss: f64,
}

impl Group {
    /// The pooled group (exact: the between-group term restores the sum of squares about the pooled mean).
    fn merge(self, other: Group) -> Group {
        if self.count == 0.0 {
            return other;
        }
        if other.count == 0.0 {
            return self;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Group {
            count,
            mean: self.mean + delta * (other.count / count),
            ss: self.ss + other.ss + delta * delta * (self.count * other.count / count),
        }
    }

    /// The group `μ + s z` of a standard group z, with `s² = variance`.
    fn affine(self, mean: f64, variance: f64) -> Group {
        Group { count: self.count, mean: mean + variance.sqrt() * self.mean, ss: variance * self.ss }
    }
}

/// Draws groups of m standard normals, or their sufficient statistics.
struct GroupSampler {
    sampling: Sampling,
    /// χ²_{m−1} for each group size m ≥ 2 the loop uses.
    chi: Vec<(usize, ChiSquared<f64>)>,
}

impl GroupSampler {
    fn new(sampling: Sampling, sizes: &[usize]) -> Self {
        let chi = sizes
            .iter()
            .filter(|&&m| m >= 2)
            .map(|&m| (m, ChiSquared::new((m - 1) as f64).expect("m − 1 ≥ 1 degrees of freedom is valid")))
            .collect();
        Self { sampling, chi }
    }

    /// A group of m independent N(0, 1) samples: (m, z̄, Σ(z_i − z̄)²).
    fn standard(&self, rng: &mut Xoshiro256PlusPlus, m: usize, scratch: &mut Vec<f64>) -> Group {
        if m == 0 {
            return Group::default();
        }
        let count = m as f64;
        match self.sampling {
            Sampling::Samples => {
                scratch.resize(m, 0.0);
                let mut sum = 0.0;
                for z in scratch.iter_mut() {
                    *z = StandardNormal.sample(rng);
                    sum += *z;
                }
                let mean = sum / count;
                // Two-pass sum of squares (never negative), in four interleaved partial sums.
                let mut lanes = [0.0; 4];
                let chunks = scratch.chunks_exact(4);
                let rest: f64 = chunks.remainder().iter().map(|z| (z - mean) * (z - mean)).sum();
                for chunk in chunks {
                    for (lane, z) in lanes.iter_mut().zip(chunk) {
                        *lane += (z - mean) * (z - mean);
                    }
                }
                let ss = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest;
                Group { count, mean, ss }
            }
            Sampling::Sufficient => {
                let z: f64 = StandardNormal.sample(rng);
                let ss = match self.chi.iter().find(|(size, _)| *size == m) {
                    Some((_, chi)) => chi.sample(rng),
                    None => 0.0,
                };
                Group { count, mean: z / count.sqrt(), ss }
            }
        }
    }
}

/// A rank-1 path in standardised units (real data N(0, 1)): model k is N(mean, var), `log_var = ln var`.
struct ScalarPath {
    rng: Xoshiro256PlusPlus,
    mean: f64,
    var: f64,
    log_var: f64,
    /// Accumulate: generations 0…k−1 pooled. Mix with a fixed pool: the real pool.
    pool: Group,
}

struct Scalar {
    n: usize,
    estimator: Estimator,
    kind: Kind,
    sampler: GroupSampler,
}

impl Scalar {
    fn new(setup: &GaussianSetup, kind: Kind, sampling: Sampling) -> Self {
        let n = setup.n;
        let real = setup.real_count();
        Self { n, estimator: setup.estimator, kind, sampler: GroupSampler::new(sampling, &[n, real, n - real]) }
    }
}

impl Engine for Scalar {
    type State = ScalarPath;

    fn init(&self, rng: Xoshiro256PlusPlus) -> ScalarPath {
        ScalarPath { rng, mean: 0.0, var: 1.0, log_var: 0.0, pool: Group::default() }
    }

    fn step(&self, path: &mut ScalarPath, k: usize, scratch: &mut Vec<f64>) -> Result<(), ()> {
        let n = self.n;
        // A local copy of the stream keeps its state in registers while a group is drawn.
        let mut rng = path.rng.clone();
        let training = match self.kind {
            Kind::Replace => {
                // One group from model k − 1: σ̂²_k = σ̂²_{k−1} · Σ(z − z̄)²/D, and in log space
                // ln σ̂²_k = ln σ̂²_{k−1} + ln(Σ(z − z̄)²/D). `var` may underflow to 0 after a very long
                // collapse; `log_var` carries on exactly.
                let z = self.sampler.standard(&mut rng, n, scratch);
                let step = z.ss / self.estimator.divisor(n);
                path.rng = rng;
                path.mean += path.var.sqrt() * z.mean;
                path.log_var += step.ln();
                path.var *= step;
                return Ok(());
            }
            Kind::Accumulate => {
                let generated = self.sampler.standard(&mut rng, n, scratch).affine(path.mean, path.var);
                path.pool = path.pool.merge(generated);
                path.pool
            }
            Kind::Mix { real, pool } => {
                let real_part = match pool {
                    RealPool::Fresh => self.sampler.standard(&mut rng, real, scratch),
                    RealPool::Fixed => {
                        if k == 1 {
                            path.pool = self.sampler.standard(&mut rng, real, scratch);
                        }
                        path.pool
                    }
                };
                let generated = self.sampler.standard(&mut rng, n - real, scratch).affine(path.mean, path.var);
                real_part.merge(generated)
            }
        };
        path.rng = rng;
        path.mean = training.mean;
        path.var = training.ss / self.estimator.divisor(training.count as usize);
        path.log_var = path.var.ln();
        Ok(())
    }

    fn measure(&self, path: &ScalarPath) -> Measured {
        Measured { ratio: path.var, log_ratio: path.log_var, log_det: path.log_var, error: path.mean * path.mean }
    }

    fn log_det_is_log_ratio(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------------------
// Rank ≥ 2: matrix paths
// ---------------------------------------------------------------------------------------------------

/// A group of ρ-dimensional samples: count, mean, scatter matrix about the mean.
#[derive(Clone, Debug)]
struct GroupD {
    count: usize,
    mean: DVector<f64>,
    ss: DMatrix<f64>,
}

impl GroupD {
    fn merge(self, other: GroupD) -> GroupD {
        if self.count == 0 {
            return other;
        }
        if other.count == 0 {
            return self;
        }
        let count = self.count + other.count;
        let delta = &other.mean - &self.mean;
        let between = (self.count * other.count) as f64 / count as f64;
        GroupD {
            count,
            mean: &self.mean + &delta * (other.count as f64 / count as f64),
            ss: self.ss + other.ss + &delta * delta.transpose() * between,
        }
    }
}

/// A path of rank ρ ≥ 2 in standardised units (real data N(0, I_ρ)): model k is N(mean, L Lᵀ).
struct MatrixPath {
    rng: Xoshiro256PlusPlus,
    mean: DVector<f64>,
    /// Lower Cholesky factor L of the fitted covariance.
    factor: DMatrix<f64>,
    log_det: f64,
    pool: Option<GroupD>,
}

struct Matrix {
    n: usize,
    rank: usize,
    estimator: Estimator,
    kind: Kind,
    /// The eigenvalues of Σ's support: the reported trace and mean error are weighted by them.
    lambda: DVector<f64>,
    trace: f64,
}

impl Matrix {
    fn new(setup: &GaussianSetup, kind: Kind) -> Self {
        let lambda = support(&setup.covariance);
        Self {
            n: setup.n,
            rank: lambda.len(),
            estimator: setup.estimator,
            kind,
            trace: lambda.iter().sum(),
            lambda: DVector::from_vec(lambda),
        }
    }

    /// The group statistics of m ≥ 1 standard normals z_i in ρ dimensions: `(z̄, Σ (z_i − z̄)(z_i − z̄)ᵀ)`.
    fn standard_group(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        m: usize,
        scratch: &mut Vec<f64>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        let rho = self.rank;
        scratch.clear();
        scratch.extend((0..m * rho).map(|_| -> f64 { StandardNormal.sample(rng) }));
        // Column-major ρ × m: column i is z_i.
        let mut z = DMatrix::from_column_slice(rho, m, scratch);
        let z_mean = z.column_mean();
        for mut column in z.column_iter_mut() {
            column -= &z_mean;
        }
        let ss_z = &z * z.transpose();
        (z_mean, ss_z)
    }

    /// m samples of N(mean, L Lᵀ), as their group statistics: `x_i = mean + L z_i`.
    fn draw(
        &self,
        rng: &mut Xoshiro256PlusPlus,
        m: usize,
        mean: &DVector<f64>,
        factor: &DMatrix<f64>,
        scratch: &mut Vec<f64>,
    ) -> GroupD {
        if m == 0 {
            return GroupD { count: 0, mean: DVector::zeros(self.rank), ss: DMatrix::zeros(self.rank, self.rank) };
        }
        let (z_mean, ss_z) = self.standard_group(rng, m, scratch);
        GroupD { count: m, mean: mean + factor * z_mean, ss: factor * ss_z * factor.transpose() }
    }

    /// Replace's refit without forming the fitted covariance: with `x_i = m + L z_i`, the fit is
    /// `m' = m + L z̄` and `Σ̂ = L (S_z/D) Lᵀ`, so its Cholesky factor is `L' = L C` with `C C ᵀ = S_z/D`,
    /// the factor of a well-conditioned Wishart matrix, and `ln det Σ̂ = ln det Σ̂_prev + 2 Σ ln C_ii`.
    /// Forming `Σ̂` instead squares the condition number of L, which after a long collapse (κ(L) ~ 10⁸)
    /// makes its factorisation fail although the law of the path is perfectly well defined.
    fn refit_replace(&self, path: &mut MatrixPath, scratch: &mut Vec<f64>) -> Result<(), ()> {
        let (z_mean, ss_z) = self.standard_group(&mut path.rng, self.n, scratch);
        let c = (ss_z / self.estimator.divisor(self.n)).cholesky().ok_or(())?.l();
        path.mean += &path.factor * z_mean;
        path.log_det += 2.0 * c.diagonal().iter().map(|v| v.ln()).sum::<f64>();
        path.factor = &path.factor * c;
        Ok(())
    }

    fn fit(&self, path: &mut MatrixPath, training: &GroupD) -> Result<(), ()> {
        let covariance = &training.ss / self.estimator.divisor(training.count);
        let factor = covariance.cholesky().ok_or(())?.l();
        path.log_det = 2.0 * factor.diagonal().iter().map(|v| v.ln()).sum::<f64>();
        path.factor = factor;
        path.mean.copy_from(&training.mean);
        Ok(())
    }
}

impl Engine for Matrix {
    type State = MatrixPath;

    fn init(&self, rng: Xoshiro256PlusPlus) -> MatrixPath {
        let rho = self.rank;
        MatrixPath { rng, mean: DVector::zeros(rho), factor: DMatrix::identity(rho, rho), log_det: 0.0, pool: None }
    }

    fn step(&self, path: &mut MatrixPath, k: usize, scratch: &mut Vec<f64>) -> Result<(), ()> {
        let n = self.n;
        let training = match self.kind {
            Kind::Replace => return self.refit_replace(path, scratch),
            Kind::Accumulate => {
                let generated = self.draw(&mut path.rng, n, &path.mean, &path.factor, scratch);
                let pooled = match path.pool.take() {
                    Some(pool) => pool.merge(generated),
                    None => generated,
                };
                path.pool = Some(pooled.clone());
                pooled
            }
            Kind::Mix { real, pool } => {
                let (origin, identity) = (DVector::zeros(self.rank), DMatrix::identity(self.rank, self.rank));
                let real_part = match pool {
                    RealPool::Fresh => self.draw(&mut path.rng, real, &origin, &identity, scratch),
                    RealPool::Fixed => {
                        if k == 1 {
                            path.pool = Some(self.draw(&mut path.rng, real, &origin, &identity, scratch));
                        }
                        path.pool.clone().expect("the fixed pool is drawn at generation 1")
                    }
                };
                let generated = self.draw(&mut path.rng, n - real, &path.mean, &path.factor, scratch);
                real_part.merge(generated)
            }
        };
        self.fit(path, &training)
    }

    fn measure(&self, path: &MatrixPath) -> Measured {
        // diag(L Lᵀ)_i = Σ_j L_ij², weighted by λ_i: tr(Σ^{1/2} Σ̂_std Σ^{1/2}) in the original coordinates.
        let weighted: f64 = path.factor.row_iter().zip(self.lambda.iter()).map(|(row, l)| l * row.norm_squared()).sum();
        let ratio = weighted / self.trace;
        let error = path.mean.iter().zip(self.lambda.iter()).map(|(m, l)| l * m * m).sum::<f64>() / self.trace;
        Measured { ratio, log_ratio: ratio.ln(), log_det: path.log_det, error }
    }

    fn log_det_is_log_ratio(&self) -> bool {
        false
    }
}
