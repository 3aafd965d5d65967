//! Fréchet distance (`metrics::frechet`) against independent computations: the commuting closed form, the
//! 2 × 2 square-root closed form, a Denman–Beavers iteration on the non-symmetric product Σ₁Σ₂, and the
//! small-sample bias of two sample sets from one Gaussian.

use flowcollapse::metrics::{frechet_distance, FrechetReference, Moments, Samples};
use flowcollapse::sim::stats::mean_interval;
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// A random symmetric positive-definite matrix with eigenvalues in [lo, hi] and random eigenvectors.
fn random_spd(rng: &mut Xoshiro256PlusPlus, d: usize, lo: f64, hi: f64) -> DMatrix<f64> {
    let q = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q();
    let l = DVector::from_fn(d, |_, _| rng.random_range(lo..hi));
    let a = &q * DMatrix::from_diagonal(&l) * q.transpose();
    (&a + a.transpose()) * 0.5
}

fn random_vector(rng: &mut Xoshiro256PlusPlus, d: usize) -> DVector<f64> {
    DVector::from_fn(d, |_, _| rng.random_range(-2.0..2.0))
}

#[test]
fn commuting_covariances_give_the_closed_form() {
    let mut rng = rng(1);
    for d in [1, 3, 8] {
        let a: Vec<f64> = (0..d).map(|_| rng.random_range(0.0..5.0)).collect();
        let b: Vec<f64> = (0..d).map(|_| rng.random_range(0.0..5.0)).collect();
        let (m1, m2) = (random_vector(&mut rng, d), random_vector(&mut rng, d));
        let c1 = DMatrix::from_diagonal(&DVector::from_column_slice(&a));
        let c2 = DMatrix::from_diagonal(&DVector::from_column_slice(&b));
        let fd = frechet_distance(&m1, &c1, &m2, &c2).unwrap();
        let expect_mean = (&m1 - &m2).norm_squared();
        let expect_trace: f64 = a.iter().zip(&b).map(|(x, y)| (x.sqrt() - y.sqrt()).powi(2)).sum();
        assert!((fd.mean_term - expect_mean).abs() <= 1e-12 * expect_mean.max(1.0), "d = {d}");
        assert!((fd.trace_term - expect_trace).abs() <= 1e-12 * (a.iter().sum::<f64>() + 1.0), "d = {d}: {fd:?}");
        assert_eq!(fd.value, fd.mean_term + fd.trace_term);

        // The same pair rotated by one orthogonal Q commutes too; the distance is rotation invariant.
        let q = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q();
        let rot = |c: &DMatrix<f64>| {
            let r = &q * c * q.transpose();
            (&r + r.transpose()) * 0.5
        };
        let fd_rot = frechet_distance(&(&q * &m1), &rot(&c1), &(&q * &m2), &rot(&c2)).unwrap();
        assert!((fd_rot.value - fd.value).abs() <= 1e-11 * (fd.value + 1.0), "{fd_rot:?} vs {fd:?}");
    }
}

/// `tr (A^{1/2} B A^{1/2})^{1/2}` for 2 × 2 SPD matrices: with M = A^{1/2} B A^{1/2}, `tr √M = √(tr M + 2√det M)`
/// (from `√M = (M + √det M · I)/√(tr M + 2√det M)`), and `tr M = tr AB`, `det M = det A det B`.
fn cross_trace_2x2(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let tr_ab = (a * b).trace();
    (tr_ab + 2.0 * (a.determinant() * b.determinant()).sqrt()).sqrt()
}

/// Denman–Beavers iteration for the principal square root of a (non-symmetric) matrix with positive
/// eigenvalues: `Y ← (Y + Z⁻¹)/2`, `Z ← (Z + Y⁻¹)/2`, from `Y = A`, `Z = I`; `Y → A^{1/2}`.
fn denman_beavers(a: &DMatrix<f64>) -> DMatrix<f64> {
    let n = a.nrows();
    let (mut y, mut z) = (a.clone(), DMatrix::identity(n, n));
    for _ in 0..60 {
        let (yi, zi) = (y.clone().try_inverse().unwrap(), z.clone().try_inverse().unwrap());
        y = (&y + zi) * 0.5;
        z = (&z + yi) * 0.5;
    }
    y
}

#[test]
fn non_commuting_covariances_match_independent_square_roots() {
    let mut rng = rng(2);
    for _ in 0..20 {
        let (a, b) = (random_spd(&mut rng, 2, 0.05, 4.0), random_spd(&mut rng, 2, 0.05, 4.0));
        let (m1, m2) = (random_vector(&mut rng, 2), random_vector(&mut rng, 2));
        let fd = frechet_distance(&m1, &a, &m2, &b).unwrap();
        let expect = (&m1 - &m2).norm_squared() + a.trace() + b.trace() - 2.0 * cross_trace_2x2(&a, &b);
        assert!((fd.value - expect).abs() <= 1e-11 * (a.trace() + b.trace()), "{fd:?} vs {expect}");
        assert!((a.clone() * &b - b.clone() * &a).norm() > 1e-3, "the pair must not commute");
    }
    for _ in 0..20 {
        let (a, b) = (random_spd(&mut rng, 3, 0.05, 4.0), random_spd(&mut rng, 3, 0.05, 4.0));
        let (m1, m2) = (random_vector(&mut rng, 3), random_vector(&mut rng, 3));
        let fd = frechet_distance(&m1, &a, &m2, &b).unwrap();
        // tr (A^{1/2} B A^{1/2})^{1/2} = tr (AB)^{1/2}: the two matrices are similar.
        let cross = denman_beavers(&(&a * &b)).trace();
        let expect = (&m1 - &m2).norm_squared() + a.trace() + b.trace() - 2.0 * cross;
        assert!((fd.value - expect).abs() <= 1e-10 * (a.trace() + b.trace()), "{fd:?} vs {expect}");
    }
}

