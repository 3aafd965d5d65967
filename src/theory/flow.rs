//! Rectified flow between Gaussians: exact oracles for the 1-rectified flow from N(0, I) to N(m, Σ)
//! (proofs/flow-*.md).
//!
//! Time runs from t = 0 (noise) to t = 1 (data): `x_t = t·x1 + (1−t)·x0` with x0 ~ N(0, I) and
//! x1 ~ N(m, Σ) independent (the independent coupling of 1-rectified flow), and the regression target is
//! `x1 − x0`. Sampling integrates `dx/dt = v(x, t)` from 0 to 1; inversion integrates it from 1 to 0.
//!
//! Everything is a function of Σ. In the eigenbasis `Σ = Q diag(λ) Qᵀ` the flow splits into independent
//! scalar problems, one per eigenvalue λ, in which the mean enters through its component `μ = qᵀm` along
//! the eigenvector q. The per-direction functions below take λ (and t, or a step count K); the vector and
//! matrix forms take a [`Covariance`] and a mean m and rotate with Q, in O(d²) per vector.
//!
//! | object | per direction | proof |
//! |---|---|---|
//! | marginal variance of `x_t` | `s(t)² = t²λ + (1−t)²` | proofs/flow-velocity.md |
//! | velocity `v = μ + a(t)(x − tμ)` | `a(t) = (tλ − (1−t)) / s(t)²` | proofs/flow-velocity.md |
//! | trajectory `x_t = tμ + s(t) x0` | flow map `x1 = μ + √λ x0` | proofs/flow-velocity.md |
//! | straightness | `(2 − π/2) √λ` | proofs/flow-straightness.md |
//! | K-step solver, sampling | `x_K = μ + β_K x0` | proofs/flow-euler.md |
//! | K-step solver, inversion | `x̂0 = γ_K (x1 − μ)`, `γ_K(λ) = β_K(1/λ)` | proofs/flow-inversion.md |
//! | denoiser `E[x1 | x_t = x] = μ + g(t)(x − tμ)` | `g(t) = tλ / s(t)²` | proofs/flow-denoiser.md |
//!
//! Solver conventions (pinned here for the whole project, docs/theory.md §5): K steps on the uniform grid
//! `linspace(0, 1, K+1)`, step `h = 1/K`. Forward (sampling) nodes `t_j = j/K`, reverse (inversion)
//! nodes `t_j = (K − j)/K`, j = 0…K; step j evaluates the field at `t_j` at the current point
//! (explicit, left-point in the direction of travel). See [`Solver`] for Euler and Heun.

use super::covariance::Covariance;
use nalgebra::{DMatrix, DVector};
use std::f64::consts::FRAC_PI_2;

/// Which way a solver runs through time.
///
/// # Example
/// ```
/// use flowcollapse::theory::flow::Direction;
/// assert_eq!((Direction::Forward.node(1, 4), Direction::Reverse.node(1, 4)), (0.25, 0.75));
/// assert_eq!((Direction::Forward.step(4), Direction::Reverse.step(4)), (0.25, -0.25));
/// assert_eq!((Direction::Reverse.start(), Direction::Reverse.end()), (1.0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sampling: from t = 0 (noise) to t = 1 (data); nodes `t_j = j/K`, signed step `+1/K`.
    Forward,
    /// Inversion: from t = 1 (data) to t = 0 (noise); nodes `t_j = (K − j)/K`, signed step `−1/K`.
    Reverse,
}

impl Direction {
    /// Node `t_j` of the uniform K-step grid (j = 0…K); the end nodes are exactly 0 and 1.
    pub fn node(self, j: usize, steps: usize) -> f64 {
        match self {
            Direction::Forward => j as f64 / steps as f64,
            Direction::Reverse => (steps - j) as f64 / steps as f64,
        }
    }

    /// The signed step `δ = ±1/K` (positive forward, negative in reverse).
    pub fn step(self, steps: usize) -> f64 {
        match self {
            Direction::Forward => 1.0 / steps as f64,
            Direction::Reverse => -1.0 / steps as f64,
        }
    }

    /// Start time: 0 forward, 1 in reverse.
    pub fn start(self) -> f64 {
        self.node(0, 1)
    }

    /// End time: 1 forward, 0 in reverse.
    pub fn end(self) -> f64 {
        self.node(1, 1)
    }
}

/// An explicit fixed-step ODE solver on the uniform K-step grid of [`Direction`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Solver {
    /// Explicit Euler: `x_{j+1} = x_j + δ v(x_j, t_j)`. NFE = K.
    Euler,
    /// Heun (explicit trapezoid) on steps j = 0…K−2 and explicit Euler on the last step j = K−1:
    /// `x̃ = x_j + δ v(x_j, t_j)`, `x_{j+1} = x_j + (δ/2) [v(x_j, t_j) + v(x̃, t_{j+1})]`. NFE = 2K − 1
    /// (rfpp's convention, where the odd NFE count N = 2K − 1 is the input). The last step never evaluates
    /// the field at the far end of the interval: in sampling, t = 1 is where the exact field of a singular Σ
    /// is discontinuous and where small eigenvalues make it stiff. Second order: error O(K⁻²).
    Heun,
}

impl Solver {
    /// Number of velocity evaluations for K steps.
    ///
    /// # Formula
    /// Euler `K`; Heun `2K − 1` (see [`Solver::Heun`]).
    ///
    /// # Example
    /// ```
    /// use flowcollapse::theory::flow::Solver;
    /// assert_eq!((Solver::Euler.nfe(8), Solver::Heun.nfe(8), Solver::Heun.nfe(1)), (8, 15, 1));
    /// ```
    pub fn nfe(self, steps: usize) -> usize {
        match self {
            Solver::Euler => steps,
            Solver::Heun => (2 * steps).saturating_sub(1),
        }
    }
}

fn check_steps(steps: usize) {
    assert!(steps >= 1, "a solver needs at least one step, got K = {steps}");
}

fn check_time(t: f64) {
    assert!((0.0..=1.0).contains(&t), "time must lie in [0, 1], got t = {t}");
}

fn check_dims(cov: &Covariance, v: &DVector<f64>, what: &str) {
    assert_eq!(v.len(), cov.dim(), "{what} has length {} but Σ is {}×{}", v.len(), cov.dim(), cov.dim());
}

