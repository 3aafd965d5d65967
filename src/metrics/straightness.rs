//! Straightness of sampled trajectories (the rfpp definition), accumulated step by step.
//!
//! # Formula
//! For states `x_0 … x_K` of K solver steps of size h, with step velocities `v_j = (x_{j+1} − x_j)/h` and the
//! mean velocity `v̄ = (x_K − x_0)/(K h)`:
//! `S = (1/K) Σ_j E‖v_j − v̄‖²` (expectation over samples, squared norm summed over coordinates).
//! On the project's grid (`h = 1/K`, t from 0 to 1) `v̄ = x_K − x_0`, which is rfpp's formula exactly; the
//! mean velocity keeps the definition meaningful on any grid. It is 0 for straight paths at constant
//! speed, and [`crate::theory::flow::euler_straightness`] for Euler on the exact Gaussian flow.
//!
//! # Numerics
//! The trainer cannot keep K + 1 state matrices, so [`Straightness`] keeps only the previous state and a
//! running mean of the velocities (Welford): with `δ = v_j − v̄_{j}` (mean of the first j velocities),
//! `v̄_{j+1} = v̄_j + δ/(j+1)` and `M₂ += ‖δ‖²·j/(j+1)`, so that `M₂ = Σ_j ‖v_j − v̄‖²` at the end without
//! the cancellation of `Σ‖v_j‖² − K‖v̄‖²`. Velocities are formed in f64 from the f32 states.

use super::{MetricsError, Samples};
use rayon::prelude::*;
use serde::Serialize;

/// Samples per parallel task.
const ROW_BLOCK: usize = 64;

/// Straightness averaged over samples, with the spread across samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StraightnessStats {
    /// `S`: the mean over samples of `(1/K) Σ_j ‖v_j − v̄‖²`.
    pub mean: f64,
    /// Sample standard deviation of the per-sample value (divisor n − 1; 0 for one sample).
    pub std_dev: f64,
    pub n: usize,
    pub steps: usize,
}

/// Running straightness of n trajectories: feed `x_0`, then each new state in order.
///
/// # Example
/// A path `0 → 1 → 1` with h = 1/2 has velocities 2 and 0 about a mean of 1: straightness 1. A straight
/// path at constant speed has 0.
/// ```
/// use flowcollapse::metrics::{Samples, Straightness};
/// let states = [[0.0f32, 0.0], [1.0, 0.5], [1.0, 1.0]]; // sample 0 bends, sample 1 is straight
/// let mut acc = Straightness::new(Samples::new("x_0", &states[0], 2, 1).unwrap(), 0.5).unwrap();
/// for x in &states[1..] {
///     acc.push(Samples::new("x_j", x, 2, 1).unwrap()).unwrap();
/// }
/// let stats = acc.finish().unwrap();
/// assert_eq!((stats.mean, stats.steps), (0.5, 2)); // (1 + 0) / 2
/// assert!((stats.std_dev - 0.5f64.sqrt()).abs() < 1e-15);
/// ```
pub struct Straightness {
    h: f64,
    rows: usize,
    cols: usize,
    steps: usize,
    previous: Vec<f32>,
    mean_velocity: Vec<f64>,
    m2: Vec<f64>,
}

impl Straightness {
    /// Start from the initial states `x_0`; `h` is the step size (nonzero, finite).
    pub fn new(x0: Samples<'_>, h: f64) -> Result<Self, MetricsError> {
        if !(h.is_finite() && h != 0.0) {
            return Err(MetricsError::invalid("straightness step h", h, "a finite nonzero step size"));
        }
        Ok(Straightness {
            h,
            rows: x0.rows(),
            cols: x0.cols(),
            steps: 0,
            previous: x0.data().to_vec(),
            mean_velocity: vec![0.0; x0.rows() * x0.cols()],
            m2: vec![0.0; x0.rows()],
        })
    }

    /// Add the next states `x_{j+1}` (same shape as `x_0`).
    pub fn push(&mut self, next: Samples<'_>) -> Result<(), MetricsError> {
        if next.rows() != self.rows || next.cols() != self.cols {
            return Err(MetricsError::invalid(
                next.name(),
                format!("{} × {}", next.rows(), next.cols()),
                format!("{} × {} (the shape of x_0)", self.rows, self.cols),
            ));
        }
        let d = self.cols;
        let (inv_h, j) = (1.0 / self.h, self.steps as f64);
        let (keep, weight) = (1.0 / (j + 1.0), j / (j + 1.0));
        let block = ROW_BLOCK * d;
        self.previous
            .par_chunks_mut(block)
            .zip(self.mean_velocity.par_chunks_mut(block))
            .zip(self.m2.par_chunks_mut(ROW_BLOCK))
            .zip(next.data().par_chunks(block))
            .for_each(|(((prev, mean), m2), new)| {
                for (((p, mv), m2), x) in
                    prev.chunks_exact_mut(d).zip(mean.chunks_exact_mut(d)).zip(m2.iter_mut()).zip(new.chunks_exact(d))
                {
                    let mut sq = 0.0;
                    for ((p, mv), &x) in p.iter_mut().zip(mv.iter_mut()).zip(x) {
                        let v = (x as f64 - *p as f64) * inv_h;
                        let delta = v - *mv;
                        *mv += delta * keep;
                        sq += delta * delta;
                        *p = x;
                    }
                    *m2 += sq * weight;
                }
            });
        self.steps += 1;
        Ok(())
    }

    /// Steps pushed so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The straightness of the trajectories so far (at least one step).
    pub fn finish(&self) -> Result<StraightnessStats, MetricsError> {
        if self.steps == 0 {
            return Err(MetricsError::invalid("straightness steps", 0, "at least 1 step after x_0"));
        }
        let k = self.steps as f64;
        let n = self.rows as f64;
        let mean = self.m2.iter().map(|m| m / k).sum::<f64>() / n;
        let var =
            if self.rows > 1 { self.m2.iter().map(|m| (m / k - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        Ok(StraightnessStats { mean, std_dev: var.sqrt(), n: self.rows, steps: self.steps })
    }
}

impl std::fmt::Debug for Straightness {
    /// The shape and progress, not the buffers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Straightness")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("h", &self.h)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// Straightness of the trajectories whose states are `states[0] … states[K]` (K ≥ 1), step size h.
///
/// # Example
/// Euler on the exact Gaussian flow, λ = 4, K = 2, from x0 = ±1: the states are `±(1, 1/2, 4/5)`, and the
/// measured straightness is [`crate::theory::flow::euler_straightness`]'s 0.64:
/// ```
/// use flowcollapse::metrics::{straightness, Samples};
/// use flowcollapse::theory::{flow::euler_straightness, Covariance};
/// let states = [[1.0f32, -1.0], [0.5, -0.5], [0.8, -0.8]];
/// let views: Vec<Samples> = states.iter().map(|x| Samples::new("x", x, 2, 1).unwrap()).collect();
/// let measured = straightness(&views, 0.5).unwrap().mean;
/// let exact = euler_straightness(&Covariance::from_spectrum(&[4.0]).unwrap(), 2);
/// assert!((measured - exact).abs() < 1e-6); // f32 states
/// ```
pub fn straightness(states: &[Samples<'_>], h: f64) -> Result<StraightnessStats, MetricsError> {
    let (first, rest) =
        states.split_first().ok_or_else(|| MetricsError::invalid("straightness states", 0, "x_0 … x_K with K ≥ 1"))?;
    let mut acc = Straightness::new(*first, h)?;
    for s in rest {
        acc.push(*s)?;
    }
    acc.finish()
}
