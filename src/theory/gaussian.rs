//! The Gaussian refit loop (the classic self-consuming loop), proofs/gaussian-*.md: exact moments of the
//! fitted parameters, generation by generation.
//!
//! Generation 0 is n samples of the real distribution N(μ, σ²) (or N(m, Σ) in d dimensions). Model k
//! (k ≥ 1) fits a Gaussian, mean and covariance with an [`Estimator`], to n samples of its training set,
//! built by the [`Strategy`] from generations 0…k−1; generation k is n samples from that fit. `σ̂²_k` and
//! `μ̂_k` are the parameters of model k; "model 0" is the real distribution itself (`σ̂²_0 = σ²`, `μ̂_0 = μ`).
//!
//! | strategy              | training set of model k (n samples unless stated)                                |
//! |-----------------------|-----------------------------------------------------------------------------------|
//! | Replace               | generation k−1                                                                    |
//! | Accumulate            | generations 0…k−1 pooled, k·n samples                                            |
//! | Mix α, fresh pool     | r = round(αn) fresh real samples + n − r samples of generation k−1               |
//! | Mix α, fixed pool     | the same r real samples (part of generation 0) + n − r samples of generation k−1 |
//!
//! Every second moment below is exact (no large-n or large-k approximation) unless a function says
//! otherwise. In d dimensions every expected covariance is a scalar multiple of Σ with the same scalar as
//! in 1-D (proofs/gaussian-expected-variance.md, lemma), so the 1-D formulas with σ² = 1 give
//! `E[tr Σ̂_k] / tr Σ` and `E‖μ̂_k − m‖² / tr Σ` as well.
//!
//! Preconditions common to all functions: `n ≥ 2` samples per generation, `σ² > 0` finite, α ∈ [0, 1].
//! Nothing here panics; outside the preconditions the results are meaningless (often NaN or infinite).

use super::strategy::{RealPool, Strategy};
use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, gamma};
use std::f64::consts::PI;
use std::fmt;

/// How a model estimates the covariance from m training samples.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// Maximum likelihood: sum of squares about the sample mean divided by m.
    #[default]
    Mle,
    /// Unbiased: divided by m − 1.
    Unbiased,
}

impl Estimator {
    /// The lower-case name used in records and on the command line (`mle`, `unbiased`).
    pub fn name(&self) -> &'static str {
        match self {
            Estimator::Mle => "mle",
            Estimator::Unbiased => "unbiased",
        }
    }

    /// The divisor of the sum of squares for `m ≥ 2` training samples.
    ///
    /// # Formula
    /// MLE `m`; unbiased `m − 1`.
    pub fn divisor(&self, m: usize) -> f64 {
        match self {
            Estimator::Mle => m as f64,
            Estimator::Unbiased => m as f64 - 1.0,
        }
    }

    /// The estimator's factor: `E[σ̂²] / σ²` on `m ≥ 2` independent samples of N(μ, σ²).
    ///
    /// # Formula
    /// MLE `(m − 1)/m`; unbiased `1` (the sum of squares has mean `(m − 1) σ²`).
    ///
    /// # Example
    /// ```
    /// use flowcollapse::theory::gaussian::Estimator;
    /// assert_eq!(Estimator::Mle.factor(20), 0.95);
    /// assert_eq!(Estimator::Unbiased.factor(20), 1.0);
    /// ```
    pub fn factor(&self, m: usize) -> f64 {
        (m as f64 - 1.0) / self.divisor(m)
    }
}

impl fmt::Display for Estimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------------
// Polygamma functions
// ---------------------------------------------------------------------------------------------------

/// Below this the recurrences shift the argument up before the asymptotic series is used.
const ASYMPTOTIC_FROM: f64 = 15.0;

/// The trigamma function `ψ′(x) = d²/dx² ln Γ(x)` for `x > 0` (NaN otherwise).
///
/// # Formula
/// Recurrence `ψ′(x) = ψ′(x + 1) + 1/x²` up to `z ≥ 15`, then the asymptotic series
/// `ψ′(z) ≈ 1/z + 1/(2z²) + Σ_{j=1}^{7} B_{2j} / z^{2j+1}` (Bernoulli numbers B₂ = 1/6, B₄ = −1/30, …,
/// B₁₄ = 7/6), whose truncation error at z = 15 is below 1e-18 relative. Checked against ψ′(1) = π²/6,
/// ψ′(1/2) = π²/2 and numerical integration (proofs/gaussian-log-drift.md).
///
/// # Example
/// Known values `ψ′(1) = π²/6`, `ψ′(1/2) = π²/2`, and the recurrence at a point below the series' range:
/// ```
/// use flowcollapse::theory::gaussian::trigamma;
/// use std::f64::consts::PI;
/// assert!((trigamma(1.0) / (PI * PI / 6.0) - 1.0).abs() < 1e-14);
/// assert!((trigamma(0.5) / (PI * PI / 2.0) - 1.0).abs() < 1e-14);
/// assert!((trigamma(0.3) - trigamma(1.3) - 1.0 / 0.09).abs() < 1e-12);
/// assert!(trigamma(0.0).is_nan());
/// ```
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let (mut acc, mut z) = (0.0, x);
    while z < ASYMPTOTIC_FROM {
        acc += 1.0 / (z * z);
        z += 1.0;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    // B_{2j} for j = 1…7: 1/6, −1/30, 1/42, −1/30, 5/66, −691/2730, 7/6.
    let tail = r2
        * (1.0 / 6.0
            + r2 * (-1.0 / 30.0
                + r2 * (1.0 / 42.0
                    + r2 * (-1.0 / 30.0 + r2 * (5.0 / 66.0 + r2 * (-691.0 / 2730.0 + r2 * (7.0 / 6.0)))))));
    acc + r * (1.0 + 0.5 * r + tail)
}