/// Generic fixed-step integrator of `dx/dt = v(x, t)` over [0, 1], forward (sampling) or in reverse
/// (inversion). The Gaussian-specific maps of this module are checked against it with the exact
/// [`velocity`]; the trainer's samplers are expected to follow the same grid and step convention.
///
/// # Formula
/// Grid `t_j` = [`Direction::node`], signed step `δ` = [`Direction::step`]; one [`Solver`] update per step
/// j = 0…K−1; returns `x_K`. With `v = 3t²` (no x dependence), Euler moves x by
/// `Σ_j 3 t_j² δ = (K−1)(2K−1)/(2K²)` forward and `−(K+1)(2K+1)/(2K²)` in reverse, both → ±1
/// (proofs/flow-euler.md). Panics if K = 0.
///
/// # Example
/// The step convention on fields with known sums (K = 4): `v = 3t²` moves x by 21/32 forward and −45/32 in
/// reverse; on `dx/dt = x` Heun multiplies by `(1 + h + h²/2)^{K−1} (1 + h)`:
/// ```
/// use flowcollapse::theory::flow::{integrate, Direction, Solver};
/// use nalgebra::dvector;
/// let field = |_: &nalgebra::DVector<f64>, t: f64| dvector![3.0 * t * t];
/// let x = |d| integrate(field, &dvector![0.0], 4, Solver::Euler, d)[0];
/// assert!((x(Direction::Forward) - 21.0 / 32.0).abs() < 1e-15);
/// assert!((x(Direction::Reverse) + 45.0 / 32.0).abs() < 1e-15);
/// let growth = integrate(|y, _| y.clone(), &dvector![1.0], 4, Solver::Heun, Direction::Forward)[0];
/// assert!((growth - (1.0f64 + 0.25 + 0.03125).powi(3) * 1.25).abs() < 1e-14);
/// ```
pub fn integrate<F>(mut v: F, start: &DVector<f64>, steps: usize, solver: Solver, direction: Direction) -> DVector<f64>
where
    F: FnMut(&DVector<f64>, f64) -> DVector<f64>,
{
    check_steps(steps);
    let delta = direction.step(steps);
    let mut x = start.clone();
    for j in 0..steps {
        let t = direction.node(j, steps);
        let k1 = v(&x, t);
        if solver == Solver::Heun && j + 1 < steps {
            let predictor = &x + &k1 * delta;
            let k2 = v(&predictor, direction.node(j + 1, steps));
            x += (k1 + k2) * (0.5 * delta);
        } else {
            x += k1 * delta;
        }
    }
    x
}

/// [`integrate`] with [`Solver::Euler`]: K evaluations at `t_j`, j = 0…K−1.
///
/// # Formula
/// `x_{j+1} = x_j + δ v(x_j, t_j)`, `t_j = j/K` forward, `(K − j)/K` in reverse, `δ = ±1/K`
/// (proofs/flow-euler.md).
pub fn euler<F>(v: F, start: &DVector<f64>, steps: usize, direction: Direction) -> DVector<f64>
where
    F: FnMut(&DVector<f64>, f64) -> DVector<f64>,
{
    integrate(v, start, steps, Solver::Euler, direction)
}

/// [`integrate`] with [`Solver::Heun`]: trapezoid steps, the last step Euler, NFE = 2K − 1.
///
/// # Formula
/// `x̃ = x_j + δ v(x_j, t_j)`, `x_{j+1} = x_j + (δ/2)[v(x_j, t_j) + v(x̃, t_{j+1})]` for j < K−1, then one Euler
/// step (proofs/flow-euler.md).
pub fn heun<F>(v: F, start: &DVector<f64>, steps: usize, direction: Direction) -> DVector<f64>
where
    F: FnMut(&DVector<f64>, f64) -> DVector<f64>,
{
    integrate(v, start, steps, Solver::Heun, direction)
}

// ---------------------------------------------------------------------------------------------------------
// Per direction (one eigenvalue λ ≥ 0 of Σ)
// ---------------------------------------------------------------------------------------------------------

/// Variance of `x_t − t m` along a direction of eigenvalue λ.
///
/// # Formula
/// `s(t)² = t²λ + (1−t)²` (proofs/flow-velocity.md). Positive on [0, 1] except λ = 0, t = 1.
#[inline]
pub fn marginal_variance(lambda: f64, t: f64) -> f64 {
    let u = 1.0 - t;
    t * t * lambda + u * u
}

/// The trajectory scale `s(t)`: along the flow, `x_t = t μ + s(t) x0` per direction.
///
/// # Formula
/// `s(t) = √(t²λ + (1−t)²)`, with `s(0) = 1`, `s(1) = √λ` (proofs/flow-velocity.md).
///
/// # Example
/// λ = 1: the flow map is the identity, yet the path contracts to `s(1/2) = √½` half-way:
/// ```
/// use flowcollapse::theory::flow::trajectory_scale;
/// assert_eq!((trajectory_scale(1.0, 0.0), trajectory_scale(4.0, 1.0)), (1.0, 2.0));
/// assert!((trajectory_scale(1.0, 0.5) - 0.5f64.sqrt()).abs() < 1e-16);
/// ```
#[inline]
pub fn trajectory_scale(lambda: f64, t: f64) -> f64 {
    marginal_variance(lambda, t).sqrt()
}

/// The derivative `s'(t)` of [`trajectory_scale`].
///
/// # Formula
/// `s'(t) = (tλ − (1−t)) / s(t)`; for λ = 0, `s(t) = 1 − t` and `s' = −1` on all of [0, 1] (the one-sided
/// value at t = 1) (proofs/flow-velocity.md).
#[inline]
pub fn trajectory_speed(lambda: f64, t: f64) -> f64 {
    if lambda == 0.0 {
        return -1.0;
    }
    (t * lambda - (1.0 - t)) / trajectory_scale(lambda, t)
}

