//! Couplings for reflow: a model's own (noise, sample) pairs, real images with the noise a reverse
//! integration gives them, pair sets on disk, and the pair sources that mix them into training batches.
//!
//! Time convention of [`crate::train`]: a pair is (x0, x1) with x0 the noise end (t = 0) and x1 the data end.
//!
//! # Formula
//! Synthetic pair: `z ~ N(0, I)`, `x̂ = clip(Φ_K(z))` with `Φ_K` the K-step forward Euler map of the model and
//! `clip` to [−1, 1] when asked (the data range of images). Inverted real pair: `(Φ_K⁻(x), x)` with `Φ_K⁻`
//! the K-step reverse Euler map (or reverse Euler–Maruyama with noise σ, `train::sampler`); the inverted
//! noise is never clipped.

use super::error::TrainError;
use super::pairs::{fill_normal, fresh_set_id, DeviceDraw, DevicePart, PairSource};
use super::rng;
use super::sampler::{Direction, Flow, SamplerConfig, Solver};
use crate::checkpoint::{Checkpoint, CheckpointError, Tensor};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// n coupled pairs: row i of `x0` (noise end) with row i of `x1` (data end), row-major, `dim` values a row.
#[derive(Clone, Debug, PartialEq)]
pub struct PairSet {
    pub x0: Vec<f32>,
    pub x1: Vec<f32>,
    pub dim: usize,
}

/// Mean and standard deviation over every entry of a matrix (f64 sums): for inverted noise, which should
/// be N(0, I) and is not.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EntryStats {
    pub mean: f64,
    pub std: f64,
}

impl EntryStats {
    /// Population mean and standard deviation of `values` (two passes; NaN for an empty slice).
    pub fn of(values: &[f32]) -> EntryStats {
        let n = values.len() as f64;
        let mean = values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = values.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        EntryStats { mean, std: var.sqrt() }
    }
}

impl PairSet {
    /// Number of pairs.
    pub fn rows(&self) -> usize {
        self.x0.len() / self.dim
    }

    /// The safetensors file of the set: tensors `x0` and `x1` of shape `[n, dim]`, then `metadata`.
    /// numpy and PyTorch open it with `safetensors`' own readers.
    pub fn save(&self, path: &Path, metadata: Vec<(String, String)>) -> Result<(), CheckpointError> {
        let shape = vec![self.rows(), self.dim];
        Checkpoint {
            tensors: vec![Tensor::new("x0", shape.clone(), self.x0.clone()), Tensor::new("x1", shape, self.x1.clone())],
            metadata,
        }
        .save(path)
    }

    /// A set written by [`PairSet::save`], with `dim` values a row.
    pub fn load(path: &Path, dim: usize) -> Result<PairSet, CheckpointError> {
        let checkpoint = Checkpoint::load(path)?;
        let file = path.display().to_string();
        // The row count from x0's own shape, if it has one: a scalar or a missing x0 is then reported as a
        // shape or a missing tensor naming the file.
        let n = checkpoint.tensors.iter().find(|t| t.name == "x0").and_then(|t| t.shape.first().copied()).unwrap_or(0);
        let x0 = checkpoint.tensor("x0", &[n, dim], &file)?.data.clone();
        let x1 = checkpoint.tensor("x1", &[n, dim], &file)?.data.clone();
        Ok(PairSet { x0, x1, dim })
    }
}

/// `n` synthetic pairs of `model`: noise from `seed` (stream `User`·2⁵⁶), K forward Euler steps, clipped to
/// [−1, 1] if `clip`. Also returns the trajectories' mean straightness.
pub fn synthetic_pairs(
    model: &dyn Flow,
    n: usize,
    seed: u64,
    steps: usize,
    clip: bool,
) -> Result<(PairSet, f64), TrainError> {
    let dim = model.dim();
    let mut z = vec![0.0f32; n * dim];
    fill_normal(seed, rng::stream(rng::Purpose::User, 0), &mut z);
    let mut sampled = model.integrate(&z, &SamplerConfig::new(Solver::Euler, steps, Direction::Forward))?;
    if clip {
        sampled.x.iter_mut().for_each(|v| *v = v.clamp(-1.0, 1.0));
    }
    Ok((PairSet { x0: z, x1: sampled.x, dim }, sampled.straightness))
}

