//! Sampling and inversion with a trained velocity field: Euler or Heun, forward (0 → 1, noise to data) or
//! reverse (1 → 0, data to noise), with NFE counted and the straightness of the trajectories measured.
//!
//! The time grid and the Heun convention are those of `theory::flow::integrate` (nodes `t_j = j/K` forward,
//! `(K − j)/K` in reverse, signed step `δ = ±1/K`; Heun on steps 0…K−2 and Euler on the last, NFE 2K − 1),
//! so a network that has learnt the exact Gaussian field reproduces `theory::flow::solver_map`.
//!
//! # Formula
//! Euler: `x_{j+1} = x_j + δ v(x_j, t_j)`. Heun: `x̃ = x_j + δ v(x_j, t_j)`,
//! `x_{j+1} = x_j + (δ/2)(v(x_j, t_j) + v(x̃, t_{j+1}))`. Stochastic reverse (noise scale σ > 0, inversion
//! only): Euler–Maruyama of `dx = v dt + σ dW`, i.e. `x_{j+1} = x_j + δ v(x_j, t_j) + σ √|δ| ε_j` — a
//! heuristic that blurs the inverted noise; it is not the exact reverse SDE of the flow.
//!
//! Straightness (rfpp's definition), averaged over samples: `S = (1/K) Σ_j ‖Δ_j/|δ| − D‖²` with
//! `Δ_j = x_{j+1} − x_j` and `D = ±(x_K − x_0)` oriented along time. Because `Σ_j Δ_j = x_K − x_0` it equals
//! `(1/K) Σ_j ‖Δ_j/δ‖² − ‖x_K − x_0‖²`, which needs no stored trajectory: the sampler streams it.

use super::backend::Backend;
use super::model::Mlp;
use super::net::{self, Workspace};
use super::rng;
use super::TrainError;
pub use crate::theory::flow::{Direction, Solver};

/// How to integrate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerConfig {
    pub solver: Solver,
    /// K ≥ 1 steps.
    pub steps: usize,
    pub direction: Direction,
    /// σ ≥ 0 of the stochastic reverse variant (0: deterministic); reverse Euler only.
    pub noise: f32,
    /// Seed of the stochastic variant's noise.
    pub seed: u64,
    /// Rows integrated at once (bounds the memory; the result does not depend on it).
    pub chunk: usize,
}

impl SamplerConfig {
    pub const MAX_STEPS: usize = 100_000;
    pub const DEFAULT_CHUNK: usize = 1024;

    /// Deterministic K-step sampler in `direction`.
    pub fn new(solver: Solver, steps: usize, direction: Direction) -> Self {
        SamplerConfig { solver, steps, direction, noise: 0.0, seed: 0, chunk: Self::DEFAULT_CHUNK }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        if !(1..=Self::MAX_STEPS).contains(&self.steps) {
            return Err(TrainError::invalid("steps", self.steps, format!("1..={}", Self::MAX_STEPS)));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(TrainError::invalid("noise", self.noise, "a finite σ ≥ 0"));
        }
        if self.noise > 0.0 && (self.direction != Direction::Reverse || self.solver != Solver::Euler) {
            return Err(TrainError::invalid(
                "noise",
                self.noise,
                "0 unless inverting (reverse) with Euler: the stochastic variant is reverse Euler–Maruyama",
            ));
        }
        if self.chunk == 0 {
            return Err(TrainError::invalid("chunk", 0, "≥ 1 rows"));
        }
        Ok(())
    }

    /// Velocity evaluations per sample.
    pub fn nfe(&self) -> usize {
        self.solver.nfe(self.steps)
    }
}

/// The end points and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    /// n × d end points (data when forward, noise when reverse).
    pub x: Vec<f32>,
    /// Velocity evaluations per sample.
    pub nfe: usize,
    /// Mean over samples of the trajectories' straightness (see the module doc).
    pub straightness: f64,
}

/// Where the rows to integrate come from.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// Given on the host (n × d).
    Host(&'a [f32]),
    /// n rows of N(0, I) noise from `(seed, stream)`, counter `r·d + j` for row r, drawn on the device.
    Noise { n: usize, seed: u64, stream: u64 },
}

/// Integrate every row of `start` (n × d) with the field `params` of `mlp`.
pub fn integrate<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    start: &[f32],
    config: &SamplerConfig,
) -> Result<Sampled, TrainError> {
    let d = mlp.config().dim;
    if start.is_empty() || !start.len().is_multiple_of(d) {
        return Err(TrainError::invalid("start", format!("{} values", start.len()), format!("n × {d}, n ≥ 1")));
    }
    integrate_from(b, mlp, params, Start::Host(start), config)
}