/// The velocity gain `a(t)`: per direction `v(x, t) = μ + a(t)(x − tμ)`.
///
/// # Formula
/// `a(t) = (tλ − (1−t)) / (t²λ + (1−t)²) = s'(t)/s(t)`; `a(0) = −1`, and `a(1) = 1` for every λ
/// (proofs/flow-velocity.md).
///
/// At t = 1, `v(x, 1) = E[x1 − x0 | x1 = x] = x` because x0 is independent of x1, so `a(1) = 1` whatever λ.
/// For λ > 0 this is the continuous limit of the formula. For λ = 0 (singular Σ) the formula is
/// `−1/(1−t)`, which diverges as t → 1: the exact field of a singular Σ is discontinuous at t = 1 in its
/// null directions (on a trajectory the velocity there is `μ − x0`, which x at t = 1 cannot see). This
/// function returns the conditional expectation, `1`, at t = 1.
///
/// # Example
/// λ = 4: `a(1/2) = (2 − 1/2)/(1 + 1/4) = 6/5`, and `a = s'/s` at any t:
/// ```
/// use flowcollapse::theory::flow::{trajectory_scale, trajectory_speed, velocity_gain};
/// assert_eq!((velocity_gain(4.0, 0.0), velocity_gain(4.0, 1.0), velocity_gain(0.0, 1.0)), (-1.0, 1.0, 1.0));
/// assert!((velocity_gain(4.0, 0.5) - 1.2).abs() < 1e-15);
/// let t = 0.3;
/// assert!((velocity_gain(4.0, t) - trajectory_speed(4.0, t) / trajectory_scale(4.0, t)).abs() < 1e-15);
/// ```
#[inline]
pub fn velocity_gain(lambda: f64, t: f64) -> f64 {
    if t == 1.0 {
        return 1.0;
    }
    (t * lambda - (1.0 - t)) / marginal_variance(lambda, t)
}

/// The denoiser gain `g(t)`: per direction `D_t(x) = E[x1 | x_t = x] = μ + g(t)(x − tμ)`.
///
/// # Formula
/// `g(t) = tλ / (t²λ + (1−t)²)`, `g(0) = 0`, `g(1) = 1` for every λ (at t = 1, `D_1(x) = x`);
/// `g(t) = 1 + (1−t) a(t)` (proofs/flow-denoiser.md).
///
/// # Example
/// ```
/// use flowcollapse::theory::flow::{denoiser_gain, velocity_gain};
/// let (lambda, t) = (4.0, 0.3);
/// assert!((denoiser_gain(lambda, t) - (1.0 + (1.0 - t) * velocity_gain(lambda, t))).abs() < 1e-15);
/// ```
#[inline]
pub fn denoiser_gain(lambda: f64, t: f64) -> f64 {
    if t == 1.0 {
        return 1.0;
    }
    t * lambda / marginal_variance(lambda, t)
}

/// The DAE noise variance of time t: `x_t / t = x1 + ((1−t)/t) x0` is x1 plus Gaussian noise of this
/// variance, so `D_t(x)` is the optimal DAE of `crate::theory::dae::optimal_dae(Σ, m, s_t)` applied to x/t.
///
/// # Formula
/// `s_t = ((1−t)/t)²` for t ∈ (0, 1]; +∞ at t = 0 (proofs/flow-denoiser.md).
///
/// # Example
/// ```
/// use flowcollapse::theory::flow::denoiser_noise_variance;
/// assert_eq!((denoiser_noise_variance(0.5), denoiser_noise_variance(0.25)), (1.0, 9.0));
/// assert_eq!(denoiser_noise_variance(0.0), f64::INFINITY);
/// ```
#[inline]
pub fn denoiser_noise_variance(t: f64) -> f64 {
    let r = (1.0 - t) / t;
    r * r
}

/// `∫₀¹ s'(t)² dt`, the kinetic energy of one direction's trajectory scale.
///
/// # Formula
/// `(1 + λ) − (π/2) √λ` (proofs/flow-straightness.md).
pub fn speed_energy(lambda: f64) -> f64 {
    1.0 + lambda - FRAC_PI_2 * lambda.sqrt()
}

/// Straightness of one direction: `∫₀¹ E[((Z1 − Z0) − Ż_t)²] dt` along the exact flow Z.
///
/// # Formula
/// `∫₀¹ (√λ − 1 − s'(t))² dt = (2 − π/2) √λ`; 0 only for λ = 0, `2 − π/2 ≈ 0.4292` for λ = 1,
/// `4 − π ≈ 0.858407` for λ = 4 (proofs/flow-straightness.md).
///
/// # Example
/// ```
/// use flowcollapse::theory::flow::{direction_straightness, speed_energy};
/// use std::f64::consts::PI;
/// assert!((direction_straightness(4.0) - (4.0 - PI)).abs() < 1e-15);
/// assert!((direction_straightness(1.0) - (2.0 - PI / 2.0)).abs() < 1e-15); // not 0
/// assert!((speed_energy(4.0) - (5.0 - PI)).abs() < 1e-15);
/// ```
pub fn direction_straightness(lambda: f64) -> f64 {
    (2.0 - FRAC_PI_2) * lambda.sqrt()
}

/// The affine map that K solver steps on the exact field make of one direction:
/// forward `x_K = mean·μ + gain·x0`, reverse `x̂0 = mean·μ + gain·x1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SolverMap {
    /// Coefficient of the mean component μ. Forward it is `α_K = 1` (the solver keeps the mean exactly);
    /// in reverse it is `−γ_K` (the inverse is `γ_K (x1 − μ)`), up to rounding (proofs/flow-euler.md).
    pub mean: f64,
    /// Coefficient of the start point: `β_K` forward, `γ_K` in reverse.
    pub gain: f64,
}