#[test]
fn distance_to_itself_is_zero_and_arguments_commute() {
    let mut rng = rng(3);
    for d in [2, 10, 40] {
        let (a, b) = (random_spd(&mut rng, d, 0.01, 3.0), random_spd(&mut rng, d, 0.01, 3.0));
        let (m1, m2) = (random_vector(&mut rng, d), random_vector(&mut rng, d));
        let scale = a.trace() + b.trace();
        let same = frechet_distance(&m1, &a, &m1, &a).unwrap();
        assert!(same.value.abs() <= 1e-10 * scale, "d = {d}: {same:?}");
        let ab = frechet_distance(&m1, &a, &m2, &b).unwrap();
        let ba = frechet_distance(&m2, &b, &m1, &a).unwrap();
        assert!((ab.value - ba.value).abs() <= 1e-10 * scale, "d = {d}: {ab:?} vs {ba:?}");
        assert!(ab.value > 0.0);

        // A prepared reference gives the same as the one-shot function.
        let reference = FrechetReference::new(&m1, &a).unwrap();
        assert_eq!(reference.distance(&m2, &b).unwrap(), ab);
    }
    // A singular Σ (rank 1 in 3 dimensions) is allowed: FD to itself is 0 up to the documented floor.
    let v = DVector::from_column_slice(&[1.0, 2.0, -1.0]);
    let singular = &v * v.transpose();
    let zero = DVector::zeros(3);
    let fd = frechet_distance(&zero, &singular, &zero, &singular).unwrap();
    assert!(fd.value <= 3.0 * (f64::EPSILON * 6.0).sqrt() * 6.0_f64.sqrt(), "{fd:?}");
}

#[test]
fn bad_shapes_are_errors_naming_the_argument() {
    let c2 = DMatrix::<f64>::identity(2, 2);
    let c3 = DMatrix::<f64>::identity(3, 3);
    let (m2, m3) = (DVector::<f64>::zeros(2), DVector::<f64>::zeros(3));
    let err = frechet_distance(&m2, &c2, &m3, &c3).unwrap_err().to_string();
    assert!(err.contains("compared mean") && err.contains("dimension 3"), "{err}");
    let err = frechet_distance(&m3, &c2, &m3, &c3).unwrap_err().to_string();
    assert!(err.contains("reference") && err.contains("2 × 2"), "{err}");
    let mut nan = c2.clone();
    nan[(1, 0)] = f64::NAN;
    let err = frechet_distance(&m2, &nan, &m2, &c2).unwrap_err().to_string();
    assert!(err.contains("non-finite") && err.contains("row 1, column 0"), "{err}");
}

/// n samples of N(0, I_d) as f32 rows.
fn standard_samples(rng: &mut Xoshiro256PlusPlus, n: usize, d: usize) -> Vec<f32> {
    (0..n * d).map(|_| StandardNormal.sample(rng)).collect()
}

/// Two independent n-sample sets of N(0, I_d): `E‖μ̂₁ − μ̂₂‖² = 2d/n` exactly, and to leading order in 1/n
/// the trace term is the Bures metric at I, `¼‖Σ̂₁ − Σ̂₂‖²_F`, whose mean is `¼·2·d(d+1)/(n−1)`
/// (Wishart: `Var Σ̂_ij = (1 + δ_ij)/(n−1)`). So `n·E FD → 2d + d(d+1)/2`, and FD shrinks like 1/n.
#[test]
fn sample_distance_between_one_gaussian_shrinks_like_one_over_n() {
    let d = 4;
    let (replicates, level) = (300, 0.99);
    let limit = 2.0 * d as f64 + (d * (d + 1)) as f64 / 2.0;
    let mut means = Vec::new();
    for (s, n) in [400usize, 1600, 6400].into_iter().enumerate() {
        let mut rng = rng(100 + s as u64);
        let (mut scaled, mut mean_terms) = (Vec::new(), Vec::new());
        for _ in 0..replicates {
            let x = standard_samples(&mut rng, n, d);
            let y = standard_samples(&mut rng, n, d);
            let mx = Moments::from_samples(Samples::new("x", &x, n, d).unwrap()).unwrap();
            let my = Moments::from_samples(Samples::new("y", &y, n, d).unwrap()).unwrap();
            let fd = frechet_distance(mx.mean(), mx.covariance(), my.mean(), my.covariance()).unwrap();
            scaled.push(fd.value * n as f64);
            mean_terms.push(fd.mean_term * n as f64);
        }
        let iv = mean_interval(&mean_terms, level);
        assert!(iv.lo <= 2.0 * d as f64 && 2.0 * d as f64 <= iv.hi, "n = {n}: n·mean term {iv:?}");
        let iv = mean_interval(&scaled, level);
        // Next-order terms are O(d/n) relative: allow 8·d/n on top of the sampling interval.
        let slack = limit * 8.0 * d as f64 / n as f64;
        assert!(iv.lo - slack <= limit && limit <= iv.hi + slack, "n = {n}: n·FD {iv:?} vs {limit}");
        means.push(iv.mean / n as f64);
    }
    assert!(means[0] > 3.0 * means[1] && means[1] > 3.0 * means[2], "FD must shrink ~1/n: {means:?}");
}
