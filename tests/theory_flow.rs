//! Closed forms of `theory::flow` against independent computations (proofs/flow-*.md).
//!
//! The independent paths are: Gaussian conditioning with dense matrix solves, finite differences of
//! trajectories, composite Simpson quadrature, direct solver loops on vectors through `velocity`, the
//! optimal DAE of `theory::dae`, analytic velocity fields, exact rationals, and one least-squares regression
//! on sampled pairs.

use flowcollapse::theory::dae::optimal_dae;
use flowcollapse::theory::flow::{
    denoiser, denoiser_affine, denoiser_gain, denoiser_noise_variance, direction_euler_straightness,
    direction_straightness, discrete_map, euler, euler_generated_variance, euler_straightness,
    euler_variance_deficit_rate, flow_map, generated_covariance, generated_mean, heun, integrate, inverse_flow_map,
    inverted_covariance, inverted_mean, round_trip_gain, solver_map, speed_energy, straightness, trajectory,
    trajectory_scale, trajectory_scale_matrix, trajectory_speed, velocity, velocity_affine, velocity_gain, Direction,
    Solver,
};
use flowcollapse::theory::Covariance;
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::f64::consts::PI;

const SOLVERS: [Solver; 2] = [Solver::Euler, Solver::Heun];
const DIRECTIONS: [Direction; 2] = [Direction::Forward, Direction::Reverse];

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A random orthogonal matrix (QR of a matrix with independent entries).
fn random_orthogonal(rng: &mut Xoshiro256PlusPlus, d: usize) -> DMatrix<f64> {
    DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q()
}

fn random_vector(rng: &mut Xoshiro256PlusPlus, d: usize, scale: f64) -> DVector<f64> {
    DVector::from_fn(d, |_, _| rng.random_range(-scale..scale))
}

/// Σ = Q diag(spectrum) Qᵀ with a random rotation (non-diagonal), as a matrix and validated.
fn rotated(rng: &mut Xoshiro256PlusPlus, spectrum: &[f64]) -> (DMatrix<f64>, Covariance) {
    let q = random_orthogonal(rng, spectrum.len());
    let sigma = &q * DMatrix::from_diagonal(&DVector::from_column_slice(spectrum)) * q.transpose();
    let sigma = (&sigma + sigma.transpose()) * 0.5;
    let cov = Covariance::from_matrix(&sigma).unwrap();
    (sigma, cov)
}

/// The standard test problem: non-diagonal Σ ≻ 0 with a spread spectrum, and a nonzero mean.
fn problem(seed: u64) -> (DMatrix<f64>, Covariance, DVector<f64>) {
    let mut rng = rng(seed);
    let (sigma, cov) = rotated(&mut rng, &[4.0, 1.3, 0.7, 0.2, 0.03]);
    let m = random_vector(&mut rng, 5, 2.0);
    (sigma, cov, m)
}

fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0), "{what}: {a} vs {b}");
}

fn assert_vec_close(a: &DVector<f64>, b: &DVector<f64>, tol: f64, what: &str) {
    let scale = a.norm().max(b.norm()).max(1.0);
    assert!((a - b).norm() <= tol * scale, "{what}: {a} vs {b}");
}

fn assert_mat_close(a: &DMatrix<f64>, b: &DMatrix<f64>, tol: f64, what: &str) {
    let scale = a.amax().max(b.amax()).max(1.0);
    assert!((a - b).amax() <= tol * scale, "{what}: {a} vs {b}");
}

fn basis(d: usize, j: usize) -> DVector<f64> {
    DVector::from_fn(d, |i, _| if i == j { 1.0 } else { 0.0 })
}

/// An affine map f(z) = A z + c read off by evaluating f at `origin` and `origin + e_j`.
fn affine_parts(
    d: usize,
    origin: &DVector<f64>,
    f: impl Fn(&DVector<f64>) -> DVector<f64>,
) -> (DMatrix<f64>, DVector<f64>) {
    let c = f(origin);
    let mut a = DMatrix::zeros(d, d);
    for j in 0..d {
        a.set_column(j, &(f(&(origin + basis(d, j))) - &c));
    }
    (a, c)
}

/// E‖f(x0)‖² for x0 ~ N(0, I) and affine f: ‖f(0)‖² + Σ_j ‖f(e_j) − f(0)‖².
fn expected_square(d: usize, f: impl Fn(&DVector<f64>) -> DVector<f64>) -> f64 {
    let (a, c) = affine_parts(d, &DVector::zeros(d), f);
    c.norm_squared() + a.norm_squared()
}

/// Composite Simpson on [0, 1] with `n` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, n: usize) -> f64 {
    let h = 1.0 / n as f64;
    let mut total = f(0.0) + f(1.0);
    for i in 1..n {
        total += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    total * h / 3.0
}

/// s'(t) written out again for the quadratures: d/dt √(t²λ + (1−t)²).
fn speed_by_hand(lambda: f64, t: f64) -> f64 {
    if lambda == 0.0 {
        -1.0
    } else {
        (t * lambda - (1.0 - t)) / (t * t * lambda + (1.0 - t) * (1.0 - t)).sqrt()
    }
}

// ---------------------------------------------------------------------------------------------------------
// proofs/flow-velocity.md
// ---------------------------------------------------------------------------------------------------------