/// The factor `1 + δ a(t)` of one Euler step from node t to node `t′ = t + δ` (δ < 0 in reverse), in a form
/// without cancellation.
///
/// # Formula
/// `1 + δ a(t) = (t t′ λ + (1 − t)(1 − t′)) / (t²λ + (1 − t)²)`: substitute `a = (tλ − (1 − t))/s(t)²` and
/// `t + δ = t′`. For t, t′ in [0, 1] both terms of the numerator are ≥ 0, so the factor is computed to a
/// few ulps for every λ, where `1 + δa` loses all digits when it is tiny (reverse, t = 1/K, huge λ:
/// `1 − a/K ≈ 1/(λ/K²)`). At λ = 0, t = 1 the field's gain is `a(1) = 1` ([`velocity_gain`]): `1 + δ`.
///
/// # Example
/// Reverse step from t = 1/4 to 0 at λ = 10³⁰⁰: the factor is `0.75/s(1/4)² ≈ 1.2e-299`, while `1 + δa`
/// rounds to exactly 0 (a(1/4) rounds to 4):
/// ```
/// use flowcollapse::theory::flow::{marginal_variance, step_factor, velocity_gain};
/// let lambda = 1e300;
/// let exact = 0.75 / marginal_variance(lambda, 0.25);
/// assert!((step_factor(lambda, 0.25, 0.0) / exact - 1.0).abs() < 1e-15);
/// assert_eq!(1.0 - 0.25 * velocity_gain(lambda, 0.25), 0.0);
/// // Where nothing cancels the two forms agree.
/// assert!((step_factor(4.0, 0.5, 0.75) - (1.0 + 0.25 * velocity_gain(4.0, 0.5))).abs() < 1e-15);
/// ```
#[inline]
pub fn step_factor(lambda: f64, t: f64, t_next: f64) -> f64 {
    let s2 = marginal_variance(lambda, t);
    if s2 == 0.0 {
        return 1.0 + (t_next - t);
    }
    (t * t_next * lambda + (1.0 - t) * (1.0 - t_next)) / s2
}

/// The mean's source term `1 − t a(t)` of the velocity `v = (1 − t a) μ + a y`, without cancellation.
///
/// # Formula
/// `1 − t a(t) = (1 − t)/s(t)²` (0 at t = 1 for every λ, where `a(1) = 1`).
#[inline]
fn mean_source(lambda: f64, t: f64) -> f64 {
    if t == 1.0 {
        return 0.0;
    }
    (1.0 - t) / marginal_variance(lambda, t)
}

/// K solver steps on the exact field, per direction, as an affine map of (μ, start point).
///
/// # Formula
/// The solver runs on the coefficient pair of `y = p μ + q z` (z the start point), from (0, 1). Euler:
/// `p_{j+1} = (1 + δa_j) p_j + δ(1 − t_j a_j)`, `q_{j+1} = (1 + δa_j) q_j`, `a_j = a(t_j)`; its solution is
/// `p_j = t_j − q_j t_0`, so forward `α_K = p_K = 1` and `β_K = Π_{j<K} (1 + h a(j/K))`; in reverse
/// `p_K = −γ_K`, `γ_K = Π_{j<K} (1 − h a((K−j)/K)) = β_K(1/λ)` for λ > 0. Heun per step multiplies q by
/// `1 + (δ/2)(a_j + a_{j+1}) + (δ²/2) a_j a_{j+1} = ½(1 + E_j E_{j+1})` (last step Euler), with every factor
/// `E_j = 1 + δ a_j` and source `1 − t_j a_j` in the cancellation-free forms of [`step_factor`], so the map
/// is accurate for every λ (λ = 10³⁰⁰: the reverse gain is `(K − 1)/λ`). Worked values, λ = 4, Euler:
/// `β_1 = 0`, `β_2 = 4/5`, `β_4 = 252/185` (`β_4² ≈ 1.8555`), `β_K → 2`
/// (proofs/flow-euler.md, proofs/flow-inversion.md). Panics if K = 0.
///
/// # Example
/// λ = 4 by hand (`a(0) = −1`, `a(1/4) = 4/13`, `a(1/2) = 6/5`, `a(3/4) = 44/37`): Euler `β_2 = 4/5`,
/// `β_4 = 252/185`, Heun `β_2 = 0.9 · 1.6 = 1.44`; the mean coefficient is 1; reverse Euler
/// `γ_K(λ) = β_K(1/λ)`:
/// ```
/// use flowcollapse::theory::flow::{solver_map, Direction, Solver};
/// let beta = |k, solver| solver_map(4.0, k, solver, Direction::Forward);
/// assert!((beta(2, Solver::Euler).gain - 0.8).abs() < 1e-15);
/// assert!((beta(4, Solver::Euler).gain - 252.0 / 185.0).abs() < 1e-15);
/// assert!((beta(2, Solver::Heun).gain - 1.44).abs() < 1e-15);
/// assert!((beta(4, Solver::Heun).mean - 1.0).abs() < 1e-15);
/// let gamma = solver_map(4.0, 4, Solver::Euler, Direction::Reverse);
/// let dual = solver_map(0.25, 4, Solver::Euler, Direction::Forward);
/// assert!((gamma.gain - dual.gain).abs() < 1e-15 && (gamma.mean + gamma.gain).abs() < 1e-15);
/// ```
pub fn solver_map(lambda: f64, steps: usize, solver: Solver, direction: Direction) -> SolverMap {
    check_steps(steps);
    let delta = direction.step(steps);
    let node = |j: usize| direction.node(j, steps);
    let (mut p, mut q) = (0.0, 1.0);
    for j in 0..steps {
        // Euler: (p, q) ← (E_j p + δ c_j, E_j q) with E_j = 1 + δ a_j and c_j = 1 − t_j a_j, both in
        // cancellation-free form ([`step_factor`], [`mean_source`]).
        let (e, c) = (step_factor(lambda, node(j), node(j + 1)), mean_source(lambda, node(j)));
        if solver == Solver::Heun && j + 1 < steps {
            // Heun: q ← ½(1 + E_j F_j) q and p ← ½(1 + E_j F_j) p + (δ/2)(c_{j+1} + c_j F_j), F_j = 1 + δ a_{j+1}
            // (the predictor's factor), which expands `x + (δ/2)(v(x, t_j) + v(x + δ v(x, t_j), t_{j+1}))`.
            let (f, c_next) = (step_factor(lambda, node(j + 1), node(j + 2)), mean_source(lambda, node(j + 1)));
            let heun = 0.5 * (1.0 + e * f);
            p = heun * p + 0.5 * delta * (c_next + c * f);
            q *= heun;
        } else {
            p = e * p + delta * c;
            q *= e;
        }
    }
    SolverMap { mean: p, gain: q }
}

