//! The linear denoising autoencoder retrained on its own outputs, in the population limit (n → ∞).
//!
//! A model `f(y) = W y + b` trained by `min E‖x − f(x + σε)‖²` on data with mean m and covariance C has
//! `W = C (C + sI)⁻¹`, `b = (I − W) m` (proofs/dae-optimal-w.md). All covariances are functions of Σ, so the
//! recursion runs per eigenvalue λ (proofs/dae-covariance-recursion.md) with training variance `c_k` and
//! generated variance `μ_k`, `μ_0 = λ`:
//!
//! | strategy   | training variance `c_k`            |
//! |------------|------------------------------------|
//! | Replace    | `μ_{k−1}`                          |
//! | Mix α      | `αλ + (1−α) μ_{k−1}`               |
//! | Accumulate | `(μ_0 + … + μ_{k−1}) / k`          |
//!
//! and `μ_k = m(c_k)` with [`generated_variance`].

use super::strategy::{Rule, Strategy};
use nalgebra::{DMatrix, DVector};

/// Per-generation gain of the optimal DAE along a direction of training variance `c ≥ 0`, for `s > 0`.
///
/// # Formula
/// `w = c / (c + s)`, the eigenvalue of `W = C (C + sI)⁻¹` (proofs/dae-optimal-w.md).
#[inline]
pub fn gain(c: f64, s: f64) -> f64 {
    c / (c + s)
}

/// Variance generated along a direction of training variance `c`.
///
/// # Formula
/// noisy rule `m(c) = c² / (c + s)` (from `W (C + sI) Wᵀ`); clean rule `m(c) = c³ / (c + s)²` (from `W C Wᵀ`).
/// See proofs/dae-covariance-recursion.md.
#[inline]
pub fn generated_variance(c: f64, s: f64, rule: Rule) -> f64 {
    generated_from_gain(gain(c, s), c, rule)
}

/// [`generated_variance`] written through the gain `w = c/(c + s)`: noisy `w·c`, clean `w²·c`.
#[inline]
fn generated_from_gain(w: f64, c: f64, rule: Rule) -> f64 {
    match rule {
        Rule::Noisy => w * c,
        Rule::Clean => w * w * c,
    }
}

/// Derivative `m'(c)` of [`generated_variance`]; in `[0, 1)` for `c ≥ 0`, which makes Mix a contraction.
///
/// # Formula
/// noisy `c (c + 2s) / (c + s)²`; clean `c² (c + 3s) / (c + s)³` (proofs/dae-mix-fixed-point.md).
pub fn generated_variance_slope(c: f64, s: f64, rule: Rule) -> f64 {
    let d = c + s;
    match rule {
        Rule::Noisy => c * (c + 2.0 * s) / (d * d),
        Rule::Clean => c * c * (c + 3.0 * s) / (d * d * d),
    }
}

/// The optimal affine DAE for training data with covariance `c` and mean `m` (matrix form).
///
/// # Formula
/// `W = C (C + sI)⁻¹`, `b = (I − W) m`; unique because the risk is strictly convex for s > 0
/// (proofs/dae-optimal-w.md). Computed as the solution of `(C + sI) Wᵀ = C` (C symmetric).
pub fn optimal_dae(c: &DMatrix<f64>, m: &DVector<f64>, s: f64) -> (DMatrix<f64>, DVector<f64>) {
    let d = c.nrows();
    let shifted = c + DMatrix::identity(d, d) * s;
    let w_t = shifted.cholesky().expect("C + sI is positive definite for a PSD C and s > 0").solve(c);
    let w = w_t.transpose();
    let b = m - &w * m;
    (w, b)
}

/// The per-direction state of the recursion at generation k.
///
/// Generation 0 is the real data: `training = generated = λ`, and the maps are the identity (`gain = 1`).
#[derive(Clone, Debug)]
pub struct DaeRecursion {
    s: f64,
    strategy: Strategy,
    rule: Rule,
    generation: usize,
    lambda: Vec<f64>,
    lambda_trace: f64,
    training: Vec<f64>,
    generated: Vec<f64>,
    gain: Vec<f64>,
    end_to_end: Vec<f64>,
    /// μ_0 + … + μ_k, for Accumulate.
    generated_sum: Vec<f64>,
}