/// v(x, t) = E[x1 − x0 | x_t = x] by Gaussian conditioning with dense matrices:
/// m + Cov(x1 − x0, x_t) Var(x_t)⁻¹ (x − t m), Cov = tΣ − (1−t)I, Var = t²Σ + (1−t)²I.
#[test]
fn velocity_is_the_gaussian_conditional_expectation() {
    let (sigma, cov, m) = problem(1);
    let d = cov.dim();
    let identity = DMatrix::<f64>::identity(d, d);
    let mut rng = rng(11);
    for &t in &[0.0, 0.05, 0.3, 0.5, 0.71, 0.95, 1.0] {
        let cross = &sigma * t - &identity * (1.0 - t);
        let var = &sigma * (t * t) + &identity * ((1.0 - t) * (1.0 - t));
        let x = random_vector(&mut rng, d, 3.0);
        let rhs = &x - &m * t;
        let expected = &m + &cross * var.clone().lu().solve(&rhs).unwrap();
        assert_vec_close(&velocity(&cov, &m, &x, t), &expected, 1e-11, &format!("v at t = {t}"));
        let (a, c) = velocity_affine(&cov, &m, t);
        assert_mat_close(&a, &(&cross * var.clone().try_inverse().unwrap()), 1e-11, "A_t");
        assert_vec_close(&(&a * &x + &c), &expected, 1e-11, "A_t x + c_t");
    }
    // The ends: v(x, 0) = m − x, v(x, 1) = x.
    let x = random_vector(&mut rng, d, 3.0);
    assert_vec_close(&velocity(&cov, &m, &x, 0.0), &(&m - &x), 1e-13, "v(x, 0)");
    assert_vec_close(&velocity(&cov, &m, &x, 1.0), &x, 1e-13, "v(x, 1)");
}

/// The definition itself: regress x1 − x0 on x_t over sampled independent pairs. The least-squares
/// slope and intercept estimate E[x1 − x0 | x_t] (linear, since everything is Gaussian).
#[test]
fn velocity_matches_a_regression_on_sampled_pairs() {
    let mut rng = rng(2);
    let (_, cov) = rotated(&mut rng, &[2.5, 0.6, 0.1]);
    let m = DVector::from_column_slice(&[1.0, -0.5, 0.25]);
    let d = 3;
    let root = cov.sqrt_factor();
    let t = 0.6;
    let n = 400_000;
    // Normal equations for [x_t, 1] → y = x1 − x0.
    let mut gram = DMatrix::<f64>::zeros(d + 1, d + 1);
    let mut cross = DMatrix::<f64>::zeros(d + 1, d);
    for _ in 0..n {
        let z0 = DVector::from_fn(d, |_, _| StandardNormal.sample(&mut rng));
        let z1: DVector<f64> = DVector::from_fn(d, |_, _| StandardNormal.sample(&mut rng));
        let x1 = &m + &root * z1;
        let xt = &x1 * t + &z0 * (1.0 - t);
        let y = &x1 - &z0;
        let features = DVector::from_fn(d + 1, |i, _| if i < d { xt[i] } else { 1.0 });
        gram += &features * features.transpose();
        cross += &features * y.transpose();
    }
    let coefficients = gram.lu().solve(&cross).unwrap(); // (d+1) × d: rows are features
    let (a, c) = velocity_affine(&cov, &m, t);
    let a_hat = coefficients.rows(0, d).transpose();
    let c_hat = coefficients.row(d).transpose();
    // Standard error of a slope entry ≤ √(residual variance / (n · smallest Var x_t)) ≈ √(2.4 / (0.2 n))
    // ≈ 0.0055; allow about 5.5 of them. A wrong sign or factor in the field moves entries by ≥ 0.1.
    assert!((&a_hat - &a).amax() < 0.03, "slope {a_hat} vs {a}");
    assert!((&c_hat - &c).amax() < 0.03, "intercept {c_hat} vs {c}");
}

#[test]
fn trajectory_derivative_is_the_velocity() {
    let (_, cov, m) = problem(3);
    let d = cov.dim();
    let mut rng = rng(33);
    let delta = 1e-5;
    for _ in 0..4 {
        let x0 = random_vector(&mut rng, d, 2.5);
        let path = |t: f64| trajectory(&cov, &m, &x0, t);
        for &t in &[0.02, 0.1, 0.25, 0.5, 0.62, 0.8, 0.97] {
            let derivative = (path(t + delta) - path(t - delta)) / (2.0 * delta);
            assert_vec_close(&derivative, &velocity(&cov, &m, &path(t), t), 1e-8, &format!("ẋ at t = {t}"));
        }
        // One-sided second-order differences at the ends.
        let start = (path(delta) * 4.0 - path(2.0 * delta) - path(0.0) * 3.0) / (2.0 * delta);
        assert_vec_close(&start, &velocity(&cov, &m, &path(0.0), 0.0), 1e-8, "ẋ at t = 0");
        let end = (path(1.0) * 3.0 - path(1.0 - delta) * 4.0 + path(1.0 - 2.0 * delta)) / (2.0 * delta);
        assert_vec_close(&end, &velocity(&cov, &m, &path(1.0), 1.0), 1e-8, "ẋ at t = 1");
        // The path starts at the noise and ends at the flow map.
        assert_vec_close(&path(0.0), &x0, 1e-13, "x_0");
        assert_vec_close(&path(1.0), &flow_map(&cov, &m, &x0), 1e-13, "x_1");
    }
}

/// The flow map's linear part is the symmetric PSD square root of Σ.
#[test]
fn flow_map_is_the_symmetric_square_root() {
    let (sigma, cov, m) = problem(4);
    let d = cov.dim();
    let (root, offset) = affine_parts(d, &DVector::zeros(d), |x0| flow_map(&cov, &m, x0));
    assert_vec_close(&offset, &m, 1e-13, "flow map of 0");
    assert_mat_close(&root, &root.transpose(), 1e-12, "symmetric");
    assert_mat_close(&(&root * &root), &sigma, 1e-12, "root²");
    assert!(root.clone().symmetric_eigen().eigenvalues.min() > 0.0, "positive definite");
    assert_mat_close(&trajectory_scale_matrix(&cov, 1.0), &root, 1e-12, "S(1)");
    assert_mat_close(&trajectory_scale_matrix(&cov, 0.0), &DMatrix::identity(d, d), 1e-13, "S(0)");
    // S(t)² = t²Σ + (1−t)²I.
    let s = trajectory_scale_matrix(&cov, 0.3);
    assert_mat_close(&(&s * &s), &(&sigma * 0.09 + DMatrix::identity(d, d) * 0.49), 1e-12, "S(t)²");
}

