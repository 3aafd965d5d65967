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
///
/// # Example
/// One noisy pass keeps `w·c` of a unit direction at s = 0.1, a clean pass `w²·c`, with `w = 10/11`:
/// ```
/// use flowcollapse::theory::{dae::generated_variance, Rule};
/// assert!((generated_variance(1.0, 0.1, Rule::Noisy) - 10.0 / 11.0).abs() < 1e-15);
/// assert!((generated_variance(1.0, 0.1, Rule::Clean) - 100.0 / 121.0).abs() < 1e-15);
/// ```
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
///
/// # Example
/// Checked against a central difference of [`generated_variance`], for both rules:
/// ```
/// use flowcollapse::theory::{dae::{generated_variance, generated_variance_slope}, Rule};
/// let (c, s, h) = (0.7, 0.2, 1e-5);
/// for rule in [Rule::Noisy, Rule::Clean] {
///     let difference = (generated_variance(c + h, s, rule) - generated_variance(c - h, s, rule)) / (2.0 * h);
///     let slope = generated_variance_slope(c, s, rule);
///     assert!((slope - difference).abs() < 1e-9 && (0.0..1.0).contains(&slope));
/// }
/// ```
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
///
/// # Example
/// `C = [[2, 1], [1, 2]]` has eigenvalues 3 and 1 on `(1, ±1)/√2`; with s = 1 the gains are 3/4 and 1/2, so
/// `W = [[5/8, 1/8], [1/8, 5/8]]`, and it satisfies the normal equation `W (C + sI) = C`:
/// ```
/// use flowcollapse::theory::dae::optimal_dae;
/// use nalgebra::{dmatrix, dvector, DMatrix};
/// let (c, m) = (dmatrix![2.0, 1.0; 1.0, 2.0], dvector![1.0, -1.0]);
/// let (w, b) = optimal_dae(&c, &m, 1.0);
/// assert!((&w - dmatrix![0.625, 0.125; 0.125, 0.625]).amax() < 1e-15);
/// assert!((&w * (&c + DMatrix::identity(2, 2)) - &c).amax() < 1e-14);
/// assert!((b - dvector![0.5, -0.5]).amax() < 1e-15); // b = (I − W) m
/// ```
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
///
/// # Example
/// Two Replace generations of λ = 1 at s = 0.1, against the hand recursion `μ_k = μ_{k−1}²/(μ_{k−1} + s)`:
/// `μ_1 = 10/11`, `μ_2 = (100/121)/(111/110) = 11000/13431`.
/// ```
/// use flowcollapse::theory::{dae::DaeRecursion, Rule, Strategy};
/// let mut r = DaeRecursion::new(&[1.0], 0.1, Strategy::Replace, Rule::Noisy);
/// r.step();
/// assert!((r.generated()[0] - 10.0 / 11.0).abs() < 1e-15);
/// r.step();
/// assert_eq!(r.generation(), 2);
/// assert!((r.training()[0] - 10.0 / 11.0).abs() < 1e-15); // Replace trains on generation 1
/// assert!((r.generated()[0] - 11000.0 / 13431.0).abs() < 1e-15);
/// assert!((r.end_to_end()[0] - (10.0 / 11.0) * (100.0 / 111.0)).abs() < 1e-15); // w_2 w_1
/// ```
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
///
/// # Example
/// Generation 0 is the real data (identity maps); a direction of variance 0 stays 0, so the trace ratio of
/// `λ = (1, 0)` is generation k's variance of the first direction over 1:
/// ```
/// use flowcollapse::theory::{dae::summaries, Rule, Strategy};
/// let rows = summaries(&[1.0, 0.0], 0.1, Strategy::Replace, Rule::Noisy, 2);
/// assert_eq!(rows.len(), 3);
/// assert_eq!((rows[0].trace_ratio, rows[0].w_norm, rows[0].phi_norm), (1.0, 1.0, 1.0));
/// assert!((rows[2].trace_ratio - 11000.0 / 13431.0).abs() < 1e-15);
/// assert!((rows[2].phi_norm - 1000.0 / 1221.0).abs() < 1e-15);
/// ```
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
///
/// # Example
/// λ = 1, s = 0.1, Replace: trace ratios 0.555 at generation 5 and 0.471 at generation 6.
/// ```
/// use flowcollapse::theory::{dae::generations_until_trace_ratio_below, Rule, Strategy};
/// let until = |max| generations_until_trace_ratio_below(&[1.0], 0.1, Strategy::Replace, Rule::Noisy, 0.5, max);
/// assert_eq!(until(100), Some(6));
/// assert_eq!(until(5), None);
/// ```
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
///
/// # Example
/// λ = 1, s = 0.1, α = 0.5: `c* = 0.4 + √0.26`, `μ* = c*²/(c* + s) ≈ 0.819804`, and 60 generations of the
/// recursion reach it (rate ≤ 1/2 per generation):
/// ```
/// use flowcollapse::theory::{dae::{mix_fixed_point, summaries}, RealPool, Rule, Strategy};
/// let fixed = mix_fixed_point(1.0, 0.1, 0.5, Rule::Noisy);
/// let c = 0.4 + 0.26f64.sqrt();
/// assert!((fixed.training - c).abs() < 1e-15);
/// assert!((fixed.generated - c * c / (c + 0.1)).abs() < 1e-15);
/// assert!(fixed.local_rate < 0.5);
/// let mix = Strategy::Mix { alpha: 0.5, pool: RealPool::Fixed };
/// let last = summaries(&[1.0], 0.1, mix, Rule::Noisy, 60)[60];
/// assert!((last.trace_ratio - fixed.generated).abs() < 1e-12);
/// // Clean rule: bisection; the residual of c = αλ + (1 − α) m(c) vanishes.
/// let clean = mix_fixed_point(1.0, 0.1, 0.5, Rule::Clean);
/// let m = clean.training.powi(3) / (clean.training + 0.1).powi(2);
/// assert!((0.5 + 0.5 * m - clean.training).abs() < 1e-14);
/// ```
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
///
/// # Example
/// The bounds bracket the recursion at every generation (λ = 1, s = 0.1):
/// ```
/// use flowcollapse::theory::{dae::{replace_bounds, DaeRecursion}, Rule, Strategy};
/// for rule in [Rule::Noisy, Rule::Clean] {
///     let mut r = DaeRecursion::new(&[1.0], 0.1, Strategy::Replace, rule);
///     for k in 0..=12 {
///         let (lo, hi) = replace_bounds(1.0, 0.1, rule, k);
///         assert!(lo <= r.generated()[0] && r.generated()[0] <= hi);
///         r.step();
///     }
/// }
/// ```
pub fn replace_bounds(lambda: f64, s: f64, rule: Rule, k: usize) -> (f64, f64) {
    let per_step = match rule {
        Rule::Noisy => 1,
        Rule::Clean => 2,
    };
    let rho = gain(lambda, s);
    let lower = (lambda - (per_step * k) as f64 * s).max(0.0);
    // powi takes an i32: beyond it (k ≥ 2³⁰ generations) the exponent would wrap.
    let exponent = per_step * k;
    let power = i32::try_from(exponent).map_or_else(|_| rho.powf(exponent as f64), |e| rho.powi(e));
    let upper = power * lambda;
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
///
/// # Example
/// λ = 1, s = 0.1, k = 1000: the recursion's `c_1000 = 0.43449` lies above the bound
/// `1 − 0.1 (H_1000 − 1) ≈ 0.35145`:
/// ```
/// use flowcollapse::theory::{dae::{accumulate_lower_bound, harmonic, DaeRecursion}, Rule, Strategy};
/// assert!((harmonic(4) - 25.0 / 12.0).abs() < 1e-15);
/// let mut r = DaeRecursion::new(&[1.0], 0.1, Strategy::Accumulate, Rule::Noisy);
/// for _ in 0..1000 {
///     r.step();
/// }
/// let bound = accumulate_lower_bound(1.0, 0.1, Rule::Noisy, 1000);
/// assert!((bound - 0.35145).abs() < 5e-6);
/// assert!((r.training()[0] - 0.43449).abs() < 5e-6 && r.training()[0] > bound);
/// ```
pub fn accumulate_lower_bound(lambda: f64, s: f64, rule: Rule, k: usize) -> f64 {
    let per_step = match rule {
        Rule::Noisy => 1.0,
        Rule::Clean => 2.0,
    };
    (lambda - per_step * s * (harmonic(k) - 1.0)).max(0.0)
}
