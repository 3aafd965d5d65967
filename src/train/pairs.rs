//! Where training pairs (x0, x1) come from: the trainer asks a [`PairSource`] for the batch of each step.

use super::error::TrainError;
use super::rng;
use rayon::prelude::*;

/// A supplier of training pairs. `fill` must be a pure function of `step` (and the source's own fixed
/// settings) for training to be resumable bit for bit.
pub trait PairSource {
    /// Dimension d of one sample.
    fn dim(&self) -> usize;
    /// Write the batch of step `step`: `x0` and `x1` are `batch × d`, row-major.
    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]);
}

/// Independent coupling over a data matrix: x1 = rows drawn uniformly with replacement, x0 ~ N(0, I).
///
/// # Formula
/// Row `b` of step s is data row `⌊bits(key_rows, b)·n / 2⁶⁴⌋` with `key_rows = stream_key(seed,
/// stream(PairRows, s))`; `x0[j] = normal_at(stream_key(seed, stream(PairNoise, s)), j)` for j over the batch.
pub struct IndependentPairs<'a> {
    data: &'a [f32],
    dim: usize,
    rows: usize,
    seed: u64,
}

impl<'a> IndependentPairs<'a> {
    /// `data` holds `n × dim` values, row-major (n ≥ 1).
    pub fn new(data: &'a [f32], dim: usize, seed: u64) -> Result<Self, TrainError> {
        if dim == 0 {
            return Err(TrainError::invalid("pairs.dim", dim, "≥ 1"));
        }
        if data.is_empty() || !data.len().is_multiple_of(dim) {
            return Err(TrainError::invalid(
                "pairs.data length",
                data.len(),
                format!("a positive multiple of the dimension {dim}"),
            ));
        }
        Ok(IndependentPairs { data, dim, rows: data.len() / dim, seed })
    }

    /// Number of data rows n.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl PairSource for IndependentPairs<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let d = self.dim;
        assert_eq!(x0.len(), x1.len(), "x0 and x1 must have the same shape");
        assert!(x1.len().is_multiple_of(d), "batch buffers must hold whole rows of {d}");
        let row_key = rng::stream_key(self.seed, rng::stream(rng::Purpose::PairRows, step));
        x1.par_chunks_mut(d).enumerate().for_each(|(b, row)| {
            let r = rng::index_below(rng::bits(row_key, b as u64), self.rows as u64) as usize;
            row.copy_from_slice(&self.data[r * d..(r + 1) * d]);
        });
        fill_normal(self.seed, rng::stream(rng::Purpose::PairNoise, step), x0);
    }
}

/// Host-side normal fill, the same numbers as [`super::Backend::fill_normal`] from counter 0.
pub fn fill_normal(seed: u64, stream: u64, out: &mut [f32]) {
    let key = rng::stream_key(seed, stream);
    const CHUNK: usize = 4096;
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| rng::normal_slice(key, (c * CHUNK) as u64, chunk));
}
