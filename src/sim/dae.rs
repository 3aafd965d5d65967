//! The linear DAE loop with finite samples: each generation fits `(W, b)` by least squares on n noisy
//! pairs and the fitted model produces the next generation (proofs/dae-*.md, last paragraph).
//!
//! Replicates are independent and run in parallel; each draws from its own stream, seeded from
//! `(seed, series, replicate)`, so the numbers do not depend on the thread count.

use super::stats::{mean_interval, Interval};
use crate::linalg::{matmul_nt, matmul_tn, matmul_tn_strided};
use crate::theory::{Covariance, RealPool, Rule, Strategy};
use nalgebra::{DMatrix, DVector};
use rand::seq::index;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

/// Sizes and seed of a Monte Carlo run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonteCarlo {
    /// n: samples per generation.
    pub samples: usize,
    /// R: independent replicates.
    pub replicates: usize,
    pub seed: u64,
}

/// One DAE experiment: what is simulated.
#[derive(Clone, Copy, Debug)]
pub struct DaeSetup<'a> {
    pub covariance: &'a Covariance,
    /// Noise variance s = σ².
    pub s: f64,
    pub strategy: Strategy,
    pub rule: Rule,
    pub generations: usize,
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SimError {
    #[error(
        "the least-squares fit of generation {generation} is singular (replicate {replicate}); \
         increase --samples"
    )]
    SingularFit { generation: usize, replicate: usize },
}

/// Replicate summaries of one generation: means with confidence intervals.
#[derive(Clone, Debug, Serialize)]
pub struct McGeneration {
    pub generation: usize,
    /// `tr(Ŝ_k) / tr(Σ)`, Ŝ_k the sample covariance (1/(n−1)) of generation k.
    pub trace_ratio: Interval,
    pub top_eigenvalue: Interval,
    /// `‖Ŵ_k‖₂` (the identity at generation 0).
    pub w_norm: Interval,
    /// `‖Ŵ_k ⋯ Ŵ_1‖₂`.
    pub phi_norm: Interval,
    /// Replicate mean of the sorted (largest first) eigenvalues of Ŝ_k.
    pub spectrum: Vec<f64>,
}

/// The smallest n for which the least-squares fit of `(W, b)` on d-dimensional data is determined.
pub fn min_samples(dim: usize) -> usize {
    dim + 2
}

/// Run the Monte Carlo; `series` separates the random streams of the series of a sweep.
/// Confidence intervals are at `level` (e.g. 0.95).
///
/// ```
/// use flowcollapse::sim::dae::{run, DaeSetup, MonteCarlo};
/// use flowcollapse::theory::{Covariance, Rule, Strategy};
///
/// // λ = 1, noise s = 0.5, Replace, noisy rule: in the population limit the DAE's gain is
/// // w = λ/(λ + s) = 2/3 and generation 1 has variance λ²/(λ + s) = 2/3 (proofs/dae-covariance-recursion.md);
/// // n = 20 000 samples per generation are close to that limit.
/// let covariance = Covariance::from_spectrum(&[1.0])?;
/// let (strategy, rule) = (Strategy::Replace, Rule::Noisy);
/// let setup = DaeSetup { covariance: &covariance, s: 0.5, strategy, rule, generations: 2 };
/// let sim = run(&setup, &MonteCarlo { samples: 20_000, replicates: 16, seed: 1 }, 0, 0.999)?;
/// let (ratio, gain) = (sim[1].trace_ratio, sim[1].w_norm);
/// assert!(ratio.lo <= 2.0 / 3.0 && 2.0 / 3.0 <= ratio.hi, "{ratio:?}");
/// assert!(gain.lo <= 2.0 / 3.0 && 2.0 / 3.0 <= gain.hi, "{gain:?}");
/// // Generation 2: μ_2 = μ_1²/(μ_1 + s) = (4/9)/(7/6) = 8/21.
/// let ratio = sim[2].trace_ratio;
/// assert!(ratio.lo <= 8.0 / 21.0 && 8.0 / 21.0 <= ratio.hi, "{ratio:?}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(setup: &DaeSetup, mc: &MonteCarlo, series: u64, level: f64) -> Result<Vec<McGeneration>, SimError> {
    run_observed(setup, mc, series, level, &|| {})
}