/// The variance `β_K²` that K forward Euler steps generate along a direction, by the product formula.
///
/// # Formula
/// `β_K² = λ Π_{j<K} [1 − λh² / (s(t_j)² s(t_{j+1})²)]`, `t_j = j/K`, `h = 1/K`. Every factor lies in
/// [0, 1), so `0 ≤ β_K² < λ` for λ > 0: few-step Euler always under-disperses; K = 1 gives 0
/// (proofs/flow-euler.md).
///
/// # Example
/// The product formula against the step product of [`solver_map`]:
/// ```
/// use flowcollapse::theory::flow::{euler_generated_variance, solver_map, Direction, Solver};
/// assert_eq!(euler_generated_variance(4.0, 1), 0.0); // one step lands every sample on the mean
/// assert!((euler_generated_variance(4.0, 4) - (252.0f64 / 185.0).powi(2)).abs() < 1e-14);
/// let beta = solver_map(0.3, 7, Solver::Euler, Direction::Forward).gain;
/// assert!((euler_generated_variance(0.3, 7) - beta * beta).abs() < 1e-15);
/// ```
pub fn euler_generated_variance(lambda: f64, steps: usize) -> f64 {
    check_steps(steps);
    let h = 1.0 / steps as f64;
    let mut variance = lambda;
    let mut previous = marginal_variance(lambda, 0.0);
    for j in 1..=steps {
        let current = marginal_variance(lambda, j as f64 * h);
        variance *= 1.0 - lambda * h * h / (previous * current);
        previous = current;
    }
    variance.max(0.0)
}

/// The leading coefficient of the Euler variance deficit: `λ − β_K² = c(λ)/K + O(K⁻²)`.
///
/// # Formula
/// `c(λ) = λ² ∫₀¹ s(t)⁻⁴ dt = λ + (π/4)(1 + λ)√λ`; relative deficit `c/λ = 1 + π(1 + λ)/(4√λ) ≥ 1 + π/2`
/// (proofs/flow-euler.md). λ = 4: `4 + 5π/2 ≈ 11.854`.
///
/// # Example
/// λ = 4, K = 10⁴: the deficit `4 − β_K² ≈ 0.0011854` is `c/K` to O(K⁻²):
/// ```
/// use flowcollapse::theory::flow::{euler_generated_variance, euler_variance_deficit_rate};
/// let c = euler_variance_deficit_rate(4.0);
/// assert!((c - (4.0 + 2.5 * std::f64::consts::PI)).abs() < 1e-14);
/// let k = 10_000;
/// assert!(((4.0 - euler_generated_variance(4.0, k)) * k as f64 / c - 1.0).abs() < 1e-3);
/// ```
pub fn euler_variance_deficit_rate(lambda: f64) -> f64 {
    lambda + 0.25 * std::f64::consts::PI * (1.0 + lambda) * lambda.sqrt()
}

/// The gain of sampling with K steps and then inverting with K steps of the same solver, per direction.
///
/// # Formula
/// `β_K γ_K` (forward gain times reverse gain; the mean cancels). For Euler `0 ≤ β_K γ_K < 1`, → 1 as
/// K → ∞; K = 1 gives 0 (proofs/flow-inversion.md).
///
/// # Example
/// For Euler the forward and reverse factors share their numerators (`t t′λ + (1 − t)(1 − t′)` over the same
/// node pairs) and their denominators differ by `s(1)²/s(0)² = λ`, so `γ_K = β_K/λ` and the round trip is
/// `β_K²/λ`: it loses exactly the fraction of variance that sampling loses (λ = 4, K = 8: 0.68818):
/// ```
/// use flowcollapse::theory::flow::{euler_generated_variance, round_trip_gain, Solver};
/// assert_eq!(round_trip_gain(4.0, 1, Solver::Euler), 0.0);
/// for (lambda, k) in [(4.0, 8), (0.25, 8), (37.0, 3)] {
///     let ratio = euler_generated_variance(lambda, k) / lambda;
///     assert!((round_trip_gain(lambda, k, Solver::Euler) - ratio).abs() < 1e-14);
/// }
/// assert!((round_trip_gain(4.0, 8, Solver::Euler) - 0.68818).abs() < 1e-5);
/// ```
pub fn round_trip_gain(lambda: f64, steps: usize, solver: Solver) -> f64 {
    solver_map(lambda, steps, solver, Direction::Forward).gain
        * solver_map(lambda, steps, solver, Direction::Reverse).gain
}

/// The rfpp straightness of one direction's K-step Euler trajectory on the exact field: the mean over
/// steps of `E[((x_{j+1} − x_j)/h − (x_K − x_0))²]`, x0 ~ N(0, 1).
///
/// # Formula
/// `(1/K) Σ_{j<K} (a(t_j) β_j + 1 − β_K)²`, `β_j = Π_{i<j} (1 + h a(t_i))`; the mean component cancels.
/// K = 1 gives 0; → [`direction_straightness`] as K → ∞ (proofs/flow-straightness.md). rfpp averages
/// over coordinates as well, so its number for a d-dimensional sample is [`euler_straightness`] divided by d.
///
/// # Example
/// λ = 4, K = 2 by hand: β = 1, 1/2, 4/5 and `a = −1, 6/5`, so the deviations are ∓0.8 and the mean square is
/// 0.64:
/// ```
/// use flowcollapse::theory::flow::direction_euler_straightness;
/// assert!((direction_euler_straightness(4.0, 2) - 0.64).abs() < 1e-15);
/// assert_eq!(direction_euler_straightness(4.0, 1), 0.0);
/// ```
pub fn direction_euler_straightness(lambda: f64, steps: usize) -> f64 {
    let beta_end = solver_map(lambda, steps, Solver::Euler, Direction::Forward).gain;
    let h = 1.0 / steps as f64;
    let (mut beta, mut total) = (1.0, 0.0);
    for j in 0..steps {
        let a = velocity_gain(lambda, j as f64 * h);
        let deviation = a * beta + 1.0 - beta_end;
        total += deviation * deviation;
        beta *= step_factor(lambda, j as f64 * h, (j + 1) as f64 * h);
    }
    total / steps as f64
}

// ---------------------------------------------------------------------------------------------------------
// Vector and matrix forms (Σ = Q diag(λ) Qᵀ, general mean m)
// ---------------------------------------------------------------------------------------------------------

/// `Q diag(f(λ_i)) Qᵀ y` without forming the matrix.
fn apply_spectral(cov: &Covariance, values: &[f64], y: &DVector<f64>) -> DVector<f64> {
    let q = cov.eigenvectors();
    let mut coords = q.tr_mul(y);
    for (c, &f) in coords.iter_mut().zip(values) {
        *c *= f;
    }
    q * coords
}

