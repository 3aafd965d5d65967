//! Closed forms of `theory::dae` against independent computations (proofs/dae-*.md).

use flowcollapse::theory::dae::{
    accumulate_lower_bound, mix_contraction_bound, mix_fixed_point, optimal_dae, replace_bounds, summaries,
    DaeRecursion,
};
use flowcollapse::theory::{Covariance, CovarianceError, RealPool, Rule, Strategy};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const RULES: [Rule; 2] = [Rule::Noisy, Rule::Clean];

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

fn strategies() -> [Strategy; 3] {
    [Strategy::Replace, Strategy::Mix { alpha: 0.3, pool: RealPool::Fresh }, Strategy::Accumulate]
}

/// Eigenvalues spread log-uniformly over [1e-3, 10].
fn random_spectrum(rng: &mut Xoshiro256PlusPlus, d: usize) -> Vec<f64> {
    (0..d).map(|_| 10f64.powf(rng.random_range(-3.0..1.0))).collect()
}

/// A random orthogonal matrix (QR of a matrix with independent entries).
fn random_orthogonal(rng: &mut Xoshiro256PlusPlus, d: usize) -> DMatrix<f64> {
    DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q()
}

fn assert_close(a: f64, b: f64, rel: f64, what: &str) {
    assert!((a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300), "{what}: {a} vs {b}");
}

/// The DAE risk `E‖x − W y − b‖²`, y = x + σε, from the second moments of (x, y):
/// E[xxᵀ] = C + mmᵀ, E[yyᵀ] = C + sI + mmᵀ, E[xyᵀ] = C + mmᵀ, E[x] = E[y] = m.
fn risk(w: &DMatrix<f64>, b: &DVector<f64>, c: &DMatrix<f64>, m: &DVector<f64>, s: f64) -> f64 {
    let d = c.nrows();
    let mm = m * m.transpose();
    let exx = c + &mm;
    let eyy = c + DMatrix::identity(d, d) * s + &mm;
    let exy = c + &mm;
    exx.trace() - 2.0 * (w * exy.transpose()).trace() + (w * eyy * w.transpose()).trace() - 2.0 * b.dot(m)
        + 2.0 * b.dot(&(w * m))
        + b.dot(b)
}

#[test]
fn optimal_w_is_the_unique_minimiser() {
    let mut rng = rng(1);
    let d = 4;
    let a = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0));
    let c = &a * a.transpose();
    let m = DVector::from_fn(d, |_, _| rng.random_range(-2.0..2.0));
    let s = 0.3;
    let (w, b) = optimal_dae(&c, &m, s);
    let best = risk(&w, &b, &c, &m, s);
    for _ in 0..200 {
        let dw = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0));
        let db = DVector::from_fn(d, |_, _| rng.random_range(-1.0..1.0));
        for eps in [1e-3, 1e-1, 1.0] {
            let r = risk(&(&w + &dw * eps), &(&b + &db * eps), &c, &m, s);
            // The risk is quadratic: the increase is exactly eps² × (curvature along the direction) > 0,
            // i.e. eps² [tr(dW (C + sI) dWᵀ) + ‖dW m + db‖²] (the cross term vanishes at the optimum).
            let curvature =
                (&dw * (&c + DMatrix::identity(d, d) * s) * dw.transpose()).trace() + (&dw * &m + &db).norm_squared();
            assert!(r > best, "perturbation lowered the risk");
            assert_close(r - best, eps * eps * curvature, 1e-6, "quadratic increase");
        }
    }
}

