//! The linear DAE loop with finite samples: each generation fits `(W, b)` by least squares on n noisy
//! pairs and the fitted model produces the next generation (`THEORY.md` §2, last paragraph).
//!
//! Replicates are independent and run in parallel; each draws from its own stream, seeded from
//! `(seed, series, replicate)`, so the numbers do not depend on the thread count.

use super::stats::{mean_interval, Interval};
use crate::linalg::{matmul_nt, matmul_tn};
use crate::theory::{Covariance, RealPool, Rule, Strategy};
use nalgebra::{DMatrix, SymmetricEigen};
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
pub fn run(setup: &DaeSetup, mc: &MonteCarlo, series: u64, level: f64) -> Result<Vec<McGeneration>, SimError> {
    let replicates: Vec<Vec<Measured>> = (0..mc.replicates)
        .into_par_iter()
        .map(|r| {
            let rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(mc.seed, series, r as u64));
            Replicate::new(setup, mc.samples, r, rng).run()
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

/// One replicate's state: row-major n × d sample matrices.
struct Replicate<'a> {
    setup: &'a DaeSetup<'a>,
    n: usize,
    d: usize,
    index: usize,
    rng: Xoshiro256PlusPlus,
    /// L with L Lᵀ = Σ, row-major.
    factor: Vec<f64>,
}

impl<'a> Replicate<'a> {
    fn new(setup: &'a DaeSetup<'a>, n: usize, index: usize, rng: Xoshiro256PlusPlus) -> Self {
        let l = setup.covariance.sqrt_factor();
        let d = l.nrows();
        let factor = (0..d * d).map(|i| l[(i / d, i % d)]).collect();
        Self { setup, n, d, index, rng, factor }
    }

    fn normals(&mut self, len: usize) -> Vec<f64> {
        (0..len).map(|_| StandardNormal.sample(&mut self.rng)).collect()
    }

    /// `rows` real samples `x = L z`.
    fn real(&mut self, rows: usize) -> Vec<f64> {
        let z = self.normals(rows * self.d);
        let mut x = vec![0.0; rows * self.d];
        matmul_nt(&z, &self.factor, rows, self.d, self.d, &mut x);
        x
    }

    fn run(mut self) -> Result<Vec<Measured>, SimError> {
        let (n, d) = (self.n, self.d);
        let sigma = self.setup.s.sqrt();
        let trace = self.setup.covariance.trace();
        let identity = DMatrix::<f64>::identity(d, d);
        let mut phi = identity.clone();

        let real0 = self.real(n);
        let mut out = vec![measure(&real0, n, d, trace, &identity, &phi)];
        // Generations pooled so far (Accumulate) or just the last one.
        let mut pool = real0.clone();
        let mut previous = real0.clone();

        for k in 1..=self.setup.generations {
            let training = match self.setup.strategy {
                Strategy::Replace => previous.clone(),
                Strategy::Mix { alpha, pool: real_pool } => {
                    let real_rows = (alpha * n as f64).round() as usize;
                    let mut t = match real_pool {
                        RealPool::Fresh => self.real(real_rows),
                        RealPool::Fixed => real0[..real_rows * d].to_vec(),
                    };
                    t.extend_from_slice(&previous[..(n - real_rows) * d]);
                    t
                }
                Strategy::Accumulate => pool.clone(),
            };
            let rows = training.len() / d;

            // Least squares of x on [y, 1] with y = x + σε, via centred normal equations.
            let noise = self.normals(rows * d);
            let noisy: Vec<f64> = training.iter().zip(&noise).map(|(x, e)| x + sigma * e).collect();
            let (x_centred, x_mean) = centred(&training, rows, d);
            let (y_centred, y_mean) = centred(&noisy, rows, d);
            let mut sxy = vec![0.0; d * d];
            let mut syy = vec![0.0; d * d];
            matmul_tn(&x_centred, &y_centred, rows, d, d, &mut sxy);
            matmul_tn(&y_centred, &y_centred, rows, d, d, &mut syy);
            let sxy = DMatrix::from_row_slice(d, d, &sxy);
            let syy = DMatrix::from_row_slice(d, d, &syy);
            // Syy Wᵀ = Syx.
            let w_t = syy
                .cholesky()
                .map(|c| c.solve(&sxy.transpose()))
                .ok_or(SimError::SingularFit { generation: k, replicate: self.index })?;
            let w = w_t.transpose();
            let b: Vec<f64> = (0..d).map(|i| x_mean[i] - (0..d).map(|j| w[(i, j)] * y_mean[j]).sum::<f64>()).collect();

            // Generation k: f_k applied to n points drawn from the training set without replacement, in
            // random order, so that any prefix of it is a uniform subsample (Mix takes one).
            let picked = index::sample(&mut self.rng, rows, n);
            let mut input: Vec<f64> =
                picked.iter().flat_map(|i| training[i * d..(i + 1) * d].iter().copied()).collect();
            if self.setup.rule == Rule::Noisy {
                let fresh = self.normals(n * d);
                for (x, e) in input.iter_mut().zip(&fresh) {
                    *x += sigma * e;
                }
            }
            let w_row_major: Vec<f64> = (0..d * d).map(|i| w[(i / d, i % d)]).collect();
            let mut generated = vec![0.0; n * d];
            matmul_nt(&input, &w_row_major, n, d, d, &mut generated);
            for row in generated.chunks_exact_mut(d) {
                for (v, bi) in row.iter_mut().zip(&b) {
                    *v += bi;
                }
            }

            phi = &w * &phi;
            out.push(measure(&generated, n, d, trace, &w, &phi));
            if self.setup.strategy == Strategy::Accumulate {
                pool.extend_from_slice(&generated);
            }
            previous = generated;
        }
        Ok(out)
    }
}

/// The columns of a row-major `rows × d` matrix minus their means, and the means.
fn centred(x: &[f64], rows: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; d];
    for row in x.chunks_exact(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += v;
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    let centred = x.chunks_exact(d).flat_map(|row| row.iter().zip(&mean).map(|(v, m)| v - m)).collect();
    (centred, mean)
}

/// Spectral norm ‖A‖₂ = √λ_max(AᵀA).
fn spectral_norm(a: &DMatrix<f64>) -> f64 {
    SymmetricEigen::new(a.transpose() * a).eigenvalues.max().max(0.0).sqrt()
}

fn measure(x: &[f64], n: usize, d: usize, trace: f64, w: &DMatrix<f64>, phi: &DMatrix<f64>) -> Measured {
    let (x, _) = centred(x, n, d);
    let mut gram = vec![0.0; d * d];
    matmul_tn(&x, &x, n, d, d, &mut gram);
    let cov = DMatrix::from_row_slice(d, d, &gram) / (n - 1) as f64;
    let mut spectrum: Vec<f64> = SymmetricEigen::new(cov.clone()).eigenvalues.iter().copied().collect();
    spectrum.sort_by(|a, b| b.total_cmp(a));
    Measured { trace_ratio: cov.trace() / trace, w_norm: spectral_norm(w), phi_norm: spectral_norm(phi), spectrum }
}
