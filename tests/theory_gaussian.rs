//! Closed forms of `theory::gaussian` against independent computations (proofs/gaussian-*.md).

use flowcollapse::theory::gaussian::{
    accumulate_expected_variance, accumulate_mean_error, accumulate_mean_error_bound,
    accumulate_mean_error_bound_limit, accumulate_mean_error_limit, accumulate_variance_limit, expected_moments,
    log_det_drift, log_det_step_variance, log_drift, log_step_variance, median_log_offset, mix_fixed_point, mix_rate,
    mix_real_count, replace_expected_log_variance, replace_expected_variance, replace_log_variance_variance,
    replace_mean_error, replace_median_variance, tetragamma, trigamma, Estimator,
};
use flowcollapse::theory::{RealPool, Strategy};
use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF};
use statrs::function::gamma::{digamma, gamma};
use std::f64::consts::PI;

const ESTIMATORS: [Estimator; 2] = [Estimator::Mle, Estimator::Unbiased];
const POOLS: [RealPool; 2] = [RealPool::Fresh, RealPool::Fixed];
/// ζ(3), Apéry's constant.
const ZETA3: f64 = 1.202_056_903_159_594_3;
/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

fn assert_close(a: f64, b: f64, rel: f64, what: &str) {
    assert!((a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300), "{what}: {a} vs {b}");
}