/// The tetragamma function `ψ″(x) = d³/dx³ ln Γ(x)` for `x > 0` (NaN otherwise); it is negative.
///
/// # Formula
/// Recurrence `ψ″(x) = ψ″(x + 1) − 2/x³` up to `z ≥ 15`, then the derivative of [`trigamma`]'s series,
/// `ψ″(z) ≈ −1/z² − 1/z³ − Σ_{j=1}^{7} (2j + 1) B_{2j} / z^{2j+2}`. Checked against
/// ψ″(1) = −2ζ(3) and ψ″(1/2) = −14ζ(3) (proofs/gaussian-log-drift.md).
///
/// # Example
/// `ψ″(1) = −2ζ(3)` and `ψ″(1/2) = −14ζ(3)`, ζ(3) = 1.2020569031595942 (Apéry's constant):
/// ```
/// use flowcollapse::theory::gaussian::tetragamma;
/// let zeta3 = 1.2020569031595942;
/// assert!((tetragamma(1.0) / (-2.0 * zeta3) - 1.0).abs() < 1e-14);
/// assert!((tetragamma(0.5) / (-14.0 * zeta3) - 1.0).abs() < 1e-14);
/// ```
pub fn tetragamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let (mut acc, mut z) = (0.0, x);
    while z < ASYMPTOTIC_FROM {
        acc -= 2.0 / (z * z * z);
        z += 1.0;
    }
    let r = 1.0 / z;
    let r2 = r * r;
    // (2j + 1) B_{2j} for j = 1…7: 1/2, −1/6, 1/6, −3/10, 5/6, −691/210, 35/2.
    let tail = r2
        * (0.5
            + r2 * (-1.0 / 6.0
                + r2 * (1.0 / 6.0 + r2 * (-3.0 / 10.0 + r2 * (5.0 / 6.0 + r2 * (-691.0 / 210.0 + r2 * 17.5))))));
    acc - r2 * (1.0 + r + tail)
}

// ---------------------------------------------------------------------------------------------------
// Replace
// ---------------------------------------------------------------------------------------------------

/// `E[σ̂²_k]` under Replace (exact), `k ≥ 0`. In d dimensions, `E[Σ̂_k] = (this with σ² = 1) · Σ`.
///
/// # Formula
/// `E[σ̂²_k] = σ² f^k` with the estimator's [factor](Estimator::factor) f: MLE `σ² ((n−1)/n)^k`,
/// unbiased `σ²` (proofs/gaussian-expected-variance.md).
///
/// # Example
/// n = 20, MLE: each generation multiplies the expected variance by 19/20 (0.95¹⁰ ≈ 0.59874 at k = 10); the
/// unbiased estimator keeps it:
/// ```
/// use flowcollapse::theory::gaussian::{replace_expected_variance, Estimator};
/// let v = replace_expected_variance(2.0, 20, Estimator::Mle, 10);
/// assert!((v - 2.0 * 0.95f64.powi(10)).abs() < 1e-15);
/// assert_eq!(replace_expected_variance(2.0, 20, Estimator::Unbiased, 10), 2.0);
/// ```
pub fn replace_expected_variance(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    sigma2 * powu(estimator.factor(n), k)
}

/// Mean of the per-generation log step `ln σ̂²_k − ln σ̂²_{k−1}` under Replace (exact, the same for
/// every k ≥ 1); negative for both estimators, so `σ̂²_k → 0` almost surely.
///
/// # Formula
/// The step is `ln(χ²_{n−1} / D)`, D the [divisor](Estimator::divisor) of n samples, and
/// `E[ln χ²_ν] = ψ(ν/2) + ln 2`: MLE `ψ((n−1)/2) + ln(2/n)`, unbiased `ψ((n−1)/2) + ln(2/(n−1))`
/// (ψ = digamma; proofs/gaussian-log-drift.md).
///
/// # Example
/// n = 3 (ν = 2): `ψ(1) = −γ` (Euler–Mascheroni), so the MLE drift is `−γ + ln(2/3)` and the unbiased one
/// `−γ`; the step variance is `ψ′(1) = π²/6`:
/// ```
/// use flowcollapse::theory::gaussian::{log_drift, log_step_variance, Estimator};
/// let euler_gamma = 0.5772156649015329;
/// assert!((log_drift(3, Estimator::Mle) - (-euler_gamma + (2.0f64 / 3.0).ln())).abs() < 1e-13);
/// assert!((log_drift(3, Estimator::Unbiased) + euler_gamma).abs() < 1e-13);
/// assert!((log_step_variance(3) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-13);
/// ```
pub fn log_drift(n: usize, estimator: Estimator) -> f64 {
    digamma(0.5 * (n as f64 - 1.0)) + (2.0 / estimator.divisor(n)).ln()
}

