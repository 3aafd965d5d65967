//! Straightness (`metrics::straightness`) on analytic paths with known values, against the two-pass formula,
//! and against `theory::flow::euler_straightness` on Euler trajectories of the exact Gaussian flow.

use flowcollapse::metrics::{straightness, Samples, Straightness};
use flowcollapse::theory::flow::{euler_straightness, velocity_affine};
use flowcollapse::theory::Covariance;
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::f64::consts::PI;

/// Streams the states `states[j]` (each `n × d`) through the accumulator.
fn run(states: &[Vec<f32>], n: usize, d: usize, h: f64) -> flowcollapse::metrics::StraightnessStats {
    let views: Vec<Samples> = states.iter().map(|s| Samples::new("state", s, n, d).unwrap()).collect();
    straightness(&views, h).unwrap()
}

#[test]
fn straight_constant_speed_paths_have_zero_straightness() {
    let (n, d, k) = (5, 7, 10);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let start: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let end: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let h = 1.0 / k as f64;
    let states: Vec<Vec<f32>> =
        (0..=k).map(|j| start.iter().zip(&end).map(|(a, b)| (a + j as f64 * h * (b - a)) as f32).collect()).collect();
    let s = run(&states, n, d, h);
    // Only f32 rounding of the states is left: velocity errors ~ u·|x|/h = 1e-6, squared and summed over d.
    assert!(s.mean < 1e-10, "{s:?}");
    assert_eq!((s.n, s.steps), (n, k));
}

/// A circle arc of radius ρ through angle π/2 at constant speed, sampled at K + 1 equally spaced times: each
/// step's finite-difference velocity has length `2ρ K sin(π/(4K))` and the mean velocity is the chord
/// (length ρ√2), orthogonal-decomposed exactly, so `S_K = ρ²(4K² sin²(π/(4K)) − 2)`. As K → ∞ this tends to
/// `ρ²(π²/4 − 2)` with error at most `ρ² π⁴/(192 K²)` (alternating Taylor series of sin²).
#[test]
fn quarter_circle_at_constant_speed_gives_pi_squared_over_four_minus_two() {
    let k = 400;
    let h = 1.0 / k as f64;
    // Three circles in 3-D with different radii, centres and planes.
    let circles = [(1.0, [0.0, 0.0, 0.0], 0.0), (2.0, [1.0, -1.0, 0.5], 0.7), (0.5, [0.3, 0.2, -0.4], 2.1)];
    let (n, d) = (circles.len(), 3);
    let states: Vec<Vec<f32>> = (0..=k)
        .map(|j| {
            let angle = PI / 2.0 * j as f64 * h;
            circles
                .iter()
                .flat_map(|(rho, c, tilt)| {
                    let (x, y) = (rho * angle.cos(), rho * angle.sin());
                    [c[0] + x, c[1] + y * f64::cos(*tilt), c[2] + y * f64::sin(*tilt)].map(|v| v as f32)
                })
                .collect()
        })
        .collect();
    let s = run(&states, n, d, h);
    let mean_rho2 = circles.iter().map(|c| c.0 * c.0).sum::<f64>() / n as f64;
    let discrete = mean_rho2 * (4.0 * (k * k) as f64 * (PI / (4.0 * k as f64)).sin().powi(2) - 2.0);
    let limit = mean_rho2 * (PI * PI / 4.0 - 2.0);
    let bound = mean_rho2 * PI.powi(4) / (192.0 * (k * k) as f64);
    // f32 states: velocity noise ~ u·ρ·K ≈ 1e-4, contributing ~ its square (1e-8) on average.
    assert!((s.mean - discrete).abs() < 1e-6, "{} vs discrete {discrete}", s.mean);
    assert!((s.mean - limit).abs() <= bound + 1e-6, "{} vs {limit} ± {bound}", s.mean);
    assert!(discrete < limit, "the discrete value approaches from below");
}