/// `Q (diag(mean) Qᵀ m + diag(gain) Qᵀ z)`: a per-direction affine map of (m, z) in the original basis.
fn apply_affine(cov: &Covariance, mean: &[f64], m: &DVector<f64>, gain: &[f64], z: &DVector<f64>) -> DVector<f64> {
    let q = cov.eigenvectors();
    let (mu, zc) = (q.tr_mul(m), q.tr_mul(z));
    let coords = DVector::from_fn(cov.dim(), |i, _| mean[i] * mu[i] + gain[i] * zc[i]);
    q * coords
}

fn per_direction(cov: &Covariance, f: impl Fn(f64) -> f64) -> Vec<f64> {
    cov.eigenvalues().iter().map(|&l| f(l)).collect()
}

/// The exact velocity field of the 1-rectified flow from N(0, I) to N(m, Σ), `E[x1 − x0 | x_t = x]`.
///
/// # Formula
/// `v(x, t) = m + (tΣ − (1−t)I)(t²Σ + (1−t)²I)⁻¹ (x − t m) = m + Q diag(a(λ_i, t)) Qᵀ (x − t m)`,
/// a = [`velocity_gain`]. `v(x, 0) = m − x`; `v(x, 1) = x` for every Σ (for a singular Σ the field is
/// discontinuous at t = 1 in the null directions, see [`velocity_gain`]) (proofs/flow-velocity.md).
/// Panics if t ∉ [0, 1] or the dimensions differ.
///
/// # Example
/// The end points of the field for a non-diagonal Σ: `v(x, 0) = m − x`, `v(x, 1) = x`.
/// ```
/// use flowcollapse::theory::{flow::velocity, Covariance};
/// use nalgebra::{dmatrix, dvector};
/// let cov = Covariance::from_matrix(&dmatrix![2.0, 1.0; 1.0, 2.0]).unwrap();
/// let (m, x) = (dvector![1.0, -1.0], dvector![0.3, 2.0]);
/// assert!((velocity(&cov, &m, &x, 0.0) - (&m - &x)).amax() < 1e-15);
/// assert!((velocity(&cov, &m, &x, 1.0) - &x).amax() < 1e-15);
/// ```
pub fn velocity(cov: &Covariance, m: &DVector<f64>, x: &DVector<f64>, t: f64) -> DVector<f64> {
    check_time(t);
    check_dims(cov, m, "m");
    check_dims(cov, x, "x");
    let gains = per_direction(cov, |l| velocity_gain(l, t));
    m + apply_spectral(cov, &gains, &(x - m * t))
}

/// The velocity field as an affine map `v(x, t) = A_t x + c_t` (what a linear network would learn).
///
/// # Formula
/// `A_t = Q diag(a(λ_i, t)) Qᵀ`, `c_t = m − t A_t m` (proofs/flow-velocity.md).
pub fn velocity_affine(cov: &Covariance, m: &DVector<f64>, t: f64) -> (DMatrix<f64>, DVector<f64>) {
    check_time(t);
    check_dims(cov, m, "m");
    let a = cov.with_spectrum(&per_direction(cov, |l| velocity_gain(l, t)));
    let c = m - &a * m * t;
    (a, c)
}

/// The trajectory scale matrix `S(t)`: along the exact flow `x_t = t m + S(t) x0`.
///
/// # Formula
/// `S(t) = Q diag(√(t²λ_i + (1−t)²)) Qᵀ = (t²Σ + (1−t)²I)^{1/2}`; `S(0) = I`, `S(1) = Σ^{1/2}`
/// (proofs/flow-velocity.md).
pub fn trajectory_scale_matrix(cov: &Covariance, t: f64) -> DMatrix<f64> {
    check_time(t);
    cov.with_spectrum(&per_direction(cov, |l| trajectory_scale(l, t)))
}

/// The point at time t of the exact flow trajectory that starts at the noise x0.
///
/// # Formula
/// `x_t = t m + S(t) x0`, `S(t) = Q diag(√(t²λ_i + (1−t)²)) Qᵀ`; solves `dx/dt = v(x, t)`, `x_0 = x0`
/// (proofs/flow-velocity.md).
pub fn trajectory(cov: &Covariance, m: &DVector<f64>, x0: &DVector<f64>, t: f64) -> DVector<f64> {
    check_time(t);
    check_dims(cov, m, "m");
    check_dims(cov, x0, "x0");
    m * t + apply_spectral(cov, &per_direction(cov, |l| trajectory_scale(l, t)), x0)
}

/// The exact flow map (sampling with infinitely many steps): noise x0 to data x1.
///
/// # Formula
/// `x1 = m + Σ^{1/2} x0`, with the symmetric root `Σ^{1/2} = Q diag(√λ_i) Qᵀ` (proofs/flow-velocity.md).
///
/// # Example
/// `Σ = [[2, 1], [1, 2]]` has `Σ^{1/2} = ½ [[√3 + 1, √3 − 1], [√3 − 1, √3 + 1]]`; the trajectory ends at the flow
/// map and the inverse map undoes it:
/// ```
/// use flowcollapse::theory::flow::{flow_map, inverse_flow_map, trajectory};
/// use flowcollapse::theory::Covariance;
/// use nalgebra::{dmatrix, dvector};
/// let cov = Covariance::from_matrix(&dmatrix![2.0, 1.0; 1.0, 2.0]).unwrap();
/// let (m, x0) = (dvector![1.0, -1.0], dvector![1.0, 0.0]);
/// let r3 = 3f64.sqrt();
/// let x1 = flow_map(&cov, &m, &x0);
/// assert!((&x1 - dvector![1.0 + (r3 + 1.0) / 2.0, -1.0 + (r3 - 1.0) / 2.0]).amax() < 1e-15);
/// assert!((trajectory(&cov, &m, &x0, 1.0) - &x1).amax() < 1e-15);
/// assert!((inverse_flow_map(&cov, &m, &x1) - x0).amax() < 1e-15);
/// ```
pub fn flow_map(cov: &Covariance, m: &DVector<f64>, x0: &DVector<f64>) -> DVector<f64> {
    check_dims(cov, m, "m");
    check_dims(cov, x0, "x0");
    m + apply_spectral(cov, &per_direction(cov, f64::sqrt), x0)
}