/// Variance of the per-generation log step under Replace (exact, either estimator).
///
/// # Formula
/// `Var[ln χ²_{n−1}] = ψ′((n−1)/2)` (trigamma; proofs/gaussian-log-drift.md).
pub fn log_step_variance(n: usize) -> f64 {
    trigamma(0.5 * (n as f64 - 1.0))
}

/// `E[ln σ̂²_k]` under Replace (exact): `ln σ̂²_k` is a random walk with independent, identically
/// distributed steps.
///
/// # Formula
/// `ln σ² + k · log_drift(n)` (proofs/gaussian-log-drift.md).
pub fn replace_expected_log_variance(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    sigma2.ln() + k as f64 * log_drift(n, estimator)
}

/// `Var[ln σ̂²_k]` under Replace (exact, either estimator).
///
/// # Formula
/// `k · ψ′((n−1)/2)` (proofs/gaussian-log-drift.md).
pub fn replace_log_variance_variance(n: usize, k: usize) -> f64 {
    k as f64 * log_step_variance(n)
}

/// The limit, as k → ∞, of `ln median(σ̂²_k) − E[ln σ̂²_k]` under Replace (either estimator); positive.
///
/// # Formula
/// `−ψ″((n−1)/2) / (6 ψ′((n−1)/2))`, i.e. `−κ₃/(6κ₂)` for the cumulants κ₂ = ψ′, κ₃ = ψ″ of one log step:
/// the Edgeworth correction to the median of a sum of k i.i.d. steps (proofs/gaussian-log-drift.md).
/// About `1/(3(n−1))` for large n.
///
/// # Example
/// n = 3: `−ψ″(1)/(6ψ′(1)) = 2ζ(3)/π² ≈ 0.243587`; for large n close to `1/(3(n − 1))`:
/// ```
/// use flowcollapse::theory::gaussian::median_log_offset;
/// let zeta3 = 1.2020569031595942;
/// assert!((median_log_offset(3) - 2.0 * zeta3 / std::f64::consts::PI.powi(2)).abs() < 1e-13);
/// let n = 1001;
/// assert!((median_log_offset(n) * 3.0 * (n - 1) as f64 - 1.0).abs() < 2e-3);
/// ```
pub fn median_log_offset(n: usize) -> f64 {
    let half = 0.5 * (n as f64 - 1.0);
    -tetragamma(half) / (6.0 * trigamma(half))
}

/// Approximate median of `σ̂²_k` under Replace (`k = 0`: exactly σ²).
///
/// # Formula
/// `σ² · exp(k · log_drift(n) + median_log_offset(n))` for k ≥ 1. **Approximate**: the leading
/// behaviour `σ² exp(k · drift)` is the one that matters (the log of the median is `k · drift + O(1)`),
/// and with the Edgeworth offset the error in `ln median` is O(1/k): at k = 1 (the worst case) the
/// formula is high by 0.016 for n = 4, 0.0019 for n = 10, 0.0004 for n = 20 (proofs/gaussian-log-drift.md).
/// The mean of `ln σ̂²_k` ([`replace_expected_log_variance`]) is exact.
///
/// # Example
/// The unbiased refit keeps its mean at σ² while the median collapses (n = 20, k = 100: below 0.5% of σ²):
/// ```
/// use flowcollapse::theory::gaussian::{replace_expected_variance, replace_median_variance, Estimator};
/// assert_eq!(replace_median_variance(1.0, 20, Estimator::Unbiased, 0), 1.0);
/// assert_eq!(replace_expected_variance(1.0, 20, Estimator::Unbiased, 100), 1.0);
/// assert!(replace_median_variance(1.0, 20, Estimator::Unbiased, 100) < 0.005);
/// ```
pub fn replace_median_variance(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    if k == 0 {
        return sigma2;
    }
    sigma2 * (k as f64 * log_drift(n, estimator) + median_log_offset(n)).exp()
}

/// `E[(μ̂_k − μ)²]` under Replace (exact). In d dimensions `E‖μ̂_k − m‖² = (this with σ² = 1) · tr Σ`.
///
/// # Formula
/// `(σ²/n) Σ_{j=0}^{k−1} f^j`: unbiased (f = 1) `k σ²/n`, growing without bound; MLE
/// (f = (n−1)/n) `σ² (1 − ((n−1)/n)^k)`, bounded by σ² (proofs/gaussian-mean-error.md).
///
/// # Example
/// n = 20, k = 100: unbiased `100/20 = 5` (unbounded), MLE `1 − 0.95¹⁰⁰` (below σ²):
/// ```
/// use flowcollapse::theory::gaussian::{replace_mean_error, Estimator};
/// assert!((replace_mean_error(1.0, 20, Estimator::Unbiased, 100) - 5.0).abs() < 1e-14);
/// assert!((replace_mean_error(1.0, 20, Estimator::Mle, 100) - (1.0 - 0.95f64.powi(100))).abs() < 1e-14);
/// ```
pub fn replace_mean_error(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    match estimator {
        Estimator::Unbiased => k as f64 * sigma2 / n as f64,
        Estimator::Mle => sigma2 * (1.0 - powu(estimator.factor(n), k)),
    }
}