/// Singular Σ: null directions travel straight to the mean, the field at t = 1 is x, and the solvers land
/// exactly on the support.
#[test]
fn singular_covariance() {
    let mut rng = rng(5);
    let (_, cov) = rotated(&mut rng, &[2.0, 0.5, 0.0]);
    let null = cov.eigenvectors().column(2).into_owned();
    let m = random_vector(&mut rng, 3, 1.0);
    for &t in &[0.0, 0.3, 0.9, 0.999] {
        assert_close(velocity_gain(0.0, t), -1.0 / (1.0 - t), 1e-13, "a(0, t)");
        assert_close(trajectory_speed(0.0, t), -1.0, 0.0, "s'(0, t)");
        assert_close(trajectory_scale(0.0, t), 1.0 - t, 1e-15, "s(0, t)");
    }
    assert_eq!(velocity_gain(0.0, 1.0), 1.0);
    assert_eq!(denoiser_gain(0.0, 1.0), 1.0);
    let x0 = random_vector(&mut rng, 3, 2.0);
    let x1 = flow_map(&cov, &m, &x0);
    assert!((x1 - &m).dot(&null).abs() < 1e-12, "flow map leaves the support");
    let x = random_vector(&mut rng, 3, 2.0);
    assert_vec_close(&velocity(&cov, &m, &x, 1.0), &x, 1e-13, "v(x, 1) = x");
    // Along a trajectory the derivative still matches the field for t < 1.
    let delta = 1e-6;
    for &t in &[0.2, 0.9] {
        let derivative = (trajectory(&cov, &m, &x0, t + delta) - trajectory(&cov, &m, &x0, t - delta)) / (2.0 * delta);
        let field = velocity(&cov, &m, &trajectory(&cov, &m, &x0, t), t);
        assert_vec_close(&derivative, &field, 1e-7, "ẋ = v, singular Σ");
    }
    for solver in SOLVERS {
        for k in [1, 2, 5, 20] {
            let sample = integrate(|x, t| velocity(&cov, &m, x, t), &x0, k, solver, Direction::Forward);
            assert!((sample - &m).dot(&null).abs() < 1e-12, "{solver:?} K = {k} leaves the support");
            assert!(solver_map(0.0, k, solver, Direction::Forward).gain.abs() < 1e-15, "β_K(0) = 0 up to rounding");
        }
    }
}

#[test]
#[should_panic(expected = "needs Σ ≻ 0")]
fn exact_inverse_needs_a_definite_covariance() {
    let cov = Covariance::from_spectrum(&[1.0, 0.0]).unwrap();
    let zero = DVector::zeros(2);
    inverse_flow_map(&cov, &zero, &zero);
}

// ---------------------------------------------------------------------------------------------------------
// proofs/flow-straightness.md
// ---------------------------------------------------------------------------------------------------------

#[test]
fn straightness_closed_form_matches_quadrature_and_theory() {
    for &lambda in &[0.0, 0.01, 0.2, 0.5, 1.0, 2.0, 4.0, 9.0, 100.0] {
        let root = f64::sqrt(lambda);
        let quad = simpson(|t| (root - 1.0 - speed_by_hand(lambda, t)).powi(2), 4000);
        assert_close(direction_straightness(lambda), quad, 1e-9, &format!("S(λ = {lambda})"));
        let energy = simpson(|t| speed_by_hand(lambda, t).powi(2), 4000);
        assert_close(speed_energy(lambda), energy, 1e-9, &format!("∫s'² (λ = {lambda})"));
    }
    // proofs/flow-*.md: λ = 4 gives 0.858407…, which is exactly 4 − π.
    assert!((direction_straightness(4.0) - 0.858407).abs() < 5e-7);
    assert_close(direction_straightness(4.0), 4.0 - PI, 1e-15, "4 − π");
    // λ = 0 (a point mass) is the straight case. The often-repeated "λ = 1 gives 0" is wrong. With
    // λ = 1 the flow map is the identity (x1 = m + x0) but the path dips: s(1/2) = √½, so S = 2 − π/2.
    assert_eq!(direction_straightness(0.0), 0.0);
    assert_close(direction_straightness(1.0), 2.0 - PI / 2.0, 1e-15, "λ = 1");
    assert!(simpson(|t| speed_by_hand(1.0, t).powi(2), 4000) > 0.42, "λ = 1 is not straight");
}

/// The matrix definition ∫ E‖(Z1 − Z0) − Ż_t‖² dt with Ż_t = v(Z_t, t), integrated by Simpson, expectations
/// exact through the affine dependence on Z0; a nonzero mean changes nothing.
#[test]
fn straightness_matches_its_definition_for_a_non_diagonal_covariance() {
    let (sigma, cov, m) = problem(6);
    let d = cov.dim();
    let integrand = |t: f64| {
        expected_square(d, |z0| {
            let chord = flow_map(&cov, &m, z0) - z0;
            chord - velocity(&cov, &m, &trajectory(&cov, &m, z0, t), t)
        })
    };
    let quad = simpson(integrand, 400);
    assert_close(straightness(&cov), quad, 1e-8, "S(Σ)");
    // (2 − π/2) tr Σ^{1/2}, with the root from an independent eigendecomposition.
    let trace_root: f64 = sigma.symmetric_eigen().eigenvalues.iter().map(|l| l.sqrt()).sum();
    assert_close(straightness(&cov), (2.0 - PI / 2.0) * trace_root, 1e-12, "tr Σ^{1/2}");
}