/// [`run`], calling `generation_done` (from worker threads) each time a replicate finishes a generation:
/// `replicates × generations` calls in all, for a progress bar.
pub fn run_observed(
    setup: &DaeSetup,
    mc: &MonteCarlo,
    series: u64,
    level: f64,
    generation_done: &(dyn Fn() + Sync),
) -> Result<Vec<McGeneration>, SimError> {
    let replicates: Vec<Vec<Measured>> = (0..mc.replicates)
        .into_par_iter()
        .map(|r| {
            let rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(mc.seed, series, r as u64));
            Replicate::new(setup, mc.samples, r, rng).run(generation_done)
        })
        .collect::<Result<_, _>>()?;
    let d = setup.covariance.dim();
    Ok((0..=setup.generations)
        .map(|k| {
            let column = |f: fn(&Measured) -> f64| -> Vec<f64> { replicates.iter().map(|rep| f(&rep[k])).collect() };
            let mut spectrum = vec![0.0; d];
            for rep in &replicates {
                for (acc, v) in spectrum.iter_mut().zip(&rep[k].spectrum) {
                    *acc += v / replicates.len() as f64;
                }
            }
            McGeneration {
                generation: k,
                trace_ratio: mean_interval(&column(|m| m.trace_ratio), level),
                top_eigenvalue: mean_interval(&column(|m| m.spectrum[0]), level),
                w_norm: mean_interval(&column(|m| m.w_norm), level),
                phi_norm: mean_interval(&column(|m| m.phi_norm), level),
                spectrum,
            }
        })
        .collect())
}

/// SplitMix64 finaliser: decorrelates nearby seeds before they seed a stream.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of stream (series, replicate) under the user's seed.
pub fn stream_seed(seed: u64, series: u64, replicate: u64) -> u64 {
    mix64(mix64(mix64(seed) ^ series.wrapping_add(0x9e37_79b9_7f4a_7c15)) ^ replicate)
}

/// What one replicate measures at one generation.
struct Measured {
    trace_ratio: f64,
    w_norm: f64,
    phi_norm: f64,
    spectrum: Vec<f64>,
}

/// One replicate: its stream, Σ's factor, and scratch buffers reused across generations (row-major n × d
/// sample matrices; no allocation in the generation loop beyond d × d matrices).
struct Replicate<'a> {
    setup: &'a DaeSetup<'a>,
    n: usize,
    d: usize,
    index: usize,
    rng: Xoshiro256PlusPlus,
    /// L with L Lᵀ = Σ, row-major.
    factor: Vec<f64>,
    noise: Vec<f64>,
    x_centred: Vec<f64>,
    pairs: Vec<f64>,
    gram: Vec<f64>,
}

impl<'a> Replicate<'a> {
    fn new(setup: &'a DaeSetup<'a>, n: usize, index: usize, rng: Xoshiro256PlusPlus) -> Self {
        let l = setup.covariance.sqrt_factor();
        let d = l.nrows();
        let factor = (0..d * d).map(|i| l[(i / d, i % d)]).collect();
        Self {
            setup,
            n,
            d,
            index,
            rng,
            factor,
            noise: Vec::new(),
            x_centred: Vec::new(),
            pairs: Vec::new(),
            gram: vec![0.0; d * d],
        }
    }

    /// Standard normals into `self.noise[..len]`.
    fn draw_noise(&mut self, len: usize) {
        self.noise.resize(len, 0.0);
        for v in &mut self.noise {
            *v = StandardNormal.sample(&mut self.rng);
        }
    }

    /// Append `rows` real samples `x = L z` to `out`.
    fn draw_real(&mut self, rows: usize, out: &mut Vec<f64>) {
        self.draw_noise(rows * self.d);
        let start = out.len();
        out.resize(start + rows * self.d, 0.0);
        matmul_nt(&self.noise, &self.factor, rows, self.d, self.d, &mut out[start..]);
    }