/// Mean of the per-generation step of `ln det Σ̂_k` under Replace in d dimensions (exact), for a Σ of
/// rank `rank ≥ 1` (the determinant taken on Σ's support) and `n ≥ rank + 1`.
///
/// # Formula
/// `Σ_{i=1}^{rank} ψ((n−i)/2) + rank · ln(2/D)`, D the [divisor](Estimator::divisor) of n samples, from
/// Bartlett's decomposition of the Wishart matrix (proofs/gaussian-log-drift.md). Equals [`log_drift`]
/// for rank 1.
///
/// # Example
/// Rank 1 is [`log_drift`]; n = 3, rank 2, MLE: `ψ(1) + ψ(1/2) + 2 ln(2/3) = −2γ − 2 ln 3` (ψ(1/2) = −γ − 2 ln 2),
/// with step variance `ψ′(1) + ψ′(1/2) = 2π²/3`:
/// ```
/// use flowcollapse::theory::gaussian::{log_det_drift, log_det_step_variance, log_drift, Estimator};
/// assert_eq!(log_det_drift(20, 1, Estimator::Mle), log_drift(20, Estimator::Mle));
/// let euler_gamma = 0.5772156649015329;
/// assert!((log_det_drift(3, 2, Estimator::Mle) - (-2.0 * euler_gamma - 2.0 * 3f64.ln())).abs() < 1e-13);
/// let pi2 = std::f64::consts::PI.powi(2);
/// assert!((log_det_step_variance(3, 2) - 2.0 * pi2 / 3.0).abs() < 1e-13);
/// ```
pub fn log_det_drift(n: usize, rank: usize, estimator: Estimator) -> f64 {
    let digammas: f64 = (1..=rank).map(|i| digamma(0.5 * (n as f64 - i as f64))).sum();
    digammas + rank as f64 * (2.0 / estimator.divisor(n)).ln()
}

/// Variance of the per-generation step of `ln det Σ̂_k` under Replace (exact, either estimator).
///
/// # Formula
/// `Σ_{i=1}^{rank} ψ′((n−i)/2)` (proofs/gaussian-log-drift.md).
pub fn log_det_step_variance(n: usize, rank: usize) -> f64 {
    (1..=rank).map(|i| trigamma(0.5 * (n as f64 - i as f64))).sum()
}

// ---------------------------------------------------------------------------------------------------
// Accumulate
// ---------------------------------------------------------------------------------------------------

/// `E[σ̂²_k]` under Accumulate (exact), `k ≥ 0`: model k fits the pooled k·n samples of generations
/// 0…k−1. Decreasing in k, to a positive limit ([`accumulate_variance_limit`]).
///
/// # Formula
/// MLE `σ² Π_{j=1}^{k} (1 − 1/(n j²))`; unbiased `σ² Π_{j=2}^{k} (1 − 1/(j (j n − 1)))`
/// (proofs/gaussian-accumulate-variance.md). O(k) operations.
///
/// # Example
/// n = 4, MLE: the factors `1 − 1/(4j²)` are Wallis's, so the product is 3/4, then 45/64, and tends to 2/π:
/// ```
/// use flowcollapse::theory::gaussian::{accumulate_expected_variance, accumulate_variance_limit, Estimator};
/// assert!((accumulate_expected_variance(1.0, 4, Estimator::Mle, 2) - 45.0 / 64.0).abs() < 1e-15);
/// let limit = accumulate_variance_limit(1.0, 4, Estimator::Mle);
/// assert!((limit - 2.0 / std::f64::consts::PI).abs() < 1e-15);
/// assert!((accumulate_expected_variance(1.0, 4, Estimator::Mle, 100_000) / limit - 1.0).abs() < 1e-5);
/// ```
pub fn accumulate_expected_variance(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    let mut v = sigma2;
    for j in 1..=k {
        v *= accumulate_variance_step(n, estimator, j);
    }
    v
}

/// `E[σ̂²_j] / E[σ̂²_{j−1}]` under Accumulate, j ≥ 1.
fn accumulate_variance_step(n: usize, estimator: Estimator, j: usize) -> f64 {
    let (n, j) = (n as f64, j as f64);
    match estimator {
        Estimator::Mle => 1.0 - 1.0 / (n * j * j),
        Estimator::Unbiased if j < 2.0 => 1.0,
        Estimator::Unbiased => 1.0 - 1.0 / (j * (j * n - 1.0)),
    }
}