/// The sampler proper: chunks of `config.chunk` rows, the time grid computed once, per-step work on the
/// device, and per chunk one upload (host starts only), one download and one read of the two straightness
/// sums (Σ_j ‖Δ_j‖² and ‖x_K − x_0‖², accumulated in device scalars).
fn integrate_from<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    start: Start<'_>,
    config: &SamplerConfig,
) -> Result<Sampled, TrainError> {
    config.validate()?;
    let d = mlp.config().dim;
    let n = match start {
        Start::Host(x) => x.len() / d,
        Start::Noise { n, .. } => n,
    };
    let rows = config.chunk.min(n);
    let mut ws = Workspace::new(b, mlp, rows)?;
    let (k, delta) = (config.steps, config.direction.step(config.steps));
    let grid: Vec<f32> = (0..=k).map(|j| config.direction.node(j, k) as f32).collect();
    let mut out = Vec::with_capacity(n * d);
    let (mut speed_sq, mut chord_sq) = (0.0f64, 0.0f64);
    let (mut x, mut x0, mut prev, mut v1, mut tilde) =
        (b.zeros(rows * d)?, b.zeros(rows * d)?, b.zeros(rows * d)?, b.zeros(rows * d)?, b.zeros(rows * d)?);
    let mut noise = if config.noise > 0.0 { b.zeros(rows * d)? } else { b.zeros(0)? };
    let mut t = b.zeros(rows)?;
    let mut sums = b.scalars(2)?;
    for (c, first) in (0..n).step_by(rows).enumerate() {
        let m = rows.min(n - first);
        let len = m * d;
        match start {
            Start::Host(host) => {
                // A short last chunk still runs the workspace's full row count: pad with zeros, drop afterwards.
                let mut block = host[first * d..(first + m) * d].to_vec();
                block.resize(rows * d, 0.0);
                b.upload_into(&block, b.view_mut(&mut x))?;
            }
            Start::Noise { seed, stream, .. } => b.fill_normal(seed, stream, (first * d) as u64, b.view_mut(&mut x))?,
        }
        b.copy(b.view(&x), b.view_mut(&mut x0))?;
        for j in 0..k {
            b.copy(b.view(&x), b.view_mut(&mut prev))?;
            b.fill(grid[j], b.view_mut(&mut t))?;
            net::forward(b, mlp, params, &x, &t, &mut ws)?;
            if config.solver == Solver::Heun && j + 1 < k {
                b.copy(b.view(ws.output()), b.view_mut(&mut v1))?;
                b.euler_to(delta as f32, b.view(&x), b.view(&v1), b.view_mut(&mut tilde))?;
                b.fill(grid[j + 1], b.view_mut(&mut t))?;
                net::forward(b, mlp, params, &tilde, &t, &mut ws)?;
                b.heun(delta as f32, b.view(&v1), b.view(ws.output()), b.view_mut(&mut x))?;
            } else {
                b.euler(delta as f32, b.view(ws.output()), b.view_mut(&mut x))?;
            }
            if config.noise > 0.0 {
                let stream = rng::stream(rng::Purpose::Sampler, j as u64);
                b.fill_normal(config.seed, stream, (c * rows * d) as u64, b.view_mut(&mut noise))?;
                b.euler(config.noise * (delta.abs() as f32).sqrt(), b.view(&noise), b.view_mut(&mut x))?;
            }
            // Δ_j in `tilde` (free again): its sum of squares over the real rows, added on the device.
            b.euler_to(-1.0, b.view(&x), b.view(&prev), b.view_mut(&mut tilde))?;
            b.sum_squares(b.slice(&tilde, 0..len), &mut sums, 0, j > 0)?;
        }
        b.euler_to(-1.0, b.view(&x), b.view(&x0), b.view_mut(&mut tilde))?;
        b.sum_squares(b.slice(&tilde, 0..len), &mut sums, 1, false)?;
        let s = b.read_scalars(&sums)?;
        speed_sq += s[0] / (delta * delta);
        chord_sq += s[1];
        out.extend_from_slice(&b.download(b.slice(&x, 0..len))?);
    }
    let straightness = (speed_sq / k as f64 - chord_sq) / n as f64;
    Ok(Sampled { x: out, nfe: config.nfe(), straightness })
}

/// n samples from N(0, I) noise (seeded, `Purpose::Sampler` streams after the solver's), integrated forward;
/// the noise is drawn on the device (the same numbers as [`super::pairs::fill_normal`] of that stream).
pub fn generate<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    n: usize,
    seed: u64,
    solver: Solver,
    steps: usize,
) -> Result<Sampled, TrainError> {
    if n == 0 {
        return Err(TrainError::invalid("samples", 0, "≥ 1"));
    }
    let start = Start::Noise { n, seed, stream: rng::stream(rng::Purpose::Sampler, NOISE_STREAM) };
    integrate_from(b, mlp, params, start, &SamplerConfig::new(solver, steps, Direction::Forward))
}

/// Stream index of [`generate`]'s starting noise, above any step index.
const NOISE_STREAM: u64 = 1 << 40;

/// A velocity field that can be integrated, as a trait object: pair sources that generate or invert pairs
/// with the model being trained need its weights, not its backend type.
pub trait Flow {
    /// Dimension d of one sample.
    fn dim(&self) -> usize;
    /// [`integrate`] every row of `start` (n × d).
    fn integrate(&self, start: &[f32], config: &SamplerConfig) -> Result<Sampled, TrainError>;
}

/// One network's weights on one backend (e.g. a trainer's EMA weights).
pub struct Weights<'a, B: Backend> {
    pub backend: &'a B,
    pub mlp: &'a Mlp,
    pub params: &'a B::Buf,
}

impl<B: Backend> Flow for Weights<'_, B> {
    fn dim(&self) -> usize {
        self.mlp.config().dim
    }

    fn integrate(&self, start: &[f32], config: &SamplerConfig) -> Result<Sampled, TrainError> {
        integrate(self.backend, self.mlp, self.params, start, config)
    }
}