    /// Sample covariance (1/(rows − 1)) of a row-major `rows × d` matrix.
    fn covariance(&mut self, x: &[f64]) -> DMatrix<f64> {
        let (rows, d) = (x.len() / self.d, self.d);
        let mean = column_means(x, d);
        self.x_centred.resize(x.len(), 0.0);
        for (centred, row) in self.x_centred.chunks_exact_mut(d).zip(x.chunks_exact(d)) {
            for ((c, v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = v - m;
            }
        }
        matmul_tn(&self.x_centred, &self.x_centred, rows, d, d, &mut self.gram);
        DMatrix::from_row_slice(d, d, &self.gram) / (rows - 1) as f64
    }

    /// Least squares of x on [y, 1], y = x + σε, by the centred normal equations: `Syy Wᵀ = Syx`,
    /// `b = x̄ − W ȳ`.
    fn fit(&mut self, training: &[f64], k: usize) -> Result<(DMatrix<f64>, DVector<f64>), SimError> {
        let (rows, d) = (training.len() / self.d, self.d);
        let sigma = self.setup.s.sqrt();
        self.draw_noise(rows * d);
        let x_mean = column_means(training, d);
        let e_mean = column_means(&self.noise, d);
        // Centred pairs side by side, row i = [x_i − x̄, y_i − ȳ], so one product gives [Sxy; Syy] = [X Y]ᵀ Y.
        self.pairs.resize(rows * 2 * d, 0.0);
        for (pair, (x, e)) in
            self.pairs.chunks_exact_mut(2 * d).zip(training.chunks_exact(d).zip(self.noise.chunks_exact(d)))
        {
            let (xc, yc) = pair.split_at_mut(d);
            for ((((xc, yc), x), e), (xm, em)) in
                xc.iter_mut().zip(yc.iter_mut()).zip(x).zip(e).zip(x_mean.iter().zip(&e_mean))
            {
                *xc = x - xm;
                *yc = *xc + sigma * (e - em);
            }
        }
        let mut grams = vec![0.0; 2 * d * d];
        matmul_tn_strided(&self.pairs, 2 * d, &self.pairs[d..], 2 * d, rows, 2 * d, d, &mut grams);
        let sxy = DMatrix::from_row_slice(d, d, &grams[..d * d]);
        let syy = DMatrix::from_row_slice(d, d, &grams[d * d..]);
        let w = syy
            .cholesky()
            .map(|c| c.solve(&sxy.transpose()).transpose())
            .ok_or(SimError::SingularFit { generation: k, replicate: self.index })?;
        let x_mean = DVector::from_vec(x_mean);
        let y_mean = &x_mean + DVector::from_vec(e_mean) * sigma;
        let b = x_mean - &w * y_mean;
        Ok((w, b))
    }

    /// Generation k: f_k applied to n points drawn from the training set without replacement, in random
    /// order, so that any prefix is a uniform subsample (Mix takes one); noisy rule: to `x + σε'`.
    fn generate(&mut self, training: &[f64], w: &DMatrix<f64>, b: &DVector<f64>, out: &mut Vec<f64>) {
        let (rows, n, d) = (training.len() / self.d, self.n, self.d);
        let picked = index::sample(&mut self.rng, rows, n);
        let noisy = self.setup.rule == Rule::Noisy;
        let sigma = if noisy { self.setup.s.sqrt() } else { 0.0 };
        if noisy {
            self.draw_noise(n * d);
        }
        self.x_centred.resize(n * d, 0.0);
        for (row, (input, i)) in self.x_centred.chunks_exact_mut(d).zip(picked.iter()).enumerate() {
            let x = &training[i * d..(i + 1) * d];
            if noisy {
                let e = &self.noise[row * d..(row + 1) * d];
                for ((v, x), e) in input.iter_mut().zip(x).zip(e) {
                    *v = x + sigma * e;
                }
            } else {
                input.copy_from_slice(x);
            }
        }
        let w_row_major: Vec<f64> = (0..d * d).map(|i| w[(i / d, i % d)]).collect();
        out.resize(n * d, 0.0);
        matmul_nt(&self.x_centred, &w_row_major, n, d, d, out);
        for row in out.chunks_exact_mut(d) {
            for (v, bi) in row.iter_mut().zip(b.iter()) {
                *v += bi;
            }
        }
    }

    fn measure(&mut self, x: &[f64], w: &DMatrix<f64>, phi: &DMatrix<f64>) -> Measured {
        let cov = self.covariance(x);
        let mut spectrum: Vec<f64> = cov.symmetric_eigenvalues().iter().copied().collect();
        spectrum.sort_by(|a, b| b.total_cmp(a));
        Measured {
            trace_ratio: cov.trace() / self.setup.covariance.trace(),
            w_norm: spectral_norm(w),
            phi_norm: spectral_norm(phi),
            spectrum,
        }
    }

    fn run(mut self, generation_done: &(dyn Fn() + Sync)) -> Result<Vec<Measured>, SimError> {
        let (n, d) = (self.n, self.d);
        let identity = DMatrix::<f64>::identity(d, d);
        let mut phi = identity.clone();

        let mut real0 = Vec::with_capacity(n * d);
        self.draw_real(n, &mut real0);
        let mut out = vec![self.measure(&real0, &identity, &phi)];
        // Generation k − 1, the one being built, all generations so far (Accumulate), a Mix training set.
        let mut previous = real0.clone();
        let mut generated = Vec::with_capacity(n * d);
        let accumulate = self.setup.strategy == Strategy::Accumulate;
        let mut pool = if accumulate { real0.clone() } else { Vec::new() };
        let mut mixed = Vec::new();

        for k in 1..=self.setup.generations {
            let training: &[f64] = match self.setup.strategy {
                Strategy::Replace => &previous,
                Strategy::Accumulate => &pool,
                Strategy::Mix { alpha, pool: real_pool } => {
                    let real_rows = (alpha * n as f64).round() as usize;
                    mixed.clear();
                    match real_pool {
                        RealPool::Fresh => self.draw_real(real_rows, &mut mixed),
                        RealPool::Fixed => mixed.extend_from_slice(&real0[..real_rows * d]),
                    }
                    // The last n − r rows: at k = 1, where generation 0 is also the fixed pool, this keeps
                    // the two parts disjoint.
                    mixed.extend_from_slice(&previous[real_rows * d..]);
                    &mixed
                }
            };
            let (w, b) = self.fit(training, k)?;
            self.generate(training, &w, &b, &mut generated);
            phi = &w * &phi;
            out.push(self.measure(&generated, &w, &phi));
            if accumulate {
                pool.extend_from_slice(&generated);
            }
            std::mem::swap(&mut previous, &mut generated);
            generation_done();
        }
        Ok(out)
    }
}

/// Column means of a row-major matrix with `d` columns.
fn column_means(x: &[f64], d: usize) -> Vec<f64> {
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    let rows = (x.len() / d) as f64;
    mean.iter_mut().for_each(|m| *m /= rows);
    mean
}

/// Spectral norm ‖A‖₂ = √λ_max(AᵀA).
fn spectral_norm(a: &DMatrix<f64>) -> f64 {
    (a.transpose() * a).symmetric_eigenvalues().max().max(0.0).sqrt()
}

/// Bytes one replicate holds at its peak, in f64: the real sample, the previous, generated and training
/// sets (n × d each, Accumulate's pool n × d per generation on top), and a handful of d × d matrices (the
/// factor, the Gram matrix, W, Φ and the eigendecomposition's work).
pub fn replicate_bytes(n: usize, d: usize, generations: usize, accumulate: bool) -> f64 {
    let (n, d) = (n as f64, d as f64);
    let pool = if accumulate { n * d * (generations as f64 + 1.0) } else { 0.0 };
    8.0 * (5.0 * n * d + pool + 8.0 * d * d)
}