/// `lim_{k→∞} E[σ̂²_k]` under Accumulate (exact closed form).
///
/// # Formula
/// MLE `σ² sin(π/√n) / (π/√n)` (Euler's product for the sine); unbiased
/// `σ² Γ(2 − 1/n) / (Γ(2 − a) Γ(2 − b))` with `a, b = (1 ± √(1 + 4n)) / (2n)` the roots of
/// `n x² − x − 1` (proofs/gaussian-accumulate-variance.md).
///
/// # Example
/// The unbiased Gamma-function limit against the product itself, a million generations on (the tail of the
/// product is about `1 − 1/(nk)`):
/// ```
/// use flowcollapse::theory::gaussian::{accumulate_expected_variance, accumulate_variance_limit, Estimator};
/// let limit = accumulate_variance_limit(1.0, 4, Estimator::Unbiased);
/// let product = accumulate_expected_variance(1.0, 4, Estimator::Unbiased, 1_000_000);
/// assert!(limit < product && (product / limit - 1.0).abs() < 1e-6);
/// ```
pub fn accumulate_variance_limit(sigma2: f64, n: usize, estimator: Estimator) -> f64 {
    let nf = n as f64;
    match estimator {
        Estimator::Mle => {
            let x = PI / nf.sqrt();
            sigma2 * x.sin() / x
        }
        Estimator::Unbiased => {
            let root = (1.0 + 4.0 * nf).sqrt();
            let (a, b) = ((1.0 + root) / (2.0 * nf), (1.0 - root) / (2.0 * nf));
            sigma2 * gamma(2.0 - 1.0 / nf) / (gamma(2.0 - a) * gamma(2.0 - b))
        }
    }
}

/// `E[(μ̂_k − μ)²]` under Accumulate (exact), `k ≥ 0`; μ̂_k is the mean of the pooled k·n samples.
/// Increasing in k and bounded ([`accumulate_mean_error_limit`], [`accumulate_mean_error_bound`]).
///
/// # Formula
/// `(1/n) Σ_{j=0}^{k−1} E[σ̂²_j] / (j + 1)²` with `E[σ̂²_j]` from [`accumulate_expected_variance`]
/// (proofs/gaussian-mean-error.md). O(k) operations.
///
/// # Example
/// k = 1 and k = 2 by hand: `σ²/n`, then `(σ² + v_1/4)/n` with `v_1 = (1 − 1/n) σ²` (MLE); the bound of
/// [`accumulate_mean_error_bound`] is attained at k = 1 and strict after:
/// ```
/// use flowcollapse::theory::gaussian::{accumulate_mean_error, accumulate_mean_error_bound, Estimator};
/// let n = 20;
/// assert!((accumulate_mean_error(1.0, n, Estimator::Mle, 1) - 0.05).abs() < 1e-16);
/// assert!((accumulate_mean_error(1.0, n, Estimator::Mle, 2) - (1.0 + 0.95 / 4.0) / 20.0).abs() < 1e-16);
/// assert_eq!(accumulate_mean_error(1.0, n, Estimator::Mle, 1), accumulate_mean_error_bound(1.0, n, 1));
/// assert!(accumulate_mean_error(1.0, n, Estimator::Mle, 2) < accumulate_mean_error_bound(1.0, n, 2));
/// ```
pub fn accumulate_mean_error(sigma2: f64, n: usize, estimator: Estimator, k: usize) -> f64 {
    let (mut v, mut total) = (sigma2, 0.0);
    for j in 0..k {
        if j > 0 {
            v *= accumulate_variance_step(n, estimator, j);
        }
        total += v / ((j + 1) as f64).powi(2);
    }
    total / n as f64
}

/// Number of terms summed exactly by [`accumulate_mean_error_limit`] before the bracketed tail.
const ACCUMULATE_TERMS: usize = 1 << 17;

/// `lim_{k→∞} E[(μ̂_k − μ)²]` under Accumulate: `(σ²/n) · C` with a constant `C < π²/6`.
///
/// # Formula
/// `(1/n) Σ_{j≥0} E[σ̂²_j] / (j + 1)²`, summed exactly for j < K = 2¹⁷; the tail lies between
/// `v_∞ ψ′(K + 1)` and `v_K ψ′(K + 1)` (v_j is decreasing) and its midpoint is used, so the relative error
/// is below 1e-10. For large n, C = π²/6 − π⁴/(120 n) + O(n⁻²) (MLE) and
/// C = π²/6 − (π⁴/120 − π²/6 + 1)/n + O(n⁻²) (unbiased) (proofs/gaussian-mean-error.md).
///
/// # Example
/// Below the often-quoted `(σ²/n) π²/6`, and for n = 1000 on the large-n expansion `π²/6 − π⁴/(120 n)`:
/// ```
/// use flowcollapse::theory::gaussian::{accumulate_mean_error_bound_limit, accumulate_mean_error_limit, Estimator};
/// use std::f64::consts::PI;
/// assert!(accumulate_mean_error_limit(1.0, 20, Estimator::Mle) < accumulate_mean_error_bound_limit(1.0, 20));
/// let n = 1000;
/// let c = accumulate_mean_error_limit(1.0, n, Estimator::Mle) * n as f64;
/// assert!((c - (PI * PI / 6.0 - PI.powi(4) / (120.0 * n as f64))).abs() < 1e-5);
/// ```
pub fn accumulate_mean_error_limit(sigma2: f64, n: usize, estimator: Estimator) -> f64 {
    let head = accumulate_mean_error(sigma2, n, estimator, ACCUMULATE_TERMS);
    let v_k = accumulate_expected_variance(sigma2, n, estimator, ACCUMULATE_TERMS);
    let v_inf = accumulate_variance_limit(sigma2, n, estimator);
    head + 0.5 * (v_k + v_inf) * trigamma((ACCUMULATE_TERMS + 1) as f64) / n as f64
}