/// The noise `model` inverts the rows of `x1` to: K reverse Euler steps, or reverse Euler–Maruyama with
/// noise σ > 0 (its increments from `seed`).
pub fn invert(model: &dyn Flow, x1: &[f32], steps: usize, noise: f32, seed: u64) -> Result<Vec<f32>, TrainError> {
    let config = SamplerConfig { noise, seed, ..SamplerConfig::new(Solver::Euler, steps, Direction::Reverse) };
    Ok(model.integrate(x1, &config)?.x)
}

/// Row `b` of step `step`'s batch: an index below `n` from the stream `(seed, PairRows, step)`.
fn row_of(seed: u64, step: u64, b: usize, n: usize) -> usize {
    let key = rng::stream_key(seed, rng::stream(rng::Purpose::PairRows, step));
    rng::index_below(rng::bits(key, b as u64), n as u64) as usize
}

/// Real images paired with the noise the model inverts them to (RA/RCA's real pairs). Either inverted once
/// by a fixed model ([`InvertedRealPairs::fixed`]) or re-inverted every `every` steps by the model being
/// trained ([`InvertedRealPairs::refreshed`]). Rows are drawn uniformly with replacement, as
/// [`super::CoupledPairs`] does.
pub struct InvertedRealPairs<'a> {
    real: &'a [f32],
    noise: Vec<f32>,
    dim: usize,
    steps: usize,
    sigma: f32,
    seed: u64,
    every: Option<u64>,
    /// Step of the last inversion (for resume checks and diagnostics).
    inverted_at: Option<u64>,
    /// Names the current noise for device copies (renewed by every inversion).
    id: u64,
}

impl<'a> InvertedRealPairs<'a> {
    /// `real` (n × dim) inverted now by `model`, kept for the whole run.
    pub fn fixed(model: &dyn Flow, real: &'a [f32], steps: usize, sigma: f32, seed: u64) -> Result<Self, TrainError> {
        let noise = invert(model, real, steps, sigma, seed)?;
        let dim = model.dim();
        Ok(InvertedRealPairs {
            real,
            noise,
            dim,
            steps,
            sigma,
            seed,
            every: None,
            inverted_at: Some(0),
            id: fresh_set_id(),
        })
    }

    /// `real` (n × dim), re-inverted by the model being trained before steps 0, every, 2·every, …
    pub fn refreshed(real: &'a [f32], dim: usize, steps: usize, sigma: f32, seed: u64, every: u64) -> Self {
        InvertedRealPairs {
            real,
            noise: Vec::new(),
            dim,
            steps,
            sigma,
            seed,
            every: Some(every.max(1)),
            inverted_at: None,
            id: fresh_set_id(),
        }
    }

    /// The inverted noise of the last inversion (empty before the first).
    pub fn noise(&self) -> &[f32] {
        &self.noise
    }

    fn rows(&self) -> usize {
        self.real.len() / self.dim
    }
}

impl PairSource for InvertedRealPairs<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn refresh(&mut self, step: u64, model: &dyn Flow) -> Result<(), TrainError> {
        if let Some(every) = self.every {
            if step.is_multiple_of(every) || self.inverted_at.is_none() {
                // The increments of a stochastic inversion differ per refresh.
                let seed = rng::stream_key(self.seed, step);
                self.noise = invert(model, self.real, self.steps, self.sigma, seed)?;
                self.inverted_at = Some(step);
                self.id = fresh_set_id();
            }
        }
        Ok(())
    }

    fn refresh_every(&self) -> Option<u64> {
        self.every
    }

    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let (d, n) = (self.dim, self.rows());
        for (b, (r0, r1)) in x0.chunks_mut(d).zip(x1.chunks_mut(d)).enumerate() {
            let r = row_of(self.seed, step, b, n);
            r0.copy_from_slice(&self.noise[r * d..(r + 1) * d]);
            r1.copy_from_slice(&self.real[r * d..(r + 1) * d]);
        }
    }

    fn device_parts(&self, batch: usize) -> Option<Vec<DevicePart<'_>>> {
        let draw = DeviceDraw::Coupled { id: self.id, x0: &self.noise, x1: self.real, seed: self.seed };
        (!self.noise.is_empty()).then(|| vec![DevicePart { rows: 0..batch, draw }])
    }
}