#[test]
fn spectral_recursion_matches_matrix_recursion() {
    let mut rng = rng(2);
    let d = 6;
    let q = random_orthogonal(&mut rng, d);
    let lambda = random_spectrum(&mut rng, d);
    let sigma = &q * DMatrix::from_diagonal(&DVector::from_vec(lambda.clone())) * q.transpose();
    let cov = Covariance::from_matrix(&sigma).unwrap();
    let zero = DVector::zeros(d);
    let identity = DMatrix::<f64>::identity(d, d);
    let s = 0.2;
    for strategy in strategies() {
        for rule in RULES {
            let mut spectral = DaeRecursion::new(cov.eigenvalues(), s, strategy, rule);
            let mut generated = vec![sigma.clone()];
            let mut phi = identity.clone();
            for k in 1..=25 {
                let training = match strategy {
                    Strategy::Replace => generated[k - 1].clone(),
                    Strategy::Mix { alpha, .. } => &sigma * alpha + &generated[k - 1] * (1.0 - alpha),
                    Strategy::Accumulate => generated.iter().sum::<DMatrix<f64>>() / k as f64,
                };
                let (w, _) = optimal_dae(&training, &zero, s);
                let next = match rule {
                    Rule::Noisy => &w * (&training + &identity * s) * w.transpose(),
                    Rule::Clean => &w * &training * w.transpose(),
                };
                phi = &w * phi;
                spectral.step();
                let tol = 1e-9 * sigma.amax();
                assert!((cov.with_spectrum(spectral.training()) - &training).amax() < tol, "{strategy} {rule:?} C_{k}");
                assert!((cov.with_spectrum(spectral.generated()) - &next).amax() < tol, "{strategy} {rule:?} S_{k}");
                assert!((cov.with_spectrum(spectral.gain()) - &w).amax() < 1e-9, "W_{k}");
                assert!((cov.with_spectrum(spectral.end_to_end()) - &phi).amax() < 1e-9, "Φ_{k}");
                let summary = spectral.summary();
                let w_norm = w.singular_values().max();
                let phi_norm = phi.singular_values().max();
                assert_close(summary.w_norm, w_norm, 1e-9, "‖W‖");
                assert_close(summary.phi_norm, phi_norm, 1e-8, "‖Φ‖");
                assert_close(summary.trace_ratio, next.trace() / sigma.trace(), 1e-9, "trace ratio");
                let top = next.clone().symmetric_eigen().eigenvalues.max();
                assert_close(summary.top_eigenvalue, top, 1e-8, "top eigenvalue");
                generated.push(next);
            }
        }
    }
}

/// One generation of a direction with training variance c, from proofs/dae-covariance-recursion.md written
/// out here (not the library's): noisy `c²/(c + s)`, clean `c³/(c + s)²`.
fn generated(c: f64, s: f64, rule: Rule) -> f64 {
    match rule {
        Rule::Noisy => c * c / (c + s),
        Rule::Clean => c * c * c / ((c + s) * (c + s)),
    }
}

/// Steps lost per generation: 1 (noisy), 2 (clean), the factor of s in the lower bounds.
fn per_step(rule: Rule) -> f64 {
    match rule {
        Rule::Noisy => 1.0,
        Rule::Clean => 2.0,
    }
}

