//! Where training pairs (x0, x1) come from: the trainer asks a [`PairSource`] for the batch of each step.

use super::error::TrainError;
use super::rng;
use super::sampler::Flow;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// A supplier of training pairs. `fill` must be a pure function of `step`, the source's own fixed settings
/// and what its last [`PairSource::refresh`] saw, for training to be resumable bit for bit.
pub trait PairSource {
    /// Dimension d of one sample.
    fn dim(&self) -> usize;
    /// Write the batch of step `step`: `x0` and `x1` are `batch × d`, row-major.
    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]);
    /// Called by the training loop before step `step` with the model being trained (its EMA weights):
    /// sources whose pairs come from that model (RA's re-inverted real pairs, ORA's online pairs)
    /// regenerate them here. The default does nothing.
    fn refresh(&mut self, _step: u64, _model: &dyn Flow) -> Result<(), TrainError> {
        Ok(())
    }
    /// Steps between two refreshes that read the model, if any. The loop checkpoints only on multiples
    /// of it, so a resumed run can redo the last refresh from the checkpointed weights.
    fn refresh_every(&self) -> Option<u64> {
        None
    }
    /// The batch as draws from row sets a device can hold ([`DevicePart`]s covering rows `0..batch`), so
    /// that a GPU trainer uploads each set once and draws every batch on the device with the very numbers
    /// [`PairSource::fill`] writes. `None` (the default): the batch comes from `fill`, through the host.
    fn device_parts(&self, _batch: usize) -> Option<Vec<DevicePart<'_>>> {
        None
    }
}

/// Row sets a batch is drawn from on a device (see [`PairSource::device_parts`]). `id` names the contents:
/// a set whose contents change gets a new id ([`fresh_set_id`]), so a device copy is never stale.
#[derive(Clone, Copy, Debug)]
pub enum DeviceDraw<'a> {
    /// As [`IndependentPairs`]: x1 = rows of `data` by the `(seed, PairRows, step)` stream, x0 = the
    /// `(seed, PairNoise, step)` normal fill from counter 0.
    Independent { id: u64, data: &'a [f32], seed: u64 },
    /// As [`CoupledPairs`]: row pairs of (`x0`, `x1`) by the `(seed, PairRows, step)` stream.
    Coupled { id: u64, x0: &'a [f32], x1: &'a [f32], seed: u64 },
}

/// Rows `rows` of a batch come from `draw` (the draw's row index b counts from the part's first row).
#[derive(Clone, Debug)]
pub struct DevicePart<'a> {
    pub rows: Range<usize>,
    pub draw: DeviceDraw<'a>,
}

/// A process-wide unique id for a row set's contents.
pub fn fresh_set_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
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
    id: u64,
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
        Ok(IndependentPairs { data, dim, rows: data.len() / dim, seed, id: fresh_set_id() })
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

    fn device_parts(&self, batch: usize) -> Option<Vec<DevicePart<'_>>> {
        let draw = DeviceDraw::Independent { id: self.id, data: self.data, seed: self.seed };
        Some(vec![DevicePart { rows: 0..batch, draw }])
    }
}

/// Host-side normal fill, the same numbers as [`super::Backend::fill_normal`] from counter 0.
pub fn fill_normal(seed: u64, stream: u64, out: &mut [f32]) {
    let key = rng::stream_key(seed, stream);
    const CHUNK: usize = 4096;
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, chunk)| rng::normal_slice(key, (c * CHUNK) as u64, chunk));
}

/// A fixed set of coupled pairs (x0_i, x1_i): a model's own (noise, sample) pairs, or real images with the
/// noise a reverse sampler inverted them to. Each step draws rows uniformly with replacement, keeping each
/// pair together.
///
/// # Formula
/// Row `b` of step s is pair `⌊bits(key, b)·n / 2⁶⁴⌋` with `key = stream_key(seed, stream(PairRows, s))`.
pub struct CoupledPairs {
    x0: Vec<f32>,
    x1: Vec<f32>,
    dim: usize,
    seed: u64,
    id: u64,
}

impl CoupledPairs {
    /// `x0` and `x1` hold the same n ≥ 1 rows of `dim` values, row i of one paired with row i of the other.
    pub fn new(x0: Vec<f32>, x1: Vec<f32>, dim: usize, seed: u64) -> Result<Self, TrainError> {
        if dim == 0 || x0.is_empty() || x0.len() != x1.len() || !x0.len().is_multiple_of(dim) {
            return Err(TrainError::invalid(
                "coupled pairs",
                format!("{} noise and {} data values", x0.len(), x1.len()),
                format!("the same positive number of rows of {dim}"),
            ));
        }
        Ok(CoupledPairs { x0, x1, dim, seed, id: fresh_set_id() })
    }