#[test]
fn streaming_equals_the_two_pass_formula() {
    let (n, d, k) = (130, 9, 13);
    let h = 0.37; // any grid: the mean velocity is (x_K − x_0)/(K h)
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let states: Vec<Vec<f32>> = (0..=k).map(|_| (0..n * d).map(|_| rng.random_range(-2.0f32..2.0)).collect()).collect();
    let s = run(&states, n, d, h);
    // Two passes in f64: all velocities, their mean, then squared deviations.
    let per_sample: Vec<f64> = (0..n)
        .map(|i| {
            let x = |j: usize, c: usize| states[j][i * d + c] as f64;
            let vbar: Vec<f64> = (0..d).map(|c| (x(k, c) - x(0, c)) / (k as f64 * h)).collect();
            (0..k).map(|j| (0..d).map(|c| ((x(j + 1, c) - x(j, c)) / h - vbar[c]).powi(2)).sum::<f64>()).sum::<f64>()
                / k as f64
        })
        .collect();
    let mean = per_sample.iter().sum::<f64>() / n as f64;
    let sd = (per_sample.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert!((s.mean - mean).abs() < 1e-12 * mean, "{} vs {mean}", s.mean);
    assert!((s.std_dev - sd).abs() < 1e-10 * sd, "{} vs {sd}", s.std_dev);
}

/// Euler with K steps on the exact velocity of the flow N(0, I) → N(m, Σ), states stored as f32 like the
/// trainer's. The expected straightness is `theory::flow::euler_straightness(Σ, K)` (summed over
/// coordinates); the sample mean is within 4.5 standard errors of it.
#[test]
fn euler_on_the_exact_gaussian_flow_matches_the_closed_form() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let q = DMatrix::from_fn(3, 3, |_, _| rng.random_range(-1.0..1.0)).qr().q();
    let sigma = &q * DMatrix::from_diagonal(&DVector::from_column_slice(&[4.0, 0.5, 0.05])) * q.transpose();
    let cov = Covariance::from_matrix(&((&sigma + sigma.transpose()) * 0.5)).unwrap();
    let m = DVector::from_column_slice(&[1.0, -2.0, 0.5]);
    let n = 20_000;
    for k in [1usize, 2, 5, 12] {
        let h = 1.0 / k as f64;
        let mut x: Vec<DVector<f64>> =
            (0..n).map(|_| DVector::from_fn(3, |_, _| StandardNormal.sample(&mut rng))).collect();
        let flatten = |x: &[DVector<f64>]| x.iter().flat_map(|v| v.iter().map(|&c| c as f32)).collect::<Vec<f32>>();
        let mut states = vec![flatten(&x)];
        for j in 0..k {
            let (a, c) = velocity_affine(&cov, &m, j as f64 * h);
            for v in x.iter_mut() {
                *v = &*v + (&a * &*v + &c) * h;
            }
            states.push(flatten(&x));
        }
        let s = run(&states, n, 3, h);
        let expect = euler_straightness(&cov, k);
        let se = s.std_dev / (n as f64).sqrt();
        assert!((s.mean - expect).abs() <= 4.5 * se + 1e-6, "K = {k}: {} vs {expect} (se {se})", s.mean);
        if k == 1 {
            assert!(s.mean < 1e-12, "one step is straight by definition");
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    let x = [0.0f32; 6];
    let s = Samples::new("x_0", &x, 2, 3).unwrap();
    assert!(Straightness::new(s, 0.0).unwrap_err().to_string().contains("step h = 0"));
    assert!(Straightness::new(s, f64::NAN).is_err());
    let mut acc = Straightness::new(s, 0.5).unwrap();
    assert!(acc.finish().unwrap_err().to_string().contains("at least 1 step"));
    let other = Samples::new("x_1", &x, 3, 2).unwrap();
    let err = acc.push(other).unwrap_err().to_string();
    assert!(err.contains("x_1 = 3 × 2") && err.contains("2 × 3"), "{err}");
    assert!(straightness(&[], 0.1).is_err());
}
