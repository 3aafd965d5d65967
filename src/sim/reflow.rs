//! Linear-Gaussian reflow with N pairs per generation: the finite-sample version of `theory::reflow`.
//!
//! Each generation fits the same time-binned linear field as the closed form, per eigen-direction of Σ, but
//! to N sampled pairs instead of the population: in bin b,
//! `â_b = (Σ_{i∈b} (x_i − z_i) y_i / n_b) / (Σ_{i∈b} y_i² / n_b + γ)` with `y_i = t_i x_i + (1 − t_i) z_i`.
//! The pairs of each source are spread evenly over the bins (pair i of a source falls in bin `i mod B`, at a
//! uniform time inside it), so no bin is ever empty and each bin sees the sources in the strategy's
//! proportions, as in the closed form. As N → ∞ the fit tends to `theory::reflow::fit_bins`
//! (tests/sim_reflow.rs); at finite N the fitted gains carry sampling noise that compounds over generations.
//!
//! Sources per generation (N pairs each, r = round(αN) as in `theory::gaussian::mix_real_count`):
//! - model 1: independent pairs `z ~ N(0, 1)`, `x ~ N(0, λ)`;
//! - Replace (Reflow): N synthetic pairs `(z, β_{k−1} z)` of the previous model's K-step sampler;
//! - Mix α (RA): r real `x ~ N(0, λ)` (fresh each generation, or one fixed pool) with inverted noise
//!   `z = ρ_{k−1} x`, and N − r synthetic pairs;
//! - Accumulate: model 1's pairs and every earlier model's N synthetic pairs, all kept.
//!
//! Replicates are independent and run in parallel; replicate j draws from the stream
//! `stream_seed(seed, series, j)`, directions in order, so the numbers do not depend on the thread count.

use super::dae::stream_seed;
use super::stats::{spread, Interval, Spread};
use crate::theory::flow::Direction;
use crate::theory::gaussian::mix_real_count;
use crate::theory::reflow::sampler_gain;
use crate::theory::{RealPool, Strategy};
use rand::distr::StandardUniform;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;

/// What is simulated: the loop of `theory::reflow::reflow` on every direction of a spectrum.
#[derive(Clone, Debug, PartialEq)]
pub struct ReflowSetup {
    /// Eigenvalues λ_i of the data covariance (the data are centred; directions are independent).
    pub spectrum: Vec<f64>,
    /// K: Euler steps of the sampler and of the inversion.
    pub steps: usize,
    /// B: time bins of the fitted field.
    pub bins: usize,
    /// γ ≥ 0: ridge penalty of each bin's fit.
    pub ridge: f64,
    pub strategy: Strategy,
    pub generations: usize,
}

/// Sizes and seed of a Monte Carlo run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReflowMc {
    /// N: pairs per source and generation (N ≥ B, so every bin gets a pair).
    pub pairs: usize,
    /// R: independent replicates.
    pub replicates: usize,
    pub seed: u64,
}

/// Replicate summaries of one generation.
#[derive(Clone, Debug, Serialize)]
pub struct McReflowGeneration {
    pub generation: usize,
    /// Per direction: `β_k² / λ`, the variance model k generates over the real one, across replicates.
    pub variance_ratio: Vec<Spread>,
    /// Per direction: ρ_k, the gain of model k's K-step inversion.
    pub reverse_gain: Vec<Interval>,
    /// `Σ_i β_{k,i}² / Σ_i λ_i`, across replicates.
    pub trace_ratio: Spread,
}

/// Running per-bin sums of one fit: `Σ (x − z) y`, `Σ y²` and the pair count.
#[derive(Clone)]
struct BinSums {
    cross: Vec<f64>,
    square: Vec<f64>,
    count: Vec<usize>,
}

impl BinSums {
    fn new(bins: usize) -> Self {
        BinSums { cross: vec![0.0; bins], square: vec![0.0; bins], count: vec![0; bins] }
    }

    /// Add a source's pairs, pair i in bin `i mod B` at a uniform time inside it.
    fn add(&mut self, rng: &mut Xoshiro256PlusPlus, pairs: impl Iterator<Item = (f64, f64)>) {
        let bins = self.count.len();
        for (i, (x, z)) in pairs.enumerate() {
            let b = i % bins;
            let t = (b as f64 + Distribution::<f64>::sample(&StandardUniform, rng)) / bins as f64;
            let y = t * x + (1.0 - t) * z;
            self.cross[b] += (x - z) * y;
            self.square[b] += y * y;
            self.count[b] += 1;
        }
    }

    /// `â_b = (cross_b / n_b) / (square_b / n_b + γ)`.
    fn fit(&self, ridge: f64) -> Vec<f64> {
        (0..self.count.len())
            .map(|b| {
                let n = self.count[b] as f64;
                (self.cross[b] / n) / (self.square[b] / n + ridge)
            })
            .collect()
    }
}

fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
    StandardNormal.sample(rng)
}