#[test]
fn replace_bounds_hold_on_random_spectra() {
    // proofs/dae-replace-collapse.md, computed here from the statement: with ρ = λ/(λ + s),
    // noisy λ − k s ≤ μ_k ≤ ρᵏ λ, clean λ − 2k s ≤ μ_k ≤ ρ^{2k} λ (lower bounds clipped at 0), and
    // ‖Φ_k‖ ≤ ρ_maxᵏ. μ_k and Φ_k are iterated here too, not taken from the library.
    let mut rng = rng(3);
    for _ in 0..100 {
        let lambda = random_spectrum(&mut rng, 8);
        let s = 10f64.powf(rng.random_range(-2.0..0.0));
        let rho_max = lambda.iter().map(|&l| l / (l + s)).fold(0.0, f64::max);
        for rule in RULES {
            let exponent = per_step(rule) as i32;
            let mut mu = lambda.clone();
            let mut phi = vec![1.0; lambda.len()];
            for k in 1..=200 {
                for ((m, p), &l) in mu.iter_mut().zip(phi.iter_mut()).zip(&lambda) {
                    *p *= *m / (*m + s);
                    *m = generated(*m, s, rule);
                    let rho = l / (l + s);
                    let (lo, hi) = ((l - per_step(rule) * k as f64 * s).max(0.0), rho.powi(exponent * k) * l);
                    let what = format!("λ={l} s={s} {rule:?} k={k}");
                    assert!(lo <= *m * (1.0 + 1e-12) && *m <= hi * (1.0 + 1e-12), "{what}: {lo} ≤ {m} ≤ {hi}");
                    // The library's bounds are these bounds, not looser ones.
                    let (lib_lo, lib_hi) = replace_bounds(l, s, rule, k as usize);
                    assert!((lib_lo - lo).abs() <= 1e-12 * l, "{what}: lower {lib_lo} vs {lo}");
                    assert_close(lib_hi, hi, 1e-12, &format!("{what}: upper"));
                }
                let phi_norm = phi.iter().copied().fold(0.0, f64::max);
                assert!(phi_norm <= rho_max.powi(k) * (1.0 + 1e-12), "‖Φ_{k}‖ = {phi_norm} above ρ_maxᵏ");
            }
        }
    }
    // Both bounds are attained or approached, so a looser bound is visible: at k = 1 the noisy upper bound
    // is μ_1 = λ²/(λ + s) = ρλ exactly, and the lower bounds are off by only s²/(λ + s) (noisy) and
    // s²(3λ + 2s)/(λ + s)² ≈ 3s²/λ (clean), tiny for s ≪ λ.
    for (l, s) in [(1.0, 1e-6), (7.0, 1e-4)] {
        let rho: f64 = l / (l + s);
        assert_close(replace_bounds(l, s, Rule::Noisy, 1).1, generated(l, s, Rule::Noisy), 1e-15, "noisy upper, k = 1");
        assert_close(replace_bounds(l, s, Rule::Clean, 1).1, rho * rho * l, 1e-15, "clean upper, k = 1");
        for rule in RULES {
            let lower = replace_bounds(l, s, rule, 1).0;
            let gap = generated(l, s, rule) - lower;
            assert!(gap > 0.0 && gap < 4.0 * s * s / l, "{rule:?} λ={l} s={s}: lower bound {lower}, gap {gap}");
        }
    }
    // Hand values: λ = 1, s = 0.25, k = 3: ρ = 0.8, so 0.512 and 0.8⁶ = 0.262144; λ − 3s = 0.25, λ − 6s < 0.
    assert_close(replace_bounds(1.0, 0.25, Rule::Noisy, 3).1, 0.512, 1e-15, "0.8³");
    assert_close(replace_bounds(1.0, 0.25, Rule::Clean, 3).1, 0.262_144, 1e-15, "0.8⁶");
    assert_eq!(replace_bounds(1.0, 0.25, Rule::Noisy, 3).0, 0.25);
    assert_eq!(replace_bounds(1.0, 0.25, Rule::Clean, 3).0, 0.0);
}

#[test]
fn replace_decays_linearly_then_doubly_exponentially() {
    let (lambda, s) = (1.0, 0.01);
    let mut rec = DaeRecursion::new(&[lambda], s, Strategy::Replace, Rule::Noisy);
    let mut first_below_s = None;
    while rec.generated()[0] > 1e-150 {
        let before = rec.generated()[0];
        rec.step();
        let after = rec.generated()[0];
        let u = before / s;
        if u >= 10.0 {
            // Linear phase: the decrement s·μ/(μ+s) lies in [s·10/11, s].
            let drop = before - after;
            assert!(drop <= s && drop >= s * 10.0 / 11.0, "drop {drop} at μ = {before}");
        } else if u < 0.1 {
            // Doubly exponential phase: ln(μ'/s) = 2 ln(μ/s) − ln(1 + μ/s).
            let ratio = (after / s).ln() / u.ln();
            assert!((2.0..2.05).contains(&ratio), "ratio {ratio} at μ/s = {u}");
        }
        if after < s && first_below_s.is_none() {
            first_below_s = Some(rec.generation());
        }
    }
    // About λ/s generations of slow decay: at least (λ − s)/s, at most 2λ/s.
    let k = first_below_s.unwrap() as f64;
    assert!(k >= (lambda - s) / s && k <= 2.0 * lambda / s, "collapse at generation {k}");
}