/// Upper bound on `E[(μ̂_k − μ)²]` under Accumulate, for either estimator: attained for k ≤ 1 (MLE) and
/// k ≤ 2 (unbiased), strict after that.
///
/// # Formula
/// `(σ²/n) Σ_{j=1}^{k} 1/j²` (from `E[σ̂²_j] ≤ σ²`), whose limit is `(σ²/n) π²/6`
/// ([`accumulate_mean_error_bound_limit`]; proofs/gaussian-mean-error.md).
pub fn accumulate_mean_error_bound(sigma2: f64, n: usize, k: usize) -> f64 {
    sigma2 / n as f64 * (1..=k).map(|j| 1.0 / (j as f64).powi(2)).sum::<f64>()
}

/// `(σ²/n) π²/6`: the bound of [`accumulate_mean_error_bound`] for every k, and the often-quoted constant.
pub fn accumulate_mean_error_bound_limit(sigma2: f64, n: usize) -> f64 {
    sigma2 / n as f64 * PI * PI / 6.0
}

// ---------------------------------------------------------------------------------------------------
// Mix
// ---------------------------------------------------------------------------------------------------

/// The number of real samples in each Mix training set (k ≥ 1): `r = round(α n)`, halves away from zero,
/// as in the Monte Carlo. Every Mix formula uses the realised fraction `a = r/n`, not α; with `r = 0`
/// Mix is Replace.
///
/// # Example
/// ```
/// use flowcollapse::theory::gaussian::mix_real_count;
/// assert_eq!(mix_real_count(0.5, 5), 3); // 2.5 rounds away from zero
/// assert_eq!(mix_real_count(0.1, 4), 0); // no real sample: Mix is Replace
/// ```
pub fn mix_real_count(alpha: f64, n: usize) -> usize {
    (alpha * n as f64).round() as usize
}

/// The stable state of Mix (r ≥ 1 real samples per training set).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MixFixedPoint {
    /// `lim E[σ̂²_k]`.
    pub variance: f64,
    /// `lim E[(μ̂_k − μ)²]`.
    pub mean_error: f64,
    /// Geometric rate at which both expectations approach their limits ([`mix_rate`]).
    pub rate: f64,
}

/// Limits of `E[σ̂²_k]` and `E[(μ̂_k − μ)²]` under Mix, or `None` when `r = round(αn) = 0` (Replace,
/// which has no fixed point). The recursion is a contraction for every r ≥ 1, n ≥ 2, both estimators and
/// both pools, so these limits are reached from generation 1 on at rate [`mix_rate`].
///
/// # Formula
/// With `q = r (2n − r − 1)`:
///
/// | pool  | estimator | `lim E[σ̂²_k] / σ²`            | `lim E[(μ̂_k − μ)²] / σ²`                        |
/// |-------|-----------|-------------------------------|-------------------------------------------------|
/// | fresh | MLE       | `q / (q + n)`                 | `n / (q + n)`                                   |
/// | fresh | unbiased  | `q / (q + r − n)`             | `(n − 1) / (q + r − n)`                         |
/// | fixed | MLE       | `(2n − r)(r − 1) / (q + n)`   | `(3n − 2r) / (q + n)`                           |
/// | fixed | unbiased  | `(2n − r)(r − 1) / (q + r − n)` | `(3nr − 2n − 2r² + r) / (r (q + r − n))`      |
///
/// (proofs/gaussian-mix.md). A fixed pool of one real sample (r = 1) collapses: the variance tends to 0.
///
/// # Example
/// n = 20, α = 0.5 (r = 10, q = 290), MLE: fresh `290/310 = 29/31` and `20/310`, fixed `270/310` and
/// `40/310`, reached by the exact recursion of [`expected_moments`]:
/// ```
/// use flowcollapse::theory::gaussian::{expected_moments, mix_fixed_point, Estimator};
/// use flowcollapse::theory::{RealPool, Strategy};
/// for (pool, v, m) in [(RealPool::Fresh, 290.0, 20.0), (RealPool::Fixed, 270.0, 40.0)] {
///     let fixed = mix_fixed_point(1.0, 20, Estimator::Mle, 0.5, pool).unwrap();
///     assert!((fixed.variance - v / 310.0).abs() < 1e-15 && (fixed.mean_error - m / 310.0).abs() < 1e-15);
///     let last = expected_moments(20, Estimator::Mle, Strategy::Mix { alpha: 0.5, pool }, 100)[100];
///     assert!((last.variance_ratio - fixed.variance).abs() < 1e-14);
///     assert!((last.mean_error - fixed.mean_error).abs() < 1e-14);
/// }
/// assert!(mix_fixed_point(1.0, 20, Estimator::Mle, 0.01, RealPool::Fresh).is_none()); // r = 0
/// ```
pub fn mix_fixed_point(
    sigma2: f64,
    n: usize,
    estimator: Estimator,
    alpha: f64,
    pool: RealPool,
) -> Option<MixFixedPoint> {
    let r_count = mix_real_count(alpha, n);
    if r_count == 0 {
        return None;
    }
    let (nf, r) = (n as f64, r_count as f64);
    let q = r * (2.0 * nf - r - 1.0);
    let denominator = match estimator {
        Estimator::Mle => q + nf,
        Estimator::Unbiased => q + r - nf,
    };
    let (variance, mean_error) = match (pool, estimator) {
        (RealPool::Fresh, Estimator::Mle) => (q, nf),
        (RealPool::Fresh, Estimator::Unbiased) => (q, nf - 1.0),
        (RealPool::Fixed, Estimator::Mle) => ((2.0 * nf - r) * (r - 1.0), 3.0 * nf - 2.0 * r),
        (RealPool::Fixed, Estimator::Unbiased) => {
            ((2.0 * nf - r) * (r - 1.0), (3.0 * nf * r - 2.0 * nf - 2.0 * r * r + r) / r)
        }
    };
    Some(MixFixedPoint {
        variance: sigma2 * variance / denominator,
        mean_error: sigma2 * mean_error / denominator,
        rate: mix_rate(n, estimator, alpha),
    })
}