/// The exact inverse flow map (inversion with infinitely many steps): data x1 to noise x0.
///
/// # Formula
/// `x0 = Σ^{−1/2} (x1 − m)` (proofs/flow-inversion.md). Needs Σ ≻ 0 (panics otherwise): for a singular Σ
/// every trajectory reaches the null directions' mean at t = 1, and their x0 components are lost.
pub fn inverse_flow_map(cov: &Covariance, m: &DVector<f64>, x1: &DVector<f64>) -> DVector<f64> {
    check_dims(cov, m, "m");
    check_dims(cov, x1, "x1");
    let smallest = cov.eigenvalues().last().copied().unwrap_or(0.0);
    assert!(smallest > 0.0, "the exact inverse flow map needs Σ ≻ 0; smallest eigenvalue is {smallest}");
    apply_spectral(cov, &per_direction(cov, |l| 1.0 / l.sqrt()), &(x1 - m))
}

/// The time-slice denoiser `D_t(x) = E[x1 | x_t = x]`.
///
/// # Formula
/// `D_t(x) = m + tΣ(t²Σ + (1−t)²I)⁻¹ (x − t m) = m + Q diag(g(λ_i, t)) Qᵀ (x − t m)`, g = [`denoiser_gain`].
/// DAE reading: for t ∈ (0, 1], `D_t(x) = W (x/t) + b` with `(W, b) = optimal_dae(Σ, m, ((1−t)/t)²)`; and
/// `v(x, t) = (D_t(x) − x)/(1 − t)` for t < 1 (proofs/flow-denoiser.md). `D_0(x) = m`, `D_1(x) = x`.
///
/// # Example
/// The denoiser is the optimal DAE of [`crate::theory::dae`] at noise `((1 − t)/t)²` applied to `x/t`, and it
/// gives the velocity:
/// ```
/// use flowcollapse::theory::{dae::optimal_dae, flow, Covariance};
/// use nalgebra::{dmatrix, dvector};
/// let sigma = dmatrix![2.0, 1.0; 1.0, 2.0];
/// let cov = Covariance::from_matrix(&sigma).unwrap();
/// let (m, x, t) = (dvector![1.0, -1.0], dvector![0.3, 2.0], 0.4);
/// let d = flow::denoiser(&cov, &m, &x, t);
/// let (w, b) = optimal_dae(&sigma, &m, flow::denoiser_noise_variance(t));
/// assert!((&d - (w * (&x / t) + b)).amax() < 1e-14);
/// assert!(((&d - &x) / (1.0 - t) - flow::velocity(&cov, &m, &x, t)).amax() < 1e-14);
/// ```
pub fn denoiser(cov: &Covariance, m: &DVector<f64>, x: &DVector<f64>, t: f64) -> DVector<f64> {
    check_time(t);
    check_dims(cov, m, "m");
    check_dims(cov, x, "x");
    m + apply_spectral(cov, &per_direction(cov, |l| denoiser_gain(l, t)), &(x - m * t))
}

/// The denoiser as an affine map `D_t(x) = W_t x + b_t`.
///
/// # Formula
/// `W_t = Q diag(tλ_i / (t²λ_i + (1−t)²)) Qᵀ`, `b_t = m − t W_t m`; for t ∈ (0, 1], `W_t = W_dae / t` and
/// `b_t = b_dae` with `(W_dae, b_dae) = optimal_dae(Σ, m, ((1−t)/t)²)` (proofs/flow-denoiser.md).
pub fn denoiser_affine(cov: &Covariance, m: &DVector<f64>, t: f64) -> (DMatrix<f64>, DVector<f64>) {
    check_time(t);
    check_dims(cov, m, "m");
    let w = cov.with_spectrum(&per_direction(cov, |l| denoiser_gain(l, t)));
    let b = m - &w * m * t;
    (w, b)
}

/// Straightness of the exact flow, `∫₀¹ E‖(Z1 − Z0) − Ż_t‖² dt`, Z the flow trajectory from Z0 ~ N(0, I).
///
/// # Formula
/// `(2 − π/2) Σ_i √λ_i = (2 − π/2) tr Σ^{1/2}`; independent of m (proofs/flow-straightness.md).
///
/// # Example
/// ```
/// use flowcollapse::theory::{flow::straightness, Covariance};
/// use nalgebra::dmatrix;
/// let cov = Covariance::from_matrix(&dmatrix![2.0, 1.0; 1.0, 2.0]).unwrap(); // eigenvalues 3 and 1
/// let expected = (2.0 - std::f64::consts::FRAC_PI_2) * (3f64.sqrt() + 1.0);
/// assert!((straightness(&cov) - expected).abs() < 1e-14);
/// ```
pub fn straightness(cov: &Covariance) -> f64 {
    cov.eigenvalues().iter().map(|&l| direction_straightness(l)).sum()
}

/// rfpp straightness of the K-step Euler trajectory on the exact field, summed over coordinates:
/// the mean over steps of `E‖(x_{j+1} − x_j)/h − (x_K − x_0)‖²`, x_0 ~ N(0, I).
///
/// # Formula
/// `Σ_i` [`direction_euler_straightness`]`(λ_i, K)`; independent of m; → [`straightness`] as K → ∞
/// (proofs/flow-straightness.md). Divide by d for rfpp's per-coordinate mean.
///
/// # Example
/// λ = 4 and 1/4 with K = 2 steps: 0.64 for λ = 4 (see [`direction_euler_straightness`]), and for λ = 1/4
/// (β = 1, 1/2, 1/5; a = −1, −6/5) deviations −1 + 4/5 and −3/5 + 4/5, so (0.04 + 0.04)/2 = 0.04:
/// ```
/// use flowcollapse::theory::{flow::euler_straightness, Covariance};
/// let cov = Covariance::from_spectrum(&[4.0, 0.25]).unwrap();
/// assert!((euler_straightness(&cov, 2) - 0.68).abs() < 1e-15);
/// ```
pub fn euler_straightness(cov: &Covariance, steps: usize) -> f64 {
    cov.eigenvalues().iter().map(|&l| direction_euler_straightness(l, steps)).sum()
}