#[test]
fn mix_fixed_point_matches_ten_thousand_iterations() {
    let mut rng = rng(4);
    for _ in 0..50 {
        let lambda = 10f64.powf(rng.random_range(-2.0..1.0));
        let s = 10f64.powf(rng.random_range(-2.0..0.5));
        let alpha = rng.random_range(0.01..1.0);
        for rule in RULES {
            let mut rec = DaeRecursion::new(&[lambda], s, Strategy::Mix { alpha, pool: RealPool::Fixed }, rule);
            for _ in 0..10_000 {
                rec.step();
            }
            let fp = mix_fixed_point(lambda, s, alpha, rule);
            assert_close(rec.training()[0], fp.training, 1e-10, "c*");
            assert_close(rec.generated()[0], fp.generated, 1e-10, "μ*");
        }
    }
}

#[test]
fn mix_contraction_rate_is_at_most_one_minus_alpha() {
    // proofs/dae-mix-fixed-point.md: h(μ) = m(αλ + (1 − α)μ) is (1 − α)-Lipschitz, with m written out here,
    // and 1 − α is the best global constant (m′(c) → 1 as c → ∞). So the library's bound must be exactly
    // 1 − α: checked on random pairs, and approached from far above λ.
    let mut rng = rng(5);
    for _ in 0..50 {
        let lambda = 10f64.powf(rng.random_range(-2.0..1.0));
        let s = 10f64.powf(rng.random_range(-2.0..0.5));
        let alpha = rng.random_range(0.01..0.99);
        assert_close(mix_contraction_bound(alpha), 1.0 - alpha, 1e-15, "the bound is 1 − α");
        for rule in RULES {
            let h = |mu: f64| generated(alpha * lambda + (1.0 - alpha) * mu, s, rule);
            for _ in 0..60 {
                let (a, b) = (rng.random_range(0.0..10.0 * lambda), rng.random_range(0.0..10.0 * lambda));
                if (a - b).abs() > 1e-9 * lambda {
                    let ratio = (h(a) - h(b)).abs() / (a - b).abs();
                    assert!(ratio <= (1.0 - alpha) * (1.0 + 1e-9), "{rule:?}: |h(a) − h(b)|/|a − b| = {ratio}");
                }
            }
            // Far above λ the slope of h is (1 − α) m′(c) with m′(c) → 1: the bound is approached.
            let (a, b) = (1e6 * lambda, 1e6 * lambda * (1.0 + 1e-6));
            let ratio = (h(b) - h(a)) / (b - a);
            assert!(ratio > (1.0 - alpha) * (1.0 - 1e-4), "{rule:?}: slope {ratio} vs 1 − α = {}", 1.0 - alpha);
            // The local rate (1 − α) m′(c*) at the library's fixed point, m′ from proofs/dae-mix-fixed-point.md
            // step 1: noisy (c² + 2cs)/(c + s)², clean (c³ + 3c²s)/(c + s)³; and c* is a fixed point of g.
            let fp = mix_fixed_point(lambda, s, alpha, rule);
            let c = fp.training;
            assert_close(alpha * lambda + (1.0 - alpha) * generated(c, s, rule), c, 1e-9, "c* = g(c*)");
            let slope = match rule {
                Rule::Noisy => (c * c + 2.0 * c * s) / (c + s).powi(2),
                Rule::Clean => (c.powi(3) + 3.0 * c * c * s) / (c + s).powi(3),
            };
            assert_close(fp.local_rate, (1.0 - alpha) * slope, 1e-9, "local rate");
            assert!(fp.local_rate < 1.0 - alpha);
        }
    }
}