/// One replicate, one direction: `(β_k, ρ_k)` for k = 0…G.
fn direction_path(setup: &ReflowSetup, n: usize, lambda: f64, rng: &mut Xoshiro256PlusPlus) -> Vec<(f64, f64)> {
    let sd = lambda.sqrt();
    let (k_steps, bins) = (setup.steps, setup.bins);
    let real =
        |rng: &mut Xoshiro256PlusPlus, count: usize| -> Vec<f64> { (0..count).map(|_| sd * normal(rng)).collect() };
    let real_count = match setup.strategy {
        Strategy::Mix { alpha, .. } => mix_real_count(alpha, n),
        _ => 0,
    };
    // A fixed real pool is drawn once, before generation 1, and reused by every Mix generation.
    let pool = match setup.strategy {
        Strategy::Mix { pool: RealPool::Fixed, .. } => real(rng, real_count),
        _ => Vec::new(),
    };
    let mut path = vec![(sd, 1.0 / sd)];
    // Accumulate keeps every source's sums; the other strategies refit from scratch.
    let mut kept = BinSums::new(bins);
    for k in 1..=setup.generations {
        let (beta, rho) = path[k - 1];
        let mut sums = if setup.strategy == Strategy::Accumulate { kept.clone() } else { BinSums::new(bins) };
        if k == 1 {
            let pairs: Vec<(f64, f64)> = (0..n).map(|_| (sd * normal(rng), normal(rng))).collect();
            sums.add(rng, pairs.into_iter());
        } else {
            let synthetic = n - real_count;
            if real_count > 0 {
                let xs = match setup.strategy {
                    Strategy::Mix { pool: RealPool::Fixed, .. } => pool.clone(),
                    _ => real(rng, real_count),
                };
                sums.add(rng, xs.into_iter().map(|x| (x, rho * x)));
            }
            let zs: Vec<f64> = (0..synthetic).map(|_| normal(rng)).collect();
            sums.add(rng, zs.into_iter().map(|z| (beta * z, z)));
        }
        let gains = sums.fit(setup.ridge);
        if setup.strategy == Strategy::Accumulate {
            kept = sums;
        }
        path.push((
            sampler_gain(&gains, k_steps, Direction::Forward),
            sampler_gain(&gains, k_steps, Direction::Reverse),
        ));
    }
    path
}

/// `(β_k, ρ_k)` per direction i and generation k of one replicate: `path[i][k]`.
pub type ReplicatePath = Vec<Vec<(f64, f64)>>;

/// `(β_k, ρ_k)` of every replicate, direction and generation: `paths[j][i][k]`, replicates in parallel.
///
/// # Panics
/// If `mc.pairs < setup.bins` or the setup is degenerate (no directions, K = 0, B = 0): the experiment
/// layer validates these first.
pub fn replicate_paths(setup: &ReflowSetup, mc: &ReflowMc, series: u64) -> Vec<ReplicatePath> {
    assert!(mc.pairs >= setup.bins && setup.bins > 0 && setup.steps > 0 && !setup.spectrum.is_empty());
    (0..mc.replicates)
        .into_par_iter()
        .map(|j| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(mc.seed, series, j as u64));
            setup.spectrum.iter().map(|&lambda| direction_path(setup, mc.pairs, lambda, &mut rng)).collect()
        })
        .collect()
}

/// Run R ≥ 2 replicates of the loop and summarise each generation (intervals at confidence `level`).
///
/// ```
/// use flowcollapse::sim::reflow::{run, ReflowMc, ReflowSetup};
/// use flowcollapse::theory::Strategy;
///
/// // One direction λ = 4, one Euler step, one time bin: model 1 fits v(y) = a y to independent pairs,
/// // y = t x + (1 − t) z, t ~ U(0, 1), so a = E[(x − z) y]/E[y²] = ((λ − 1)/2)/((λ + 1)/3) = 0.9, and its
/// // sampler maps z to β z with β = 1 + a: variance ratio β²/λ = 3.61/4 = 0.9025
/// // (proofs/reflow-linear-gaussian.md).
/// let strategy = Strategy::Replace;
/// let setup = ReflowSetup { spectrum: vec![4.0], steps: 1, bins: 1, ridge: 0.0, strategy, generations: 1 };
/// let sim = run(&setup, &ReflowMc { pairs: 50_000, replicates: 16, seed: 2 }, 0, 0.999);
/// let iv = sim[1].variance_ratio[0].mean;
/// assert!(iv.lo <= 0.9025 && 0.9025 <= iv.hi, "{iv:?}");
/// ```
pub fn run(setup: &ReflowSetup, mc: &ReflowMc, series: u64, level: f64) -> Vec<McReflowGeneration> {
    let paths = replicate_paths(setup, mc, series);
    let total: f64 = setup.spectrum.iter().sum();
    let mut scratch = vec![0.0; paths.len()];
    (0..=setup.generations)
        .map(|k| {
            let mut across = |value: &dyn Fn(&ReplicatePath) -> f64| -> Spread {
                let values: Vec<f64> = paths.iter().map(value).collect();
                spread(&values, &mut scratch, level)
            };
            let directions = 0..setup.spectrum.len();
            McReflowGeneration {
                generation: k,
                variance_ratio: directions
                    .clone()
                    .map(|i| across(&|p| p[i][k].0.powi(2) / setup.spectrum[i]))
                    .collect(),
                reverse_gain: directions.map(|i| across(&|p| p[i][k].1).mean).collect(),
                trace_ratio: across(&|p| p.iter().map(|d| d[k].0.powi(2)).sum::<f64>() / total),
            }
        })
        .collect()
}