/// ∫ g(ln x) dF(x) for X ~ χ²_ν, by Simpson's rule in u = ln x (density f(eᵘ) eᵘ), from statrs' pdf.
fn log_chi_square_expectation(nu: f64, g: impl Fn(f64) -> f64) -> f64 {
    let chi = ChiSquared::new(nu).unwrap();
    // e^{ν u / 2} decay on the left, e^{−eᵘ/2} on the right.
    let (lo, hi) = (-(100.0 / nu + 10.0), (10.0 * nu + 400.0).ln());
    let steps = 20_000;
    let h = (hi - lo) / steps as f64;
    let f = |u: f64| {
        let x = u.exp();
        g(u) * chi.pdf(x) * x
    };
    let mut sum = f(lo) + f(hi);
    for i in 1..steps {
        sum += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    sum * h / 3.0
}

/// ψ(x) at x = m or m + 1/2 (m a non-negative integer) from its closed forms, independent of statrs:
/// ψ(m) = −γ + H_{m−1}, ψ(m + 1/2) = −γ − 2 ln 2 + Σ_{j=1}^{m} 2/(2j − 1).
fn digamma_at_half_integer(twice: usize) -> f64 {
    if twice.is_multiple_of(2) {
        -EULER_GAMMA + (1..twice / 2).map(|j| 1.0 / j as f64).sum::<f64>()
    } else {
        -EULER_GAMMA - 2.0 * 2f64.ln() + (1..=twice / 2).map(|j| 2.0 / (2 * j - 1) as f64).sum::<f64>()
    }
}

#[test]
fn trigamma_and_tetragamma_match_known_values() {
    assert_close(trigamma(1.0), PI * PI / 6.0, 1e-15, "ψ′(1) = π²/6");
    assert_close(trigamma(0.5), PI * PI / 2.0, 1e-15, "ψ′(1/2) = π²/2");
    assert_close(tetragamma(1.0), -2.0 * ZETA3, 1e-15, "ψ″(1) = −2ζ(3)");
    assert_close(tetragamma(0.5), -14.0 * ZETA3, 1e-15, "ψ″(1/2) = −14ζ(3)");
    // ψ′(m + 1) = π²/6 − Σ_{j≤m} 1/j², ψ″(m + 1) = −2ζ(3) + 2 Σ_{j≤m} 1/j³, through the switch at 15.
    let (mut h2, mut h3) = (0.0, 0.0);
    for m in 1..=60 {
        h2 += 1.0 / (m * m) as f64;
        h3 += 1.0 / (m * m * m) as f64;
        // Absolute tolerances: the references cancel (π²/6 − H⁽²⁾_m is small for large m).
        let (psi1, psi2) = (trigamma(m as f64 + 1.0), tetragamma(m as f64 + 1.0));
        assert!((psi1 - (PI * PI / 6.0 - h2)).abs() < 4e-15, "ψ′({}) = {psi1}", m + 1);
        assert!((psi2 - (-2.0 * ZETA3 + 2.0 * h3)).abs() < 4e-15, "ψ″({}) = {psi2}", m + 1);
    }
    // Against central differences of statrs' digamma (ψ′) and of trigamma itself (ψ″), a continuous scan.
    for i in 0..400 {
        let x = 0.05 * 1.03f64.powi(i);
        let h = 1e-4 * x;
        let fd = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
        assert_close(trigamma(x), fd, 1e-6, &format!("ψ′({x}) vs d/dx ψ"));
        let fd2 = (trigamma(x + h) - trigamma(x - h)) / (2.0 * h);
        assert_close(tetragamma(x), fd2, 1e-6, &format!("ψ″({x}) vs d/dx ψ′"));
    }
    // Large arguments: ψ′(x) ≈ 1/x + 1/(2x²), ψ″(x) ≈ −1/x² − 1/x³.
    assert_close(trigamma(1e8), 1e-8 + 0.5e-16, 1e-15, "ψ′(1e8)");
    assert_close(tetragamma(1e8), -1e-16 - 1e-24, 1e-15, "ψ″(1e8)");
    for bad in [0.0, -1.0, f64::NAN] {
        assert!(trigamma(bad).is_nan() && tetragamma(bad).is_nan(), "outside the domain: {bad}");
    }
}

#[test]
fn log_step_cumulants_match_numerical_integration() {
    // One Replace step is ln(χ²_{n−1} / D): its mean, variance and third cumulant by quadrature.
    for n in [2usize, 3, 4, 6, 10, 20, 101] {
        let nu = (n - 1) as f64;
        let mean = log_chi_square_expectation(nu, |u| u);
        let var = log_chi_square_expectation(nu, |u| (u - mean).powi(2));
        let third = log_chi_square_expectation(nu, |u| (u - mean).powi(3));
        for estimator in ESTIMATORS {
            let expected = mean - estimator.divisor(n).ln();
            assert_close(log_drift(n, estimator), expected, 1e-9, &format!("drift n={n} {estimator}"));
        }
        assert_close(log_step_variance(n), var, 1e-9, &format!("ψ′ n={n}"));
        assert_close(tetragamma(nu / 2.0), third, 1e-8, &format!("ψ″ n={n}"));
        // The mean of one step of the *variance*: E[χ²_ν]/D is the estimator's factor.
        for estimator in ESTIMATORS {
            let factor = log_chi_square_expectation(nu, |u| u.exp()) / estimator.divisor(n);
            assert_close(estimator.factor(n), factor, 1e-9, "factor");
        }
    }
}

#[test]
fn theory_section_3_worked_formulas() {
    // proofs/gaussian-*.md, with digamma at (n − 1)/2 from its closed form at half-integers (independent of statrs).
    for n in 2..=200usize {
        let psi = digamma_at_half_integer(n - 1);
        let (nf, sigma2) = (n as f64, 2.5);
        assert_close(log_drift(n, Estimator::Mle), psi + (2.0 / nf).ln(), 1e-12, "MLE drift ψ((n−1)/2) + ln(2/n)");
        assert_close(log_drift(n, Estimator::Unbiased), psi + (2.0 / (nf - 1.0)).ln(), 1e-12, "unbiased drift");
        // Both drifts are negative (Jensen), so σ̂²_k → 0 almost surely, even though the unbiased mean stays σ².
        assert!(log_drift(n, Estimator::Mle) < log_drift(n, Estimator::Unbiased));
        assert!(log_drift(n, Estimator::Unbiased) < 0.0);
        for k in [0usize, 1, 7, 100] {
            let kf = k as f64;
            assert_close(
                replace_expected_variance(sigma2, n, Estimator::Mle, k),
                sigma2 * ((nf - 1.0) / nf).powi(k as i32),
                1e-13,
                "E[σ̂²_k] = σ² ((n−1)/n)^k",
            );
            assert_eq!(replace_expected_variance(sigma2, n, Estimator::Unbiased, k), sigma2);
            assert_close(replace_mean_error(sigma2, n, Estimator::Unbiased, k), kf * sigma2 / nf, 1e-15, "kσ²/n");
        }
    }
    // Worked numbers: n = 10, ψ(4.5) = 1.388870926359529.
    assert_close(log_drift(10, Estimator::Mle), 1.388_870_926_359_529 + 0.2f64.ln(), 5e-14, "n = 10 MLE");
    assert_close(log_drift(10, Estimator::Unbiased), 1.388_870_926_359_529 + (2.0f64 / 9.0).ln(), 5e-14, "unbiased");
    assert_close(replace_expected_variance(1.0, 10, Estimator::Mle, 3), 0.729, 1e-14, "0.9³");
}

#[test]
fn replace_closed_forms_match_their_recursions() {
    for n in [2usize, 3, 10, 57] {
        for estimator in ESTIMATORS {
            let (mut v, mut m) = (1.7, 0.0);
            let moments = expected_moments(n, estimator, Strategy::Replace, 300);
            for (k, record) in moments.iter().enumerate() {
                // E[σ̂²_k | past] = f σ̂²_{k−1}; μ̂_k − μ̂_{k−1} has variance σ̂²_{k−1}/n, uncorrelated increments.
                assert_close(replace_expected_variance(1.7, n, estimator, k), v, 1e-12, "E[σ̂²_k]");
                assert_close(replace_mean_error(1.7, n, estimator, k), m, 1e-12, "E[(μ̂_k − μ)²]");
                assert_close(record.variance_ratio * 1.7, v, 1e-12, "expected_moments variance");
                assert_close(record.mean_error * 1.7, m, 1e-12, "expected_moments mean error");
                m += v / n as f64;
                v *= estimator.factor(n);
            }
            // The log is a random walk: mean and variance add up exactly.
            let k = 37;
            assert_close(
                replace_expected_log_variance(1.7, n, estimator, k),
                1.7f64.ln() + k as f64 * log_drift(n, estimator),
                1e-14,
                "E ln σ̂²_k",
            );
            assert_close(replace_log_variance_variance(n, k), k as f64 * log_step_variance(n), 1e-14, "Var ln σ̂²_k");
        }
        // MLE mean error is bounded by σ²; unbiased grows without bound.
        assert!(replace_mean_error(1.0, n, Estimator::Mle, 100_000) <= 1.0);
    }
}

#[test]
fn median_formula_matches_the_exact_median_after_one_generation() {
    // k = 1: σ̂²_1 = σ² χ²_{n−1}/D, whose median statrs gives exactly; the O(1/k) error is largest here.
    for (n, tolerance) in [(4usize, 0.017), (5, 0.010), (10, 0.0019), (20, 0.00042), (100, 2e-5)] {
        let exact_chi = ChiSquared::new((n - 1) as f64).unwrap().inverse_cdf(0.5);
        for estimator in ESTIMATORS {
            let exact = 3.0 * exact_chi / estimator.divisor(n);
            let approx = replace_median_variance(3.0, n, estimator, 1);
            let error = (approx / exact).ln();
            assert!(error.abs() <= tolerance, "n={n} {estimator}: ln error {error}");
            // The Edgeworth offset is what makes it accurate: the leading term alone is off by more.
            let leading = 3.0 * log_drift(n, estimator).exp();
            assert!((leading / exact).ln().abs() > 4.0 * error.abs(), "n={n}");
        }
        // The offset is about 1/(3(n − 1)) for large n.
        assert_close(median_log_offset(n), 1.0 / (3.0 * (n - 1) as f64), 3.0 / n as f64, "offset");
    }
    assert_eq!(replace_median_variance(3.0, 10, Estimator::Mle, 0), 3.0);
}

#[test]
fn log_det_drift_is_a_sum_of_log_chi_square_means() {
    for n in [4usize, 7, 30] {
        for estimator in ESTIMATORS {
            assert_close(log_det_drift(n, 1, estimator), log_drift(n, estimator), 1e-14, "rank 1");
            assert_close(log_det_step_variance(n, 1), log_step_variance(n), 1e-14, "rank 1");
            // Bartlett: det of a Wishart_ρ(n − 1, I) is a product of independent χ²_{n−1}, …, χ²_{n−ρ}.
            let rho = 3;
            let expected: f64 =
                (1..=rho).map(|i| log_chi_square_expectation((n - i) as f64, |u| u) - estimator.divisor(n).ln()).sum();
            assert_close(log_det_drift(n, rho, estimator), expected, 1e-9, "rank 3 drift");
            let var: f64 = (1..=rho)
                .map(|i| {
                    let nu = (n - i) as f64;
                    let mean = log_chi_square_expectation(nu, |u| u);
                    log_chi_square_expectation(nu, |u| (u - mean).powi(2))
                })
                .sum();
            assert_close(log_det_step_variance(n, rho), var, 1e-9, "rank 3 variance");
        }
    }
}

#[test]
fn accumulate_variance_tends_to_its_closed_form_limit() {
    for n in [2usize, 3, 5, 10, 20, 100] {
        for estimator in ESTIMATORS {
            let limit = accumulate_variance_limit(1.0, n, estimator);
            let mut previous = f64::INFINITY;
            for k in [0usize, 1, 2, 3, 10, 1000, 100_000] {
                let v = accumulate_expected_variance(1.0, n, estimator, k);
                assert!(v <= previous && v > limit, "decreasing to the limit: n={n} k={k}");
                previous = v;
            }
            // v_k − v_∞ ≈ v_∞ / (n k): the tail product Π_{j>k} (1 − 1/(n j²)) ≈ 1 − 1/(n k).
            let k = 100_000;
            let gap = accumulate_expected_variance(1.0, n, estimator, k) - limit;
            assert_close(gap, limit / (n * k) as f64, 1e-3, &format!("tail n={n} {estimator}"));
        }
        // Euler's product for the sine, checked against the gamma-function form of the same product.
        let x = 1.0 / (n as f64).sqrt();
        assert_close(
            accumulate_variance_limit(1.0, n, Estimator::Mle),
            1.0 / (gamma(1.0 - x) * gamma(1.0 + x)),
            1e-12,
            "sin(πx)/(πx) = 1/(Γ(1−x)Γ(1+x))",
        );
    }
    // Worked values: n = 2 unbiased gives exactly 2/3; k = 1 is the first fit on real data.
    assert_close(accumulate_variance_limit(1.0, 2, Estimator::Unbiased), 2.0 / 3.0, 1e-13, "n = 2");
    assert_close(accumulate_expected_variance(1.0, 10, Estimator::Mle, 1), 0.9, 1e-15, "k = 1 MLE");
    assert_eq!(accumulate_expected_variance(1.0, 10, Estimator::Unbiased, 1), 1.0);
}

/// `E[σ̂²_j]/σ²` under Accumulate for j = 0…k−1, from the products of proofs/gaussian-accumulate-variance.md
/// written out here: MLE Π_{i≤j} (1 − 1/(n i²)), unbiased Π_{2≤i≤j} (1 − 1/(i (i n − 1))).
fn accumulate_variances(n: usize, estimator: Estimator, k: usize) -> Vec<f64> {
    let nf = n as f64;
    let mut v = Vec::with_capacity(k);
    let mut product = 1.0;
    for j in 0..k {
        if j >= 1 {
            let i = j as f64;
            product *= match estimator {
                Estimator::Mle => 1.0 - 1.0 / (nf * i * i),
                Estimator::Unbiased if j == 1 => 1.0,
                Estimator::Unbiased => 1.0 - 1.0 / (i * (i * nf - 1.0)),
            };
        }
        v.push(product);
    }
    v
}

#[test]
fn accumulate_mean_error_is_bounded_below_pi_squared_over_six() {
    // proofs/gaussian-mean-error.md, items 2–4, computed here: E[e_k²] = (1/n) Σ_{j<k} v_j/(j + 1)², the
    // bound (σ²/n) H⁽²⁾_k, attained for k ≤ 1 (MLE) and k ≤ 2 (unbiased), and its limit (σ²/n) π²/6.
    let zeta2 = PI * PI / 6.0;
    let sigma2 = 2.0;
    for n in [2usize, 5, 20, 1000] {
        let nf = n as f64;
        for estimator in ESTIMATORS {
            let v = accumulate_variances(n, estimator, 400);
            let limit = accumulate_mean_error_limit(sigma2, n, estimator);
            let (mut error, mut h2) = (0.0, 0.0);
            for k in 1..=400usize {
                error += sigma2 * v[k - 1] / (nf * (k * k) as f64);
                h2 += 1.0 / (k * k) as f64;
                let bound = sigma2 / nf * h2;
                let what = format!("n={n} {estimator} k={k}");
                assert_close(accumulate_mean_error(sigma2, n, estimator, k), error, 1e-13, &what);
                // The library's bound is this one, not a looser one.
                assert_close(accumulate_mean_error_bound(sigma2, n, k), bound, 1e-15, &format!("{what}: bound"));
                let attained = k <= if estimator == Estimator::Mle { 1 } else { 2 };
                if attained {
                    assert_close(error, bound, 1e-15, &format!("{what}: the bound is attained"));
                } else {
                    assert!(error < bound, "{what}: strictly below the bound");
                }
                assert!(error < limit, "{what}: increasing to the limit");
            }
            // The limit is strictly below the often-quoted (σ²/n) π²/6, by about c/n of it.
            let bound_limit = accumulate_mean_error_bound_limit(sigma2, n);
            assert_close(bound_limit, sigma2 / nf * zeta2, 1e-15, "(σ²/n) π²/6");
            assert!(limit < bound_limit);
            let c = match estimator {
                Estimator::Mle => PI.powi(4) / 120.0,
                Estimator::Unbiased => PI.powi(4) / 120.0 - zeta2 + 1.0,
            };
            let constant = limit * nf / sigma2;
            let first_order = zeta2 - c / nf;
            assert!(
                (constant - first_order).abs() < 0.4 / (nf * nf),
                "n={n} {estimator}: C = {constant}, π²/6 − c/n = {first_order}"
            );
        }
    }
    // The limit against a direct sum of 4·10⁶ terms computed here, plus the tail
    // Σ_{j≥K} v_j/(j + 1)² ∈ [v_∞, v_K] · ψ′(K + 1)/n (v_j decreases to v_∞); the bracket is narrower than
    // the rounding of the sums, 1e-12 relative.
    let (n, terms) = (20usize, 4_000_000usize);
    let v = accumulate_variances(n, Estimator::Unbiased, terms + 1);
    let direct: f64 = v[..terms].iter().enumerate().map(|(j, v)| v / ((j + 1) as f64).powi(2)).sum::<f64>() / n as f64;
    let tail = |vj: f64| vj * trigamma(terms as f64 + 1.0) / n as f64;
    let (lo, hi) = (direct + tail(accumulate_variance_limit(1.0, n, Estimator::Unbiased)), direct + tail(v[terms]));
    let limit = accumulate_mean_error_limit(1.0, n, Estimator::Unbiased);
    assert!(lo * (1.0 - 1e-12) <= limit && limit <= hi * (1.0 + 1e-12), "limit {limit} outside [{lo}, {hi}]");
    // Hand values: n = 2, MLE: E[e_1²] = σ²/2 (the bound), E[e_2²] = σ²/2 (1 + (1 − 1/2)/4) = 0.5625 σ².
    assert_close(accumulate_mean_error(1.0, 2, Estimator::Mle, 2), 0.5625, 1e-15, "n = 2, k = 2");
    assert_close(accumulate_mean_error_bound(1.0, 2, 2), 0.625, 1e-15, "(1/2)(1 + 1/4)");
}

#[test]
fn mix_recursion_settles_at_the_closed_form_fixed_point() {
    for n in [2usize, 3, 5, 10, 37] {
        for r in 1..=n {
            let alpha = r as f64 / n as f64;
            assert_eq!(mix_real_count(alpha, n), r);
            for estimator in ESTIMATORS {
                let rate = mix_rate(n, estimator, alpha);
                assert!(rate < 1.0 && rate >= 1.0 - alpha - 1e-15, "rate {rate}");
                if estimator == Estimator::Mle {
                    assert_close(rate, 1.0 - alpha, 1e-15, "MLE rate 1 − r/n");
                }
                for pool in POOLS {
                    let fp = mix_fixed_point(1.0, n, estimator, alpha, pool).expect("r ≥ 1");
                    let moments = expected_moments(n, estimator, Strategy::Mix { alpha, pool }, 6000);
                    let last = moments.last().unwrap();
                    let what = format!("n={n} r={r} {estimator} {pool:?}");
                    assert!((last.variance_ratio - fp.variance).abs() < 1e-10, "{what}: v {last:?} {fp:?}");
                    assert!((last.mean_error - fp.mean_error).abs() < 1e-10, "{what}: m {last:?} {fp:?}");
                    // The distance to the fixed point shrinks at the stated rate (its dominant eigenvalue).
                    if rate > 0.05 {
                        let distance = |k: usize| {
                            (moments[k].variance_ratio - fp.variance).abs()
                                + (moments[k].mean_error - fp.mean_error).abs()
                        };
                        let k = (20.0 / (1.0 - rate)).ceil() as usize;
                        if distance(k + 1) > 1e-12 {
                            let observed = distance(k + 1) / distance(k);
                            assert!((observed - rate).abs() < 2e-2, "{what}: rate {rate} observed {observed}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn mix_special_cases() {
    let n = 10;
    for estimator in ESTIMATORS {
        let replace = expected_moments(n, estimator, Strategy::Replace, 50);
        for pool in POOLS {
            // α below 1/(2n) rounds to no real sample: Mix is Replace, with no fixed point.
            for alpha in [0.0, 0.04] {
                assert_eq!(expected_moments(n, estimator, Strategy::Mix { alpha, pool }, 50), replace);
                assert!(mix_fixed_point(1.0, n, estimator, alpha, pool).is_none());
                assert_eq!(mix_rate(n, estimator, alpha), 1.0);
            }
            // α = 1: every model fits n real samples (fresh) or the same n (fixed).
            let all_real = expected_moments(n, estimator, Strategy::Mix { alpha: 1.0, pool }, 5);
            for g in &all_real[1..] {
                assert_close(g.variance_ratio, estimator.factor(n), 1e-15, "α = 1 variance");
                assert_close(g.mean_error, 1.0 / n as f64, 1e-15, "α = 1 mean error");
            }
        }
        // A fixed pool of one real sample collapses onto that sample: variance → 0, mean error → σ².
        let one = mix_fixed_point(1.0, n, estimator, 0.1, RealPool::Fixed).unwrap();
        assert_eq!(one.variance, 0.0);
        assert_close(one.mean_error, 1.0, 1e-15, "error of the single pooled point");
        // Fresh real data keeps the variance away from 0 however small the share.
        let fresh = mix_fixed_point(1.0, n, estimator, 0.1, RealPool::Fresh).unwrap();
        assert!(fresh.variance > 0.5, "{fresh:?}");
    }
    // MLE loses variance at the fixed point, unbiased gains: q/(q + n) < 1 < q/(q + r − n) for r < n.
    let (mle, unbiased) = (
        mix_fixed_point(1.0, 10, Estimator::Mle, 0.3, RealPool::Fresh).unwrap(),
        mix_fixed_point(1.0, 10, Estimator::Unbiased, 0.3, RealPool::Fresh).unwrap(),
    );
    assert_close(mle.variance, 48.0 / 58.0, 1e-15, "n = 10, r = 3, MLE");
    assert_close(unbiased.variance, 48.0 / 41.0, 1e-15, "n = 10, r = 3, unbiased");
}

#[test]
fn accumulate_and_replace_in_expected_moments() {
    for n in [2usize, 9] {
        for estimator in ESTIMATORS {
            let moments = expected_moments(n, estimator, Strategy::Accumulate, 200);
            for (k, g) in moments.iter().enumerate() {
                assert_eq!(g.generation, k);
                assert_close(g.variance_ratio, accumulate_expected_variance(1.0, n, estimator, k), 1e-13, "v");
                assert_close(g.mean_error, accumulate_mean_error(1.0, n, estimator, k), 1e-13, "m");
            }
        }
    }
}

#[test]
fn estimator_names_and_serde() {
    assert_eq!(Estimator::Mle.name(), "mle");
    assert_eq!(Estimator::Unbiased.to_string(), "unbiased");
    assert_eq!(serde_json::to_string(&Estimator::Unbiased).unwrap(), "\"unbiased\"");
    assert_eq!(serde_json::from_str::<Estimator>("\"mle\"").unwrap(), Estimator::Mle);
    assert_eq!(Estimator::Mle.divisor(7), 7.0);
    assert_eq!(Estimator::Unbiased.divisor(7), 6.0);
    assert_close(Estimator::Mle.factor(7), 6.0 / 7.0, 1e-16, "factor");
    assert_eq!(Estimator::Unbiased.factor(7), 1.0);
}