/// K solver steps on the exact field from `start`: forward maps noise x0 to a sample, reverse maps data x1
/// to its inverted noise. Equal to [`integrate`] with [`velocity`], at O(K·d) + O(d²) cost.
///
/// # Formula
/// Forward `x_K = Q (diag(α_K) Qᵀm + diag(β_K) Qᵀx0) = m + Q diag(β_K) Qᵀ x0`; reverse
/// `x̂0 = Q diag(γ_K) Qᵀ (x1 − m)`; α, β, γ from [`solver_map`] (proofs/flow-euler.md,
/// proofs/flow-inversion.md).
///
/// # Example
/// Σ = diag(4, 1/4), K = 2 Euler steps: `β_2 = 4/5` and `1/5`, so noise x0 = (1, 1) lands at `m + (0.8, 0.2)`,
/// and the reverse map sends it back to `γ_2 ⊙ (0.8, 0.2) = (0.16, 0.16)` (`γ_2 = 1/5` and `4/5`):
/// ```
/// use flowcollapse::theory::flow::{discrete_map, Direction, Solver};
/// use flowcollapse::theory::Covariance;
/// use nalgebra::dvector;
/// let cov = Covariance::from_spectrum(&[4.0, 0.25]).unwrap();
/// let m = dvector![1.0, -1.0];
/// let x = discrete_map(&cov, &m, &dvector![1.0, 1.0], 2, Solver::Euler, Direction::Forward);
/// assert!((&x - dvector![1.8, -0.8]).amax() < 1e-15);
/// let back = discrete_map(&cov, &m, &x, 2, Solver::Euler, Direction::Reverse);
/// assert!((back - dvector![0.16, 0.16]).amax() < 1e-15);
/// ```
pub fn discrete_map(
    cov: &Covariance,
    m: &DVector<f64>,
    start: &DVector<f64>,
    steps: usize,
    solver: Solver,
    direction: Direction,
) -> DVector<f64> {
    check_dims(cov, m, "m");
    check_dims(cov, start, "start");
    let maps: Vec<SolverMap> = cov.eigenvalues().iter().map(|&l| solver_map(l, steps, solver, direction)).collect();
    let mean: Vec<f64> = maps.iter().map(|s| s.mean).collect();
    let gain: Vec<f64> = maps.iter().map(|s| s.gain).collect();
    apply_affine(cov, &mean, m, &gain, start)
}

/// Mean of the samples that K forward solver steps generate from x0 ~ N(0, I).
///
/// # Formula
/// `Q diag(α_K) Qᵀ m = m`: the solvers keep the mean exactly (α_K = 1; computed here by the recursion of
/// [`solver_map`]) (proofs/flow-euler.md).
pub fn generated_mean(cov: &Covariance, m: &DVector<f64>, steps: usize, solver: Solver) -> DVector<f64> {
    check_dims(cov, m, "m");
    let mean = per_direction(cov, |l| solver_map(l, steps, solver, Direction::Forward).mean);
    apply_spectral(cov, &mean, m)
}

/// Covariance of the samples that K forward solver steps generate from x0 ~ N(0, I).
///
/// # Formula
/// `Q diag(β_K(λ_i)²) Qᵀ`; for Euler every `β_K² < λ_i` (λ_i > 0), → Σ as K → ∞ (proofs/flow-euler.md).
///
/// # Example
/// Σ = diag(4, 1/4), K = 2 Euler steps: generated `diag(0.64, 0.04)`, inverted real data `0.16 I`, means m and 0:
/// ```
/// use flowcollapse::theory::flow::{generated_covariance, generated_mean, inverted_covariance, inverted_mean};
/// use flowcollapse::theory::{flow::Solver, Covariance};
/// use nalgebra::{dmatrix, dvector, DMatrix};
/// let cov = Covariance::from_spectrum(&[4.0, 0.25]).unwrap();
/// let m = dvector![1.0, -1.0];
/// assert!((generated_covariance(&cov, 2, Solver::Euler) - dmatrix![0.64, 0.0; 0.0, 0.04]).amax() < 1e-15);
/// assert!((inverted_covariance(&cov, 2, Solver::Euler) - DMatrix::identity(2, 2) * 0.16).amax() < 1e-15);
/// assert!((generated_mean(&cov, &m, 2, Solver::Heun) - &m).amax() < 1e-15);
/// assert!(inverted_mean(&cov, &m, 2, Solver::Euler).amax() < 1e-15);
/// ```
pub fn generated_covariance(cov: &Covariance, steps: usize, solver: Solver) -> DMatrix<f64> {
    cov.with_spectrum(&per_direction(cov, |l| solver_map(l, steps, solver, Direction::Forward).gain.powi(2)))
}

/// Mean of the inverted noise `x̂0` that K reverse solver steps give for real data x1 ~ N(m, Σ).
///
/// # Formula
/// `Q diag(mean_K + γ_K) Qᵀ m = 0` (mean_K = −γ_K, computed by the recursion of [`solver_map`])
/// (proofs/flow-inversion.md).
pub fn inverted_mean(cov: &Covariance, m: &DVector<f64>, steps: usize, solver: Solver) -> DVector<f64> {
    check_dims(cov, m, "m");
    let coefficient = per_direction(cov, |l| {
        let map = solver_map(l, steps, solver, Direction::Reverse);
        map.mean + map.gain
    });
    apply_spectral(cov, &coefficient, m)
}

/// Covariance of the inverted noise `x̂0` that K reverse solver steps give for real data x1 ~ N(m, Σ).
///
/// # Formula
/// `Q diag(γ_K(λ_i)² λ_i) Qᵀ`; → I as K → ∞ when Σ ≻ 0. For Euler every entry is < 1: inverted real data is
/// under-dispersed relative to N(0, I) with few steps (proofs/flow-inversion.md).
pub fn inverted_covariance(cov: &Covariance, steps: usize, solver: Solver) -> DMatrix<f64> {
    // (γ λ) γ rather than γ² λ: γ² underflows for λ near the top of f64's range (γ ≈ (K − 1)/λ).
    cov.with_spectrum(&per_direction(cov, |l| {
        let gamma = solver_map(l, steps, solver, Direction::Reverse).gain;
        gamma * l * gamma
    }))
}