/// ORA/OCAR's real rows: every step, `rows` real images drawn with replacement, inverted afresh by the
/// model being trained (its EMA weights), deterministically or stochastically (ORAS).
pub struct OnlineRealPairs<'a> {
    real: &'a [f32],
    dim: usize,
    rows: usize,
    steps: usize,
    sigma: f32,
    seed: u64,
    x0: Vec<f32>,
    x1: Vec<f32>,
}

impl<'a> OnlineRealPairs<'a> {
    pub fn new(real: &'a [f32], dim: usize, rows: usize, steps: usize, sigma: f32, seed: u64) -> Self {
        OnlineRealPairs { real, dim, rows, steps, sigma, seed, x0: Vec::new(), x1: Vec::new() }
    }

    /// The noise of the last step's inversion.
    pub fn noise(&self) -> &[f32] {
        &self.x0
    }
}

impl PairSource for OnlineRealPairs<'_> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn refresh(&mut self, step: u64, model: &dyn Flow) -> Result<(), TrainError> {
        if self.rows == 0 {
            return Ok(());
        }
        let (d, n) = (self.dim, self.real.len() / self.dim);
        self.x1 = (0..self.rows).flat_map(|b| self.real[row_of(self.seed, step, b, n) * d..][..d].to_vec()).collect();
        self.x0 = invert(model, &self.x1, self.steps, self.sigma, rng::stream_key(self.seed, step))?;
        Ok(())
    }

    fn refresh_every(&self) -> Option<u64> {
        Some(1)
    }

    fn fill(&mut self, _step: u64, x0: &mut [f32], x1: &mut [f32]) {
        assert_eq!(x0.len(), self.x0.len(), "OnlineRealPairs was built for {} rows", self.rows);
        x0.copy_from_slice(&self.x0);
        x1.copy_from_slice(&self.x1);
    }
}

/// ORA/OCAR's synthetic rows: every step, `rows` fresh noises integrated forward by the model being trained
/// (its EMA weights), clipped if asked.
pub struct OnlineSyntheticPairs {
    dim: usize,
    rows: usize,
    steps: usize,
    clip: bool,
    seed: u64,
    pairs: Option<PairSet>,
}

impl OnlineSyntheticPairs {
    pub fn new(dim: usize, rows: usize, steps: usize, clip: bool, seed: u64) -> Self {
        OnlineSyntheticPairs { dim, rows, steps, clip, seed, pairs: None }
    }
}

impl PairSource for OnlineSyntheticPairs {
    fn dim(&self) -> usize {
        self.dim
    }

    fn refresh(&mut self, step: u64, model: &dyn Flow) -> Result<(), TrainError> {
        if self.rows == 0 {
            return Ok(());
        }
        let seed = rng::stream_key(self.seed, step);
        self.pairs = Some(synthetic_pairs(model, self.rows, seed, self.steps, self.clip)?.0);
        Ok(())
    }

    fn refresh_every(&self) -> Option<u64> {
        Some(1)
    }

    fn fill(&mut self, _step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let pairs = self.pairs.as_ref().expect("refresh runs before fill");
        assert_eq!(x0.len(), pairs.x0.len(), "OnlineSyntheticPairs was built for {} rows", self.rows);
        x0.copy_from_slice(&pairs.x0);
        x1.copy_from_slice(&pairs.x1);
    }
}

/// Accumulate's pool: pair sets on disk (one per earlier generation), read a row at a time, so no more than
/// one batch is ever in memory. Every set has equal weight: row b of step s comes from set `(b + s) mod m`
/// (m sets), at an index drawn uniformly within it; each batch holds ⌊B/m⌋ or ⌈B/m⌉ rows of every set,
/// and any m consecutive steps exactly B rows of each.
pub struct PooledPairs {
    files: Vec<PooledFile>,
    dim: usize,
    seed: u64,
    buf: Vec<u8>,
}

struct PooledFile {
    path: PathBuf,
    file: File,
    rows: usize,
    /// Byte offsets of tensors x0 and x1 in the file.
    x0: u64,
    x1: u64,
}