    /// Number of pairs n.
    pub fn rows(&self) -> usize {
        self.x0.len() / self.dim
    }
}

impl PairSource for CoupledPairs {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let d = self.dim;
        let key = rng::stream_key(self.seed, rng::stream(rng::Purpose::PairRows, step));
        let n = self.rows() as u64;
        for (b, (r0, r1)) in x0.chunks_mut(d).zip(x1.chunks_mut(d)).enumerate() {
            let r = rng::index_below(rng::bits(key, b as u64), n) as usize;
            r0.copy_from_slice(&self.x0[r * d..(r + 1) * d]);
            r1.copy_from_slice(&self.x1[r * d..(r + 1) * d]);
        }
    }

    fn device_parts(&self, batch: usize) -> Option<Vec<DevicePart<'_>>> {
        let draw = DeviceDraw::Coupled { id: self.id, x0: &self.x0, x1: &self.x1, seed: self.seed };
        Some(vec![DevicePart { rows: 0..batch, draw }])
    }
}

/// Two sources mixed by count in every batch, as RA/RCA reflow mixes real and synthetic pairs: the first
/// `⌊αB⌋` rows of each batch come from `real`, the other `B − ⌊αB⌋` from `synthetic`.
///
/// The two sources draw their rows from their own seeds: give them different ones (the reflow driver
/// keys every seed by purpose), or two [`CoupledPairs`] draw the same row indices.
pub struct MixedPairs<R: PairSource, S: PairSource> {
    real: R,
    synthetic: S,
    alpha: f64,
}

impl<R: PairSource, S: PairSource> MixedPairs<R, S> {
    /// α ∈ [0, 1] is the real fraction of each batch; both sources must have the same dimension.
    pub fn new(real: R, synthetic: S, alpha: f64) -> Result<Self, TrainError> {
        if !(0.0..=1.0).contains(&alpha) {
            return Err(TrainError::invalid("alpha", alpha, "[0, 1]"));
        }
        if real.dim() != synthetic.dim() {
            return Err(TrainError::invalid(
                "pair source dimension",
                real.dim(),
                format!("the synthetic pairs' {}", synthetic.dim()),
            ));
        }
        Ok(MixedPairs { real, synthetic, alpha })
    }

    /// The real-pair source (for its diagnostics).
    pub fn real(&self) -> &R {
        &self.real
    }

    /// Real rows in a batch of `batch`: `⌊α·batch⌋`.
    pub fn real_rows(&self, batch: usize) -> usize {
        (self.alpha * batch as f64).floor() as usize
    }
}

impl<R: PairSource, S: PairSource> PairSource for MixedPairs<R, S> {
    fn dim(&self) -> usize {
        self.real.dim()
    }

    fn refresh(&mut self, step: u64, model: &dyn Flow) -> Result<(), TrainError> {
        self.real.refresh(step, model)?;
        self.synthetic.refresh(step, model)
    }

    fn refresh_every(&self) -> Option<u64> {
        match (self.real.refresh_every(), self.synthetic.refresh_every()) {
            (Some(a), Some(b)) => Some(lcm(a, b)),
            (a, b) => a.or(b),
        }
    }

    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let d = self.dim();
        let split = self.real_rows(x0.len() / d) * d;
        let (real0, synth0) = x0.split_at_mut(split);
        let (real1, synth1) = x1.split_at_mut(split);
        if split > 0 {
            self.real.fill(step, real0, real1);
        }
        if !synth0.is_empty() {
            self.synthetic.fill(step, synth0, synth1);
        }
    }

    fn device_parts(&self, batch: usize) -> Option<Vec<DevicePart<'_>>> {
        let split = self.real_rows(batch);
        let mut parts = Vec::new();
        if split > 0 {
            parts.extend(self.real.device_parts(split)?);
        }
        if split < batch {
            for mut p in self.synthetic.device_parts(batch - split)? {
                p.rows = p.rows.start + split..p.rows.end + split;
                parts.push(p);
            }
        }
        Some(parts)
    }
}

/// Least common multiple of two positive integers.
pub fn lcm(a: u64, b: u64) -> u64 {
    let gcd = |mut a: u64, mut b: u64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    a / gcd(a, b).max(1) * b
}