#[test]
fn worked_examples_from_theory() {
    // proofs/dae-*.md: λ = 1, s = 0.1, α = 0.5 → μ* = 0.81980.
    let fp = mix_fixed_point(1.0, 0.1, 0.5, Rule::Noisy);
    assert!((fp.generated - 0.81980).abs() < 5e-6, "μ* = {}", fp.generated);
    assert!((fp.training - (0.4 + 0.26f64.sqrt())).abs() < 1e-12);
    // Accumulate, λ = 1, s = 0.1: μ_1000 ≈ 0.353.
    let acc = summaries(&[1.0], 0.1, Strategy::Accumulate, Rule::Noisy, 1000);
    assert!((acc[1000].top_eigenvalue - 0.353).abs() < 5e-4, "μ_1000 = {}", acc[1000].top_eigenvalue);
    // Mix with α = 0 is Replace, generation by generation.
    let mix0 = summaries(&[3.0, 1.0, 0.2], 0.1, Strategy::Mix { alpha: 0.0, pool: RealPool::Fresh }, Rule::Noisy, 30);
    let replace = summaries(&[3.0, 1.0, 0.2], 0.1, Strategy::Replace, Rule::Noisy, 30);
    assert_eq!(mix0, replace);
}

#[test]
fn accumulate_lower_bound_holds_and_decay_is_slow() {
    // proofs/dae-accumulate.md, items 2 and 3, computed here: c_k ≥ λ − s(H_k − 1) (noisy) or λ − 2s(H_k − 1)
    // (clean), clipped at 0; and for the noisy rule F(c_k) ≤ F(λ) − s(H_k − 1) with F(c) = c + s ln c.
    // c_k = (μ_0 + … + μ_{k−1})/k is iterated here.
    let mut rng = rng(6);
    for _ in 0..20 {
        let lambda = 10f64.powf(rng.random_range(-1.0..1.0));
        let s = 10f64.powf(rng.random_range(-2.0..-0.5));
        for rule in RULES {
            let (mut total, mut harmonic) = (lambda, 1.0);
            let mut previous = f64::INFINITY;
            for k in 1..=3000usize {
                if k > 1 {
                    harmonic += 1.0 / k as f64;
                }
                let c = total / k as f64;
                total += generated(c, s, rule);
                let bound = (lambda - per_step(rule) * s * (harmonic - 1.0)).max(0.0);
                assert!(c >= bound * (1.0 - 1e-12), "{rule:?} λ={lambda} s={s} k={k}: {c} < {bound}");
                assert!(
                    (accumulate_lower_bound(lambda, s, rule, k) - bound).abs() <= 1e-12 * lambda,
                    "the library's bound is this one: k={k}"
                );
                if rule == Rule::Noisy {
                    let f = |x: f64| x + s * x.ln();
                    assert!(f(c) <= f(lambda) - s * (harmonic - 1.0) + 1e-12 * lambda, "upper bound at k={k}");
                }
                assert!(c < previous || k == 1, "c_k must decrease");
                previous = c;
            }
        }
    }
    // The bound is tight while c ≫ s: c_2 = (λ + μ_1)/2 = λ − (s/2)·λ/(λ + s), the bound λ − s/2.
    let (l, s) = (1.0, 1e-6);
    let c2 = (l + generated(l, s, Rule::Noisy)) / 2.0;
    assert!(c2 - accumulate_lower_bound(l, s, Rule::Noisy, 2) < s * s, "tight at k = 2");
    // Worked example: λ = 1, s = 0.1, k = 1000: c_1000 ≥ 1 − 0.1 (H_1000 − 1) = 0.35145.
    assert!((accumulate_lower_bound(1.0, 0.1, Rule::Noisy, 1000) - 0.351_453).abs() < 1e-6);
    // Slower than Replace by far: Replace at λ = 1, s = 0.1 is below 1e-3 by generation 20,
    // Accumulate still keeps more than a third of the variance at generation 1000.
    let replace = summaries(&[1.0], 0.1, Strategy::Replace, Rule::Noisy, 20);
    let acc = summaries(&[1.0], 0.1, Strategy::Accumulate, Rule::Noisy, 1000);
    assert!(replace[20].trace_ratio < 1e-3 && acc[1000].trace_ratio > 0.33);
}