/// rfpp's straightness, mean over steps of ‖(x_{i+1} − x_i)/Δt − (x_N − x_0)‖², on the exact trajectory
/// sampled at N + 1 points. Its chord x_N − x_0 is the flow map's Z1 − Z0 exactly (checked), so it is the
/// midpoint rule for the continuous definition and converges at O(N⁻²).
#[test]
fn rfpp_straightness_of_exact_trajectories_converges() {
    let (_, cov, m) = problem(7);
    let d = cov.dim();
    let exact = straightness(&cov);
    let discrete = |n: usize| {
        let dt = 1.0 / n as f64;
        let mut total = 0.0;
        for i in 0..n {
            total += expected_square(d, |z0| {
                let chord = trajectory(&cov, &m, z0, 1.0) - trajectory(&cov, &m, z0, 0.0);
                assert_vec_close(&chord, &(flow_map(&cov, &m, z0) - z0), 1e-13, "x_N − x_0 = Z1 − Z0");
                let step =
                    (trajectory(&cov, &m, z0, (i + 1) as f64 * dt) - trajectory(&cov, &m, z0, i as f64 * dt)) / dt;
                step - chord
            });
        }
        total / n as f64
    };
    let errors: Vec<f64> = [10, 100, 1000].iter().map(|&n| (discrete(n) - exact).abs()).collect();
    assert!(errors[2] < 1e-5 * exact, "N = 1000: error {}", errors[2]);
    let order = (errors[1] / errors[2]).log10();
    assert!((1.8..2.2).contains(&order), "convergence order {order}");
    assert!(errors[0] > errors[1]);
}

/// rfpp's straightness on the K-step Euler trajectory, by a direct Euler loop on vectors through `velocity`.
#[test]
fn euler_straightness_matches_the_euler_loop() {
    let (_, cov, m) = problem(8);
    let d = cov.dim();
    for k in [1, 2, 3, 8, 50] {
        let h = 1.0 / k as f64;
        let by_loop = {
            // Every quantity is affine in x0: run the loop from 0 and from each e_j.
            let mut total = 0.0;
            let runs: Vec<Vec<DVector<f64>>> = (0..=d)
                .map(|j| {
                    let mut x = if j < d { basis(d, j) } else { DVector::zeros(d) };
                    let mut points = vec![x.clone()];
                    for i in 0..k {
                        x = &x + velocity(&cov, &m, &x, i as f64 * h) * h;
                        points.push(x.clone());
                    }
                    points
                })
                .collect();
            for i in 0..k {
                let deviation = |run: &Vec<DVector<f64>>| (&run[i + 1] - &run[i]) / h - (&run[k] - &run[0]);
                let offset = deviation(&runs[d]);
                total += offset.norm_squared();
                for run in &runs[..d] {
                    total += (deviation(run) - &offset).norm_squared();
                }
            }
            total / k as f64
        };
        assert_close(euler_straightness(&cov, k), by_loop, 1e-10, &format!("K = {k}"));
    }
    assert_eq!(euler_straightness(&cov, 1), 0.0);
    // → the continuous straightness as K grows (error O(1/K)).
    let (far, near) = (direction_euler_straightness(4.0, 100), direction_euler_straightness(4.0, 10_000));
    assert!((near - (4.0 - PI)).abs() < 1e-4 && (far - (4.0 - PI)).abs() > 10.0 * (near - (4.0 - PI)).abs());
}

// ---------------------------------------------------------------------------------------------------------
// proofs/flow-euler.md
// ---------------------------------------------------------------------------------------------------------

/// β_K = Π_{j<K} (1 + h a(j/K)), written out again with a(t) = (tλ − (1−t))/(t²λ + (1−t)²).
fn beta_by_hand(lambda: f64, k: usize) -> f64 {
    let h = 1.0 / k as f64;
    (0..k)
        .map(|j| {
            let t = j as f64 * h;
            1.0 + h * (t * lambda - (1.0 - t)) / (t * t * lambda + (1.0 - t) * (1.0 - t))
        })
        .product()
}

#[test]
fn euler_worked_values() {
    let beta = |k| solver_map(4.0, k, Solver::Euler, Direction::Forward).gain;
    // proofs/flow-*.md, λ = 4: K = 1 → 0, K = 2 → 0.64, K = 4 → 1.8555, K → ∞ → 4.
    assert_eq!(beta(1), 0.0);
    assert_close(beta(2), 0.8, 1e-15, "β_2");
    assert_close(beta(2).powi(2), 0.64, 1e-15, "β_2²");
    // Exactly: β_4 = (3/4)(14/13)(13/10)(48/37) = 252/185, β_4² = 63504/34225 = 1.85548…
    assert_close(beta(4), 252.0 / 185.0, 1e-15, "β_4");
    assert!((beta(4).powi(2) - 1.8555).abs() < 5e-5);
    let b = beta(10_000);
    assert!((4.0 - b * b) > 0.0 && (4.0 - b * b) < 1.2e-3, "β_10⁴² = {}", b * b);
    // The same numbers from the product formula and from the generated covariance.
    for (k, expected) in [(1, 0.0), (2, 0.64), (4, 63504.0 / 34225.0)] {
        assert_close(euler_generated_variance(4.0, k), expected, 1e-14, &format!("β_{k}² by product"));
        let cov = Covariance::from_spectrum(&[4.0]).unwrap();
        assert_close(generated_covariance(&cov, k, Solver::Euler)[(0, 0)], expected, 1e-14, "Σ_K");
    }
}