/// One generation's scalar summary: what the records and plots carry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenerationSummary {
    pub generation: usize,
    /// `tr(S_k) / tr(Σ)`.
    pub trace_ratio: f64,
    /// Largest eigenvalue of the generated covariance `S_k`.
    pub top_eigenvalue: f64,
    /// `‖W_k‖₂ = max_i w_k(λ_i)`.
    pub w_norm: f64,
    /// `‖Φ_k‖₂ = ‖W_k ⋯ W_1‖₂ = max_i Π_j w_j(λ_i)`.
    pub phi_norm: f64,
}

impl DaeRecursion {
    /// Start at generation 0 for the real spectrum `lambda` (each ≥ 0), noise variance `s > 0`.
    pub fn new(lambda: &[f64], s: f64, strategy: Strategy, rule: Rule) -> Self {
        let d = lambda.len();
        Self {
            s,
            strategy,
            rule,
            generation: 0,
            lambda: lambda.to_vec(),
            lambda_trace: lambda.iter().sum(),
            training: lambda.to_vec(),
            generated: lambda.to_vec(),
            gain: vec![1.0; d],
            end_to_end: vec![1.0; d],
            generated_sum: lambda.to_vec(),
        }
    }

    /// Advance to the next generation.
    pub fn step(&mut self) {
        let k = self.generation + 1;
        // Training variances first (one pass per strategy), then one branch-free pass for the rest.
        match self.strategy {
            Strategy::Replace => self.training.copy_from_slice(&self.generated),
            Strategy::Mix { alpha, .. } => {
                for ((c, &l), &mu) in self.training.iter_mut().zip(&self.lambda).zip(&self.generated) {
                    *c = alpha * l + (1.0 - alpha) * mu;
                }
            }
            Strategy::Accumulate => {
                for (c, &total) in self.training.iter_mut().zip(&self.generated_sum) {
                    *c = total / k as f64;
                }
            }
        }
        let (s, rule) = (self.s, self.rule);
        let state = self
            .training
            .iter()
            .zip(self.gain.iter_mut())
            .zip(self.end_to_end.iter_mut())
            .zip(self.generated.iter_mut().zip(self.generated_sum.iter_mut()));
        for (((&c, w), phi), (mu, total)) in state {
            *w = gain(c, s);
            *phi *= *w;
            *mu = generated_from_gain(*w, c, rule);
            *total += *mu;
        }
        self.generation = k;
    }

    pub fn generation(&self) -> usize {
        self.generation
    }
    /// Real eigenvalues λ.
    pub fn lambda(&self) -> &[f64] {
        &self.lambda
    }
    /// Training variances `c_k` per direction.
    pub fn training(&self) -> &[f64] {
        &self.training
    }
    /// Generated variances `μ_k` per direction (the spectrum of generation k).
    pub fn generated(&self) -> &[f64] {
        &self.generated
    }
    /// Per-generation gains `w_k` (eigenvalues of `W_k`).
    pub fn gain(&self) -> &[f64] {
        &self.gain
    }
    /// End-to-end gains (eigenvalues of `Φ_k = W_k ⋯ W_1`).
    pub fn end_to_end(&self) -> &[f64] {
        &self.end_to_end
    }

    pub fn summary(&self) -> GenerationSummary {
        let (mut total, mut top, mut w_norm, mut phi_norm) = (0.0, 0.0_f64, 0.0_f64, 0.0_f64);
        for ((&mu, &w), &phi) in self.generated.iter().zip(&self.gain).zip(&self.end_to_end) {
            total += mu;
            top = top.max(mu);
            w_norm = w_norm.max(w);
            phi_norm = phi_norm.max(phi);
        }
        GenerationSummary {
            generation: self.generation,
            trace_ratio: total / self.lambda_trace,
            top_eigenvalue: top,
            w_norm,
            phi_norm,
        }
    }
}

/// Summaries of generations 0…`generations` (so `generations + 1` entries).
pub fn summaries(lambda: &[f64], s: f64, strategy: Strategy, rule: Rule, generations: usize) -> Vec<GenerationSummary> {
    let mut recursion = DaeRecursion::new(lambda, s, strategy, rule);
    let mut out = Vec::with_capacity(generations + 1);
    out.push(recursion.summary());
    for _ in 0..generations {
        recursion.step();
        out.push(recursion.summary());
    }
    out
}