impl PooledPairs {
    /// The sets in `paths` (each written by [`PairSet::save`] with `dim` values a row).
    pub fn open(paths: &[PathBuf], dim: usize, seed: u64) -> Result<Self, CheckpointError> {
        let files = paths.iter().map(|p| PooledFile::open(p, dim)).collect::<Result<Vec<_>, _>>()?;
        if files.is_empty() {
            return Err(CheckpointError::Corrupt { file: "accumulate pool".into(), problem: "no pair sets".into() });
        }
        Ok(PooledPairs { files, dim, seed, buf: vec![0; 4 * dim] })
    }

    /// Number of pooled sets m.
    pub fn sets(&self) -> usize {
        self.files.len()
    }

    /// The set that row `b` of step `step` comes from.
    pub fn set_of(&self, step: u64, b: usize) -> usize {
        ((b as u64 + step) % self.files.len() as u64) as usize
    }

    /// The files of the pool, in set order.
    pub fn paths(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path.as_path()).collect()
    }
}

impl PooledFile {
    fn open(path: &Path, dim: usize) -> Result<PooledFile, CheckpointError> {
        let file_name = path.display().to_string();
        let read = |source| CheckpointError::Read { path: path.into(), source };
        let file = File::open(path).map_err(read)?;
        let mut len = [0u8; 8];
        file.read_exact_at(&mut len, 0).map_err(read)?;
        let header_len = u64::from_le_bytes(len);
        let total = file.metadata().map_err(read)?.len();
        let corrupt = |problem: String| CheckpointError::Corrupt { file: file_name.clone(), problem };
        if header_len > total.saturating_sub(8) {
            return Err(corrupt(format!("header length {header_len} exceeds the file")));
        }
        let mut header = vec![0u8; header_len as usize];
        file.read_exact_at(&mut header, 8).map_err(read)?;
        let header: serde_json::Value =
            serde_json::from_slice(&header).map_err(|e| corrupt(format!("header is not JSON: {e}")))?;
        let data = 8 + header_len;
        let span = |name: &str| -> Result<(usize, u64), CheckpointError> {
            let entry = &header[name];
            let shape: Vec<u64> =
                entry["shape"].as_array().map(|a| a.iter().filter_map(|v| v.as_u64()).collect()).unwrap_or_default();
            let begin = entry["data_offsets"][0].as_u64();
            let end = entry["data_offsets"][1].as_u64();
            match (shape.as_slice(), begin, end) {
                (&[n, d], Some(b), Some(e)) if d == dim as u64 && e - b == 4 * n * d && data + e <= total => {
                    Ok((n as usize, data + b))
                }
                _ => Err(corrupt(format!("tensor {name} is not [n, {dim}] f32 inside the file"))),
            }
        };
        let ((n0, x0), (n1, x1)) = (span("x0")?, span("x1")?);
        if n0 != n1 || n0 == 0 {
            return Err(corrupt(format!("x0 has {n0} rows and x1 {n1}: a pair set needs the same n ≥ 1")));
        }
        Ok(PooledFile { path: path.to_path_buf(), file, rows: n0, x0, x1 })
    }
}

impl PairSource for PooledPairs {
    fn dim(&self) -> usize {
        self.dim
    }

    fn fill(&mut self, step: u64, x0: &mut [f32], x1: &mut [f32]) {
        let d = self.dim;
        let row_bytes = 4 * d as u64;
        for (b, (r0, r1)) in x0.chunks_mut(d).zip(x1.chunks_mut(d)).enumerate() {
            let set = self.set_of(step, b);
            let f = &self.files[set];
            // Each set has its own row stream, so sets of equal size do not repeat each other's indices.
            let r = row_of(rng::stream_key(self.seed, set as u64), step, b, f.rows) as u64;
            for (out, base) in [(r0, f.x0), (r1, f.x1)] {
                f.file
                    .read_exact_at(&mut self.buf, base + r * row_bytes)
                    .unwrap_or_else(|e| panic!("reading pooled pairs {}: {e}", f.path.display()));
                for (v, bytes) in out.iter_mut().zip(self.buf.chunks_exact(4)) {
                    *v = f32::from_le_bytes(bytes.try_into().expect("4 bytes"));
                }
            }
        }
    }
}