/// β_K by the step product, by the pair recursion of `solver_map`, and by the product formula
/// λ Π (1 − λh²/(s_j² s_{j+1}²)) agree; 0 ≤ β_K² < λ (the few-step blur); the mean coefficient is 1.
#[test]
fn euler_gain_forms_agree_and_blur() {
    for &lambda in &[0.0, 1e-3, 0.05, 0.3, 1.0, 2.0, 4.0, 30.0, 1e3] {
        for k in [1, 2, 3, 4, 7, 16, 100, 1000] {
            let map = solver_map(lambda, k, Solver::Euler, Direction::Forward);
            let by_hand = beta_by_hand(lambda, k);
            assert_close(map.gain, by_hand, 1e-12, &format!("β (λ = {lambda}, K = {k})"));
            assert_close(euler_generated_variance(lambda, k), by_hand * by_hand, 1e-11, "product formula");
            assert_close(map.mean, 1.0, 1e-12, "α_K = 1");
            assert!(map.gain >= 0.0, "β_K ≥ 0");
            if lambda > 0.0 {
                assert!(map.gain * map.gain < lambda, "blur: β² = {} ≥ λ = {lambda}", map.gain.powi(2));
            }
            if k == 1 || lambda == 0.0 {
                assert!(map.gain.abs() < 1e-15, "K = 1 or λ = 0 collapses to the mean: β = {}", map.gain);
            }
        }
    }
}

/// λ − β_K² = c(λ)/K + O(K⁻²) with c(λ) = λ + (π/4)(1 + λ)√λ.
#[test]
fn euler_variance_deficit_rate_is_the_first_order_term() {
    for &lambda in &[0.01, 0.5, 1.0, 4.0, 100.0] {
        let rate = euler_variance_deficit_rate(lambda);
        let scaled = |k: usize| (lambda - euler_generated_variance(lambda, k)) * k as f64;
        let (coarse, fine) = ((scaled(2000) - rate).abs(), (scaled(20_000) - rate).abs());
        assert!(fine < 1e-3 * rate, "λ = {lambda}: K·deficit {} vs {rate}", scaled(20_000));
        assert!(coarse > 5.0 * fine, "the remainder is O(1/K)");
    }
    assert_close(euler_variance_deficit_rate(4.0), 4.0 + 2.5 * PI, 1e-15, "λ = 4");
}

/// Small eigenvalues: β_K = (K − 1) λ + O(λ²), so β_K² ≈ (K − 1)² λ²; and a flow retrained on its own
/// K-step Euler samples (exact field each generation) loses variance every generation and collapses, doubly
/// exponentially once λ < (K − 1)⁻².
#[test]
fn euler_small_eigenvalues_and_self_consuming_collapse() {
    for k in [2, 5, 20] {
        let lambda = 1e-10;
        let beta = solver_map(lambda, k, Solver::Euler, Direction::Forward).gain;
        assert_close(beta / lambda, (k - 1) as f64, 1e-5, &format!("β_K / λ, K = {k}"));
    }
    let k = 20;
    let mut lambda: f64 = 1.0;
    let mut history = vec![lambda];
    while lambda > 1e-30 && history.len() < 1000 {
        let next = euler_generated_variance(lambda, k);
        assert!(next < lambda, "generation {}: {next} ≥ {lambda}", history.len());
        lambda = next;
        history.push(lambda);
    }
    assert!(history.len() < 200, "collapse took {} generations", history.len());
    // Past the threshold ν = (K − 1)² λ < 1/4 the scaled variance at least squares each generation.
    let threshold = 0.25 / ((k - 1) * (k - 1)) as f64;
    let late: Vec<&[f64]> = history.windows(2).filter(|p| p[0] < threshold && p[1] > 1e-30).collect();
    assert!(late.len() >= 2, "too few generations past the threshold: {history:?}");
    for pair in late {
        let (nu, nu_next) = (pair[0] * ((k - 1) * (k - 1)) as f64, pair[1] * ((k - 1) * (k - 1)) as f64);
        assert!(nu_next <= nu * nu * 1.0001, "ν: {nu} → {nu_next}");
    }
}

/// The mean part: α_K = 1 forward, and −γ_K in reverse (x̂0 = γ_K (x1 − μ)), for both solvers.
#[test]
fn solvers_keep_the_mean_exactly() {
    for &lambda in &[0.0, 0.02, 1.0, 4.0, 50.0] {
        for solver in SOLVERS {
            for k in [1, 2, 5, 33, 400] {
                let forward = solver_map(lambda, k, solver, Direction::Forward);
                assert_close(forward.mean, 1.0, 1e-12, &format!("{solver:?} α (λ = {lambda}, K = {k})"));
                let reverse = solver_map(lambda, k, solver, Direction::Reverse);
                assert_close(reverse.mean, -reverse.gain, 1e-12, &format!("{solver:?} reverse mean"));
            }
        }
    }
    // Through the generic integrator on vectors: from x0 = 0 the sample is the mean; from x1 = m, 0.
    let (_, cov, m) = problem(9);
    let zero = DVector::zeros(cov.dim());
    for solver in SOLVERS {
        for k in [1, 3, 10] {
            let field = |x: &DVector<f64>, t: f64| velocity(&cov, &m, x, t);
            assert_vec_close(&integrate(field, &zero, k, solver, Direction::Forward), &m, 1e-12, "sample of 0");
            assert_vec_close(&integrate(field, &m, k, solver, Direction::Reverse), &zero, 1e-12, "inverse of m");
            assert_vec_close(&generated_mean(&cov, &m, k, solver), &m, 1e-12, "generated mean");
            assert_vec_close(&inverted_mean(&cov, &m, k, solver), &zero, 1e-12, "inverted mean");
        }
    }
}

