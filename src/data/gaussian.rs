//! Gaussian vector data N(m, Σ): the theory oracle's data, drawn with per-row random streams.

use super::{DataError, Dataset, Shape};
use crate::linalg::matmul_nt;
use crate::sim::dae::stream_seed;
use crate::theory::Covariance;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// The series index that separates these streams from the DAE Monte Carlo's under the same seed.
const GAUSSIAN_SERIES: u64 = 0x6761_7573_7369_616e; // "gaussian"

/// Rows per matrix product `Z Lᵀ`.
const BLOCK: usize = 256;

/// n draws of N(m, Σ) in d = Σ.dim() dimensions, stored as f32 rows (`Shape::Vector`), unlabelled.
///
/// These values are **not** clipped or rescaled to [-1, 1]: they are the data the closed forms speak
/// about, and clipping would change their law. Row i draws z_i from its own Xoshiro256++ stream seeded from
/// `(seed, i)` (`sim::dae::stream_seed`), and rows are transformed in fixed blocks of 256 by a single-threaded
/// product, so the output does not depend on the rayon thread count.
///
/// # Formula
/// `x_i = m + L z_i`, `z_i ~ N(0, I_d)`, `L = Q diag(√λ)` (`Covariance::sqrt_factor`, `L Lᵀ = Σ`),
/// computed in f64 and rounded to f32.
///
/// Errors: n = 0, or `mean` has a length other than d or a non-finite entry.
pub fn gaussian_vectors(n: usize, mean: &[f64], covariance: &Covariance, seed: u64) -> Result<Dataset, DataError> {
    let d = covariance.dim();
    if n == 0 {
        return Err(DataError::invalid("n", n, "≥ 1 samples"));
    }
    if mean.len() != d {
        return Err(DataError::invalid(
            "mean",
            format!("{} entries", mean.len()),
            format!("{d}, the covariance's dimension"),
        ));
    }
    if let Some((i, v)) = mean.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DataError::invalid("mean", format!("entry {i} = {v}"), "finite numbers"));
    }
    let factor = covariance.sqrt_factor();
    // Row-major L for `matmul_nt`.
    let l: Vec<f64> = (0..d).flat_map(|r| (0..d).map(move |c| (r, c))).map(|(r, c)| factor[(r, c)]).collect();
    let mut values = vec![0.0f32; n * d];
    // Fixed blocks of rows (not one per thread), so each product sees the same rows whatever the thread count.
    values.par_chunks_mut(BLOCK * d).enumerate().for_each(|(block, out)| {
        let rows = out.len() / d;
        let mut z = vec![0.0f64; rows * d];
        for (r, zr) in z.chunks_exact_mut(d).enumerate() {
            let row = (block * BLOCK + r) as u64;
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, GAUSSIAN_SERIES, row));
            for v in zr.iter_mut() {
                *v = StandardNormal.sample(&mut rng);
            }
        }
        let mut lz = vec![0.0f64; rows * d];
        matmul_nt(&z, &l, rows, d, d, &mut lz);
        for (x, (v, m)) in out.iter_mut().zip(lz.iter().zip(mean.iter().cycle())) {
            *x = (m + v) as f32;
        }
    });
    let source = format!("Gaussian N(m, Σ), d = {d}, tr Σ = {:.6}, n = {n}, seed = {seed}", covariance.trace());
    Dataset::new(values, Shape::Vector { dim: d }, None, source)
}