#[test]
fn small_eigenvalues_die_first() {
    let mut rng = rng(7);
    for _ in 0..50 {
        let mut lambda = random_spectrum(&mut rng, 12);
        lambda.sort_by(f64::total_cmp);
        let s = 10f64.powf(rng.random_range(-2.0..0.0));
        for strategy in strategies() {
            for rule in RULES {
                let mut rec = DaeRecursion::new(&lambda, s, strategy, rule);
                for _ in 0..100 {
                    rec.step();
                    let kept: Vec<f64> = rec.generated().iter().zip(&lambda).map(|(mu, l)| mu / l).collect();
                    assert!(kept.windows(2).all(|p| p[0] <= p[1] * (1.0 + 1e-12)), "{strategy} {rule:?}: {kept:?}");
                }
            }
        }
    }
}

#[test]
fn covariance_rejects_what_is_not_a_covariance() {
    let m = |rows: usize, v: &[f64]| DMatrix::from_row_slice(rows, v.len() / rows, v);
    assert!(matches!(Covariance::from_matrix(&m(2, &[1.0, 0.5, 0.4, 1.0])), Err(CovarianceError::NotSymmetric { .. })));
    assert!(matches!(Covariance::from_matrix(&m(2, &[1.0, 2.0, 2.0, 1.0])), Err(CovarianceError::Indefinite { .. })));
    assert!(matches!(Covariance::from_matrix(&m(1, &[1.0, 2.0])), Err(CovarianceError::NotSquare { .. })));
    assert!(matches!(Covariance::from_matrix(&m(1, &[f64::NAN])), Err(CovarianceError::NonFinite { .. })));
    assert!(matches!(Covariance::from_spectrum(&[1.0, -0.1]), Err(CovarianceError::BadEigenvalue { index: 1, .. })));
    assert!(matches!(Covariance::from_spectrum(&[0.0, 0.0]), Err(CovarianceError::Zero)));
    assert!(matches!(Covariance::from_spectrum(&[]), Err(CovarianceError::Empty)));
    // A valid non-diagonal one: eigenvalues 3 and 1, largest first, and the matrix comes back.
    let sigma = m(2, &[2.0, 1.0, 1.0, 2.0]);
    let cov = Covariance::from_matrix(&sigma).unwrap();
    assert_close(cov.eigenvalues()[0], 3.0, 1e-12, "λ1");
    assert_close(cov.eigenvalues()[1], 1.0, 1e-12, "λ2");
    assert!((cov.matrix() - &sigma).amax() < 1e-12);
    let l = cov.sqrt_factor();
    assert!((&l * l.transpose() - &sigma).amax() < 1e-12);
}

/// The upper bound ρ^{k}·λ for more generations than an i32 exponent holds: it decays to 0, it does not wrap
/// around to ρ^{−2³¹} = ∞.
#[test]
fn replace_bounds_survive_generation_counts_beyond_i32() {
    let k = 1usize << 31;
    let (lo, hi) = replace_bounds(1.0, 0.5, Rule::Noisy, k);
    assert_eq!((lo, hi), (0.0, 0.0), "ρ = 2/3 to the power 2³¹ underflows to 0");
    let (_, hi) = replace_bounds(1.0, 1e-12, Rule::Clean, k);
    // ρ = 1/(1 + 1e-12): ρ^{2k} = exp(−2k·ln(1 + 1e-12)) ≈ exp(−2³²·1e-12), computed independently.
    let want = (-(2.0 * k as f64) * (1e-12f64).ln_1p()).exp();
    // ρ itself is rounded (relative error ≤ ε), and the power multiplies that by its exponent 2k.
    let tolerance = 2.0 * (2.0 * k as f64) * f64::EPSILON;
    assert!((hi - want).abs() < tolerance * want, "{hi} vs {want}");
}