/// The Gaussian closed forms against the generic integrator run with `velocity` on vectors (an
/// independent path: matrix-vector field evaluations instead of per-direction recursions).
#[test]
fn discrete_maps_match_the_generic_integrator() {
    let (sigma, cov, m) = problem(10);
    let d = cov.dim();
    let mut rng = rng(100);
    for solver in SOLVERS {
        for direction in DIRECTIONS {
            for k in [1, 2, 3, 7, 40] {
                let start = random_vector(&mut rng, d, 2.0);
                let mut calls = 0;
                let by_loop = integrate(
                    |x, t| {
                        calls += 1;
                        velocity(&cov, &m, x, t)
                    },
                    &start,
                    k,
                    solver,
                    direction,
                );
                assert_eq!(calls, solver.nfe(k), "{solver:?} NFE");
                let closed = discrete_map(&cov, &m, &start, k, solver, direction);
                assert_vec_close(&closed, &by_loop, 1e-11, &format!("{solver:?} {direction:?} K = {k}"));
            }
            // The generated (or inverted) covariance from the loop's affine map.
            let k = 6;
            let field = |x: &DVector<f64>, t: f64| velocity(&cov, &m, x, t);
            match direction {
                Direction::Forward => {
                    let (a, _) = affine_parts(d, &DVector::zeros(d), |x0| integrate(field, x0, k, solver, direction));
                    let expected = &a * a.transpose();
                    assert_mat_close(&generated_covariance(&cov, k, solver), &expected, 1e-11, "generated Σ_K");
                }
                Direction::Reverse => {
                    let (b, _) = affine_parts(d, &m, |x1| integrate(field, x1, k, solver, direction));
                    let expected = &b * &sigma * b.transpose();
                    assert_mat_close(&inverted_covariance(&cov, k, solver), &expected, 1e-11, "inverted covariance");
                }
            }
        }
    }
}

/// Heun is second order (error ratio ≈ 4 per halving of h), Euler first order (≈ 2).
#[test]
fn solver_orders() {
    let lambda = 4.0;
    for (solver, range) in [(Solver::Euler, 1.8..2.2), (Solver::Heun, 3.6..4.6)] {
        let error = |k| (solver_map(lambda, k, solver, Direction::Forward).gain - 2.0).abs();
        let ratio = error(40) / error(80);
        assert!(range.contains(&ratio), "{solver:?}: ratio {ratio}");
    }
    // Heun worked values (λ = 4, last step Euler): K = 1 is Euler; K = 2 gives β = 1.44 exactly:
    // step 1: 1 + ½·½(a(0) + a(½)) + ⅛ a(0) a(½) = 1 + ¼(−1 + 1.2) − 0.15 = 0.9; step 2: 1 + ½ a(½) = 1.6.
    assert_eq!(solver_map(lambda, 1, Solver::Heun, Direction::Forward).gain, 0.0);
    assert_close(solver_map(lambda, 2, Solver::Heun, Direction::Forward).gain, 1.44, 1e-15, "Heun β_2");
}

