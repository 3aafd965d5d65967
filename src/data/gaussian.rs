//! Gaussian vector data N(m, Σ): the theory oracle's data, drawn with per-row random streams.

use super::{DataError, Dataset, Shape};
use crate::sim::dae::stream_seed;
use crate::theory::Covariance;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

/// The series index that separates these streams from the DAE Monte Carlo's under the same seed.
const GAUSSIAN_SERIES: u64 = 0x6761_7573_7369_616e; // "gaussian"

/// n draws of N(m, Σ) in d = Σ.dim() dimensions, stored as f32 rows (`Shape::Vector`), unlabelled.
///
/// These values are **not** clipped or rescaled to [-1, 1]: they are the data the closed forms speak
/// about, and clipping would change their law. Row i uses its own Xoshiro256++ stream seeded from
/// `(seed, row i)` (`sim::dae::stream_seed`), so the output does not depend on the rayon thread count.
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
    // Row-major L, so that row r of L is contiguous.
    let l: Vec<f64> = (0..d).flat_map(|r| (0..d).map(move |c| (r, c))).map(|(r, c)| factor[(r, c)]).collect();
    let mut values = vec![0.0f32; n * d];
    values.par_chunks_mut(d).enumerate().for_each_init(
        || vec![0.0f64; d],
        |z, (row, out)| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, GAUSSIAN_SERIES, row as u64));
            for v in z.iter_mut() {
                *v = StandardNormal.sample(&mut rng);
            }
            for (r, x) in out.iter_mut().enumerate() {
                let lz: f64 = l[r * d..(r + 1) * d].iter().zip(z.iter()).map(|(a, b)| a * b).sum();
                *x = (mean[r] + lz) as f32;
            }
        },
    );
    let source = format!("Gaussian N(m, Σ), d = {d}, tr Σ = {:.6}, n = {n}, seed = {seed}", covariance.trace());
    Dataset::new(values, Shape::Vector { dim: d }, None, source)
}