/// The geometric rate of the Mix recursion for `(E[σ̂²_k], E[(μ̂_k − μ)²])`: the spectral radius of its
/// 2 × 2 linear map, the same for both pools; below 1 for every r ≥ 1, and 1 for r = 0 (Replace).
///
/// # Formula
/// MLE `1 − r/n` exactly; unbiased
/// `(n − r)/(2n²) · [(2n − r) + √((2n − r)² − 4n²(n − r − 1)/(n − 1))]`, which is ≥ 1 − r/n
/// (proofs/gaussian-mix.md).
///
/// # Example
/// n = 20, r = 10: the spectral radius of the fresh-pool recursion's linear part, computed from its four
/// coefficients, is `1 − r/n = 1/2` for MLE and ≈ 0.52401 for the unbiased estimator:
/// ```
/// use flowcollapse::theory::gaussian::{mix_rate, Estimator};
/// let (n, r) = (20.0, 10.0);
/// let a = r / n;
/// for estimator in [Estimator::Mle, Estimator::Unbiased] {
///     let d = estimator.divisor(20);
///     // (v, m) ↦ ([((n−1)/n)(n−r) v + (r(n−r)/n) m] / D, (1−a)² m + (1−a) v / n)
///     let (p, q) = ((n - 1.0) / n * (n - r) / d, r * (n - r) / n / d);
///     let (u, w) = ((1.0 - a) / n, (1.0 - a).powi(2));
///     let radius = 0.5 * ((p + w) + ((p - w).powi(2) + 4.0 * q * u).sqrt());
///     assert!((mix_rate(20, estimator, 0.5) - radius).abs() < 1e-15);
/// }
/// assert_eq!(mix_rate(20, Estimator::Mle, 0.5), 0.5);
/// ```
pub fn mix_rate(n: usize, estimator: Estimator, alpha: f64) -> f64 {
    let (nf, r) = (n as f64, mix_real_count(alpha, n) as f64);
    match estimator {
        Estimator::Mle => 1.0 - r / nf,
        Estimator::Unbiased => {
            let b = 2.0 * nf - r;
            let disc = (b * b - 4.0 * nf * nf * (nf - r - 1.0) / (nf - 1.0)).max(0.0);
            (nf - r) / (2.0 * nf * nf) * (b + disc.sqrt())
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Every strategy
// ---------------------------------------------------------------------------------------------------

/// Exact expected moments of model k, relative to the real distribution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ExpectedMoments {
    pub generation: usize,
    /// `E[σ̂²_k] / σ²`; in d dimensions `E[tr Σ̂_k] / tr Σ` (indeed `E[Σ̂_k] = variance_ratio · Σ`).
    pub variance_ratio: f64,
    /// `E[(μ̂_k − μ)²] / σ²`; in d dimensions `E‖μ̂_k − m‖² / tr Σ`.
    pub mean_error: f64,
}

/// Exact `E[σ̂²_k]/σ²` and `E[(μ̂_k − μ)²]/σ²` for generations 0…`generations` (so `generations + 1`
/// entries; generation 0 is the real distribution: 1 and 0), for any strategy. Preconditions: n ≥ 2, and
/// α ∈ [0, 1] for Mix.
///
/// # Formula
/// Replace: [`replace_expected_variance`], [`replace_mean_error`]. Accumulate:
/// [`accumulate_expected_variance`], [`accumulate_mean_error`]. Mix with r = round(αn) ≥ 1, a = r/n and
/// D the divisor of n samples, the exact linear recursions of proofs/gaussian-mix.md, from
/// `v_0 = 1`, `m_0 = 0`:
///
/// - fresh: `v_k = [((n−1)/n)(r + (n−r) v_{k−1}) + (r(n−r)/n) m_{k−1}] / D`,
///   `m_k = (1−a)² m_{k−1} + (a + (1−a) v_{k−1}) / n`;
/// - fixed: `v_k = [(r − 1) + ((n−r)(n−1)/n) v_{k−1} + (r(n−r)/n) d_{k−1}] / D`,
///   `d_k = (1−a)² d_{k−1} + (1−a) v_{k−1} / n`, `d_0 = 1/r`, and `m_k = d_k + (1 − 2(1−a)^k) / r`.
///
/// With r = 0, Mix is Replace.
///
/// # Example
/// Model 1 fits n real samples under every strategy (`v_1 = (n − 1)/n`, `m_1 = 1/n` for MLE), and each
/// strategy's recursion agrees with its own closed form:
/// ```
/// use flowcollapse::theory::gaussian::{accumulate_expected_variance, accumulate_mean_error};
/// use flowcollapse::theory::gaussian::{expected_moments, Estimator};
/// use flowcollapse::theory::{RealPool, Strategy};
/// let fixed = Strategy::Mix { alpha: 0.5, pool: RealPool::Fixed };
/// for strategy in [Strategy::Replace, Strategy::Accumulate, fixed] {
///     let g1 = expected_moments(20, Estimator::Mle, strategy, 1)[1];
///     assert!((g1.variance_ratio - 0.95).abs() < 1e-15 && (g1.mean_error - 0.05).abs() < 1e-15);
/// }
/// let acc = expected_moments(20, Estimator::Unbiased, Strategy::Accumulate, 50)[50];
/// assert!((acc.variance_ratio - accumulate_expected_variance(1.0, 20, Estimator::Unbiased, 50)).abs() < 1e-15);
/// assert!((acc.mean_error - accumulate_mean_error(1.0, 20, Estimator::Unbiased, 50)).abs() < 1e-15);
/// ```
pub fn expected_moments(
    n: usize,
    estimator: Estimator,
    strategy: Strategy,
    generations: usize,
) -> Vec<ExpectedMoments> {
    let mut out = Vec::with_capacity(generations + 1);
    out.push(ExpectedMoments { generation: 0, variance_ratio: 1.0, mean_error: 0.0 });
    let nf = n as f64;
    let divisor = estimator.divisor(n);
    let real = match strategy {
        Strategy::Mix { alpha, pool } => Some((mix_real_count(alpha, n), pool)).filter(|&(r, _)| r > 0),
        _ => None,
    };
    // v: E[σ̂²]/σ²; m: E[(μ̂ − μ)²]/σ²; d: E[(μ̂ − x̄_pool)²]/σ² for a fixed pool.
    let (mut v, mut m) = (1.0, 0.0);
    let mut d = real.map_or(0.0, |(r, _)| 1.0 / r as f64);
    for k in 1..=generations {
        match (strategy, real) {
            (Strategy::Accumulate, _) => {
                m += v / (nf * (k * k) as f64);
                v *= accumulate_variance_step(n, estimator, k);
            }
            (Strategy::Mix { .. }, Some((r_count, pool))) => {
                let r = r_count as f64;
                let a = r / nf;
                let rest = nf - r;
                match pool {
                    RealPool::Fresh => {
                        let v_next = ((nf - 1.0) / nf * (r + rest * v) + r * rest / nf * m) / divisor;
                        m = (1.0 - a).powi(2) * m + (a + (1.0 - a) * v) / nf;
                        v = v_next;
                    }
                    RealPool::Fixed => {
                        let v_next = ((r - 1.0) + rest * (nf - 1.0) / nf * v + r * rest / nf * d) / divisor;
                        d = (1.0 - a).powi(2) * d + (1.0 - a) * v / nf;
                        v = v_next;
                        m = d + (1.0 - 2.0 * powu(1.0 - a, k)) / r;
                    }
                }
            }
            // Replace, and Mix with no real sample.
            _ => {
                m += v / nf;
                v *= estimator.factor(n);
            }
        }
        out.push(ExpectedMoments { generation: k, variance_ratio: v, mean_error: m });
    }
    out
}

/// `x^k` for a non-negative integer exponent (exact repeated squaring; no i32 overflow for large k).
fn powu(x: f64, k: usize) -> f64 {
    let (mut base, mut e, mut acc) = (x, k, 1.0);
    while e > 0 {
        if e & 1 == 1 {
            acc *= base;
        }
        base *= base;
        e >>= 1;
    }
    acc
}