/// Tiny generic integrators with analytic fields (after facebookresearch/flow_matching's tests): they pin
/// the grid (linspace(0, 1, K+1), h = 1/K, not 1/(K−1)), the time direction and the left-point rule.
#[test]
fn generic_integrators_on_analytic_fields() {
    let one = DVector::from_element(2, 1.0);
    let zero = DVector::zeros(2);
    let three_t_squared = |_: &DVector<f64>, t: f64| DVector::from_element(2, 3.0 * t * t);
    for k in [1usize, 2, 3, 10, 10_000] {
        let kf = k as f64;
        // Forward: Σ_j 3 (j/K)² / K = (K−1)(2K−1)/(2K²); reverse: −Σ_{i=1..K} 3 (i/K)² / K = −(K+1)(2K+1)/(2K²).
        let forward = euler(three_t_squared, &zero, k, Direction::Forward);
        let reverse = euler(three_t_squared, &one, k, Direction::Reverse);
        assert_close(forward[0], (kf - 1.0) * (2.0 * kf - 1.0) / (2.0 * kf * kf), 1e-12, "Euler 3t² forward");
        assert_close(reverse[0] - 1.0, -(kf + 1.0) * (2.0 * kf + 1.0) / (2.0 * kf * kf), 1e-12, "Euler 3t² reverse");
        // Heun with v = 2t: trapezoid exact on the first K−1 steps, Euler last: 1 − 1/K² and −(1 + 1/K²).
        let two_t = |_: &DVector<f64>, t: f64| DVector::from_element(2, 2.0 * t);
        assert_close(heun(two_t, &zero, k, Direction::Forward)[1], 1.0 - 1.0 / (kf * kf), 1e-12, "Heun 2t forward");
        assert_close(heun(two_t, &one, k, Direction::Reverse)[1] - 1.0, -(1.0 + 1.0 / (kf * kf)), 1e-12, "Heun 2t rev");
        // dx/dt = x: Euler (1 + h)^K forward, (1 − h)^K in reverse; Heun (1 + h + h²/2)^{K−1} (1 + h).
        let h = 1.0 / kf;
        let linear = |x: &DVector<f64>, _: f64| x.clone();
        assert_close(euler(linear, &one, k, Direction::Forward)[0], (1.0 + h).powi(k as i32), 1e-12, "Euler x'=x");
        assert_close(euler(linear, &one, k, Direction::Reverse)[0], (1.0 - h).powi(k as i32), 1e-12, "Euler rev");
        let heun_expected = (1.0 + h + 0.5 * h * h).powi(k as i32 - 1) * (1.0 + h);
        assert_close(heun(linear, &one, k, Direction::Forward)[0], heun_expected, 1e-12, "Heun x'=x");
    }
    let converged = euler(three_t_squared, &zero, 10_000, Direction::Forward)[0];
    assert!((converged - 1.0).abs() < 2e-4 && converged < 1.0);
    // The nodes: Euler visits t_j = j/K forward and (K − j)/K in reverse; Heun never evaluates at the far end.
    for (solver, direction, expected) in [
        (Solver::Euler, Direction::Forward, vec![0.0, 0.25, 0.5, 0.75]),
        (Solver::Euler, Direction::Reverse, vec![1.0, 0.75, 0.5, 0.25]),
        (Solver::Heun, Direction::Forward, vec![0.0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75]),
        (Solver::Heun, Direction::Reverse, vec![1.0, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25]),
    ] {
        let mut seen = Vec::new();
        integrate(
            |x, t| {
                seen.push(t);
                x.clone()
            },
            &one,
            4,
            solver,
            direction,
        );
        assert_eq!(seen, expected, "{solver:?} {direction:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// proofs/flow-inversion.md
// ---------------------------------------------------------------------------------------------------------

#[test]
fn exact_inversion_is_the_inverse_of_the_flow_map() {
    let (_, cov, m) = problem(12);
    let mut rng = rng(120);
    for _ in 0..5 {
        let x0 = random_vector(&mut rng, cov.dim(), 3.0);
        assert_vec_close(&inverse_flow_map(&cov, &m, &flow_map(&cov, &m, &x0)), &x0, 1e-12, "x0 round trip");
        let x1 = random_vector(&mut rng, cov.dim(), 3.0);
        assert_vec_close(&flow_map(&cov, &m, &inverse_flow_map(&cov, &m, &x1)), &x1, 1e-12, "x1 round trip");
    }
}

/// Reverse ∘ forward with K steps: gain β_K γ_K per direction, in [0, 1), → 1 as K grows.
#[test]
fn solver_round_trip_tends_to_the_identity() {
    let (_, cov, m) = problem(13);
    let x0 = random_vector(&mut rng(130), cov.dim(), 2.0);
    for solver in SOLVERS {
        let mut previous = f64::INFINITY;
        for k in [1, 4, 16, 64, 256, 1024] {
            let sample = discrete_map(&cov, &m, &x0, k, solver, Direction::Forward);
            let back = discrete_map(&cov, &m, &sample, k, solver, Direction::Reverse);
            let gains: Vec<f64> = cov.eigenvalues().iter().map(|&l| round_trip_gain(l, k, solver)).collect();
            assert_vec_close(&back, &(cov.with_spectrum(&gains) * &x0), 1e-12, "round trip = Q diag(βγ) Qᵀ x0");
            let error = (&back - &x0).norm() / x0.norm();
            assert!(error < previous, "{solver:?} K = {k}: round-trip error {error} did not shrink");
            previous = error;
            if k == 1 {
                assert!(back.norm() < 1e-12, "K = 1 maps everything to the mean and back to 0");
            }
        }
        let tolerance = if solver == Solver::Euler { 1e-2 } else { 1e-5 };
        assert!(previous < tolerance, "{solver:?} K = 1024: {previous}");
    }
    // Euler: 0 ≤ βγ < 1, inverted real data is under-dispersed (γ²λ < 1), both → 1.
    for &lambda in &[0.01, 0.3, 1.0, 4.0, 80.0] {
        for k in [1, 2, 5, 50, 5000] {
            let rt = round_trip_gain(lambda, k, Solver::Euler);
            assert!((0.0..1.0).contains(&rt), "βγ = {rt}");
            let gamma = solver_map(lambda, k, Solver::Euler, Direction::Reverse).gain;
            assert!(gamma * gamma * lambda < 1.0, "γ²λ = {}", gamma * gamma * lambda);
        }
        assert!(1.0 - round_trip_gain(lambda, 5000, Solver::Euler) < 0.1);
    }
    // 1 − βγ = (c(λ)/λ)/K + O(K⁻²): the round-trip loss has the Euler variance deficit's relative rate.
    for &lambda in &[0.01, 1.0, 4.0, 100.0] {
        let scaled = (1.0 - round_trip_gain(lambda, 20_000, Solver::Euler)) * 20_000.0;
        assert_close(scaled, euler_variance_deficit_rate(lambda) / lambda, 1e-3, &format!("round trip λ = {lambda}"));
    }
    // The inverted covariance tends to I.
    let inverted = inverted_covariance(&cov, 4096, Solver::Heun);
    assert_mat_close(&inverted, &DMatrix::identity(cov.dim(), cov.dim()), 1e-5, "Cov x̂0 → I");
    assert!(inverted_covariance(&cov, 8, Solver::Euler).symmetric_eigen().eigenvalues.max() < 1.0);
}

/// Time reversal t ↦ 1 − t swaps the roles of noise and data: γ_K(λ) = β_K(1/λ), for both solvers.
#[test]
fn reverse_gain_is_the_forward_gain_of_the_reciprocal_eigenvalue() {
    for &lambda in &[0.01, 0.3, 1.0, 4.0, 80.0] {
        for solver in SOLVERS {
            for k in [1, 2, 3, 9, 100] {
                let gamma = solver_map(lambda, k, solver, Direction::Reverse).gain;
                let beta_dual = solver_map(1.0 / lambda, k, solver, Direction::Forward).gain;
                assert_close(gamma, beta_dual, 1e-12, &format!("{solver:?} λ = {lambda}, K = {k}"));
            }
        }
        // And the Euler reverse product written out: Π (1 − h a(1 − j/K)).
        let k = 7;
        let h = 1.0 / k as f64;
        let by_hand: f64 = (0..k).map(|j| 1.0 - h * velocity_gain(lambda, (k - j) as f64 * h)).product();
        assert_close(solver_map(lambda, k, Solver::Euler, Direction::Reverse).gain, by_hand, 1e-13, "γ product");
    }
}

// ---------------------------------------------------------------------------------------------------------
// proofs/flow-denoiser.md
// ---------------------------------------------------------------------------------------------------------

#[test]
fn denoiser_is_the_optimal_dae_of_the_rescaled_point() {
    let (sigma, cov, m) = problem(14);
    let d = cov.dim();
    let identity = DMatrix::<f64>::identity(d, d);
    let mut rng = rng(140);
    for &t in &[0.02, 0.1, 0.3, 0.5, 0.8, 0.99, 1.0] {
        let x = random_vector(&mut rng, d, 3.0);
        let d_t = denoiser(&cov, &m, &x, t);
        // Gaussian conditioning: E[x1 | x_t] = m + tΣ (t²Σ + (1−t)²I)⁻¹ (x − t m).
        let var = &sigma * (t * t) + &identity * ((1.0 - t) * (1.0 - t));
        let expected = &m + &sigma * t * var.lu().solve(&(&x - &m * t)).unwrap();
        assert_vec_close(&d_t, &expected, 1e-11, &format!("D_t by conditioning, t = {t}"));
        // The DAE reading: optimal_dae(Σ, m, ((1−t)/t)²) applied to x/t.
        let s_t = denoiser_noise_variance(t);
        assert_close(s_t, ((1.0 - t) / t).powi(2), 1e-15, "s_t");
        let (w, b) = optimal_dae(&sigma, &m, s_t);
        assert_vec_close(&d_t, &(&w * (&x / t) + &b), 1e-10, &format!("D_t = DAE(x/t), t = {t}"));
        let (w_t, b_t) = denoiser_affine(&cov, &m, t);
        assert_mat_close(&(&w_t * t), &w, 1e-10, "W_t = W_dae / t");
        assert_vec_close(&b_t, &b, 1e-10, "b_t = b_dae");
        // And the velocity is the denoiser's residual over the remaining time.
        if t < 1.0 {
            let v = velocity(&cov, &m, &x, t);
            assert_vec_close(&v, &((&d_t - &x) / (1.0 - t)), 1e-10, &format!("v = (D − x)/(1 − t), t = {t}"));
        }
    }
    let x = random_vector(&mut rng, d, 3.0);
    assert_vec_close(&denoiser(&cov, &m, &x, 0.0), &m, 1e-14, "D_0 = m");
    assert_vec_close(&denoiser(&cov, &m, &x, 1.0), &x, 1e-14, "D_1 = x");
}

/// For λ ≫ K² the Euler factors telescope: forward `β_K = (1 − h)·Π_{j≥1} t_{j+1}/t_j = K − 1`, reverse
/// `γ_K = (1 − h)·(t_{K−1}/t_1)·(1 − h)/(h²λ) = (K − 1)/λ`, each to relative O(K²/λ); for λ ≪ 1/K² the
/// identity `γ_K(λ) = β_K(1/λ)` swaps them. At λ = 10^±300 these are exact to far below f64 rounding, and the
/// old `1 + δ a(t)` (tiny in reverse at t = 1/K) returned γ ≈ 10⁻¹⁷ instead of 10⁻³⁰⁰.
#[test]
fn euler_maps_are_accurate_at_extreme_eigenvalues() {
    for steps in [2usize, 4, 8, 100] {
        let k1 = (steps - 1) as f64;
        for (lambda, forward, reverse) in [(1e300, k1, k1 * 1e-300), (1e-300, k1 * 1e-300, k1)] {
            let f = solver_map(lambda, steps, Solver::Euler, Direction::Forward);
            let r = solver_map(lambda, steps, Solver::Euler, Direction::Reverse);
            for (what, got, want) in [("β", f.gain, forward), ("γ", r.gain, reverse), ("−mean", -r.mean, reverse)] {
                assert!((got - want).abs() <= 1e-13 * want, "λ={lambda:e} K={steps} {what}: {got:e} vs {want:e}");
            }
            assert!((f.mean - 1.0).abs() <= 1e-13, "λ={lambda:e} K={steps}: the forward map keeps the mean");
        }
    }
}

/// Euler and Heun maps at λ = 10^±10 and 10^±300 against the products of their step factors written out here
/// from the rational form `E(t, t′) = (t t′ λ + (1 − t)(1 − t′))/(t²λ + (1 − t)²)` (every term ≥ 0, so this
/// f64 product is good to ~4K ulps): Heun's step is `½(1 + E_j E_{j+1})`, its last step Euler.
#[test]
fn solver_gains_match_their_factor_products_from_tiny_to_huge_eigenvalues() {
    let factor = |lambda: f64, t: f64, u: f64| {
        (t * u * lambda + (1.0 - t) * (1.0 - u)) / (t * t * lambda + (1.0 - t) * (1.0 - t))
    };
    for lambda in [1e-300, 1e-10, 0.3, 4.0, 1e10, 1e300] {
        for steps in [1usize, 3, 8, 64] {
            for direction in [Direction::Forward, Direction::Reverse] {
                let node = |j: usize| match direction {
                    Direction::Forward => j as f64 / steps as f64,
                    Direction::Reverse => (steps - j) as f64 / steps as f64,
                };
                let euler: f64 = (0..steps).map(|j| factor(lambda, node(j), node(j + 1))).product();
                let heun: f64 = (0..steps)
                    .map(|j| {
                        let e = factor(lambda, node(j), node(j + 1));
                        if j + 1 < steps {
                            0.5 * (1.0 + e * factor(lambda, node(j + 1), node(j + 2)))
                        } else {
                            e
                        }
                    })
                    .product();
                for (solver, want) in [(Solver::Euler, euler), (Solver::Heun, heun)] {
                    let got = solver_map(lambda, steps, solver, direction).gain;
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs(),
                        "λ={lambda:e} K={steps} {solver:?} {direction:?}: {got:e} vs {want:e}"
                    );
                }
            }
        }
    }
}