/// The first generation whose trace ratio falls below `threshold`, searching up to `max_generations`.
pub fn generations_until_trace_ratio_below(
    lambda: &[f64],
    s: f64,
    strategy: Strategy,
    rule: Rule,
    threshold: f64,
    max_generations: usize,
) -> Option<usize> {
    let mut recursion = DaeRecursion::new(lambda, s, strategy, rule);
    loop {
        if recursion.summary().trace_ratio < threshold {
            return Some(recursion.generation());
        }
        if recursion.generation() >= max_generations {
            return None;
        }
        recursion.step();
    }
}

/// Fixed point of Mix with α > 0, per direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixFixedPoint {
    /// `c*`, the training variance at the fixed point.
    pub training: f64,
    /// `μ* = m(c*)`, the generated variance at the fixed point.
    pub generated: f64,
    /// The local contraction rate `(1 − α) m'(c*)`, below the global bound `1 − α`.
    pub local_rate: f64,
}

/// The unique fixed point of Mix with `alpha ∈ (0, 1]` for eigenvalue `lambda`.
///
/// # Formula
/// Noisy rule: `c* = [(αλ − s) + √((s − αλ)² + 4α²λs)] / (2α)`, `μ* = c*² / (c* + s)`.
/// Clean rule: the root of `αλ + (1 − α) m(c) − c` in `(0, λ]`, found by bisection (the function is
/// strictly decreasing there). See proofs/dae-mix-fixed-point.md.
pub fn mix_fixed_point(lambda: f64, s: f64, alpha: f64, rule: Rule) -> MixFixedPoint {
    assert!(alpha > 0.0 && alpha <= 1.0, "the fixed point needs α in (0, 1], got {alpha}");
    let training = match rule {
        Rule::Noisy => {
            let b = alpha * lambda - s;
            // (b + √(b² + 4α²λs)) / 2α, written to avoid cancellation when b < 0.
            let root = (b * b + 4.0 * alpha * alpha * lambda * s).sqrt();
            if b >= 0.0 {
                (b + root) / (2.0 * alpha)
            } else {
                2.0 * alpha * lambda * s / (root - b)
            }
        }
        Rule::Clean => {
            let excess = |c: f64| alpha * lambda + (1.0 - alpha) * generated_variance(c, s, rule) - c;
            let (mut lo, mut hi) = (0.0, lambda);
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if excess(mid) > 0.0 {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            0.5 * (lo + hi)
        }
    };
    MixFixedPoint {
        training,
        generated: generated_variance(training, s, rule),
        local_rate: (1.0 - alpha) * generated_variance_slope(training, s, rule),
    }
}

/// Global contraction bound of Mix: every generation shrinks the distance to the fixed point by at
/// least this factor (proofs/dae-mix-fixed-point.md).
///
/// # Formula
/// `1 − α`.
pub fn mix_contraction_bound(alpha: f64) -> f64 {
    1.0 - alpha
}

/// Bounds on the generated variance `μ_k` under Replace.
///
/// # Formula
/// noisy: `λ − k·s ≤ μ_k ≤ ρᵏ λ`; clean: `λ − 2k·s ≤ μ_k ≤ ρ²ᵏ λ`; `ρ = λ / (λ + s)`, lower bound clipped
/// at 0 (proofs/dae-replace-collapse.md).
pub fn replace_bounds(lambda: f64, s: f64, rule: Rule, k: usize) -> (f64, f64) {
    let per_step = match rule {
        Rule::Noisy => 1,
        Rule::Clean => 2,
    };
    let rho = gain(lambda, s);
    let lower = (lambda - (per_step * k) as f64 * s).max(0.0);
    let upper = rho.powi((per_step * k) as i32) * lambda;
    (lower, upper)
}

/// `H_k = 1 + 1/2 + … + 1/k`.
pub fn harmonic(k: usize) -> f64 {
    (1..=k).map(|j| 1.0 / j as f64).sum()
}

/// Lower bound on the Accumulate training variance `c_k` (k ≥ 1).
///
/// # Formula
/// noisy: `c_k ≥ λ − s (H_k − 1)`; clean: `c_k ≥ λ − 2s (H_k − 1)`; clipped at 0 (proofs/dae-accumulate.md).
pub fn accumulate_lower_bound(lambda: f64, s: f64, rule: Rule, k: usize) -> f64 {
    let per_step = match rule {
        Rule::Noisy => 1.0,
        Rule::Clean => 2.0,
    };
    (lambda - per_step * s * (harmonic(k) - 1.0)).max(0.0)
}
