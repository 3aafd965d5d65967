//! Linear-Gaussian reflow across generations, per eigen-direction, in the population limit.
//!
//! Model g is a time-binned linear velocity field `v(y, t) = a_b y` for t in bin b (B equal bins), fitted by
//! ridge least squares (penalty γ) to pairs (z, x): the regression of the target `x − z` on
//! `y_t = t x + (1 − t) z`, t uniform. It samples with K Euler steps on `t_j = j/K` (proofs/flow-euler.md's
//! convention) and inverts with K reverse Euler steps. Every pair source here is Gaussian and linear in one
//! standard normal, so each fit needs only the second moments of `(x − z, y_t)`, which are quadratic in t:
//! Simpson's rule over a bin is exact for them. See proofs/reflow-linear-gaussian.md for what is proved and
//! what is only observed.
//!
//! Data are centred (the mean is carried exactly by the solvers, proofs/flow-euler.md), so there is no
//! intercept.

use super::flow::Direction;
use super::strategy::Strategy;

/// Where training pairs come from: `(x, z) = (p·w, q·w)` with `w ~ N(0, variance)`, or independent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PairSource {
    /// 1-rectified flow: `z ~ N(0, 1)` and `x ~ N(0, λ)` independent.
    Independent { lambda: f64 },
    /// A deterministic linear coupling. Synthetic pairs of a sampler with gain β: `p = β, q = 1, variance
    /// 1`; real data inverted by a reverse sampler with gain ρ: `p = 1, q = ρ, variance λ`.
    Coupled { data: f64, noise: f64, variance: f64 },
}

impl PairSource {
    /// `(E[(x − z) y_t], E[y_t²])` at time t.
    ///
    /// # Formula
    /// Independent: `(tλ − (1 − t), t²λ + (1 − t)²)`; coupled: with `u = t p + (1 − t) q`,
    /// `((p − q) u v, u² v)`.
    ///
    /// # Example
    /// ```
    /// use flowcollapse::theory::reflow::PairSource;
    /// let independent = PairSource::Independent { lambda: 4.0 };
    /// assert_eq!(independent.moments(0.25), (0.25, 0.8125));
    /// // Synthetic pairs of gain 2: y_t = (1 + t) z, target z.
    /// let synthetic = PairSource::Coupled { data: 2.0, noise: 1.0, variance: 1.0 };
    /// assert_eq!(synthetic.moments(0.5), (1.5, 2.25));
    /// ```
    pub fn moments(&self, t: f64) -> (f64, f64) {
        match *self {
            PairSource::Independent { lambda } => (t * lambda - (1.0 - t), t * t * lambda + (1.0 - t) * (1.0 - t)),
            PairSource::Coupled { data, noise, variance } => {
                let u = t * data + (1.0 - t) * noise;
                ((data - noise) * u * variance, u * u * variance)
            }
        }
    }
}

/// Ridge least-squares gains per bin for a weighted mixture of pair sources (weights are fractions of pairs).
///
/// # Formula
/// `a_b = ⟨Σ_s w_s E_s[(x − z) y_t]⟩_b / (⟨Σ_s w_s E_s[y_t²]⟩_b + γ)`, ⟨·⟩_b the mean over t in bin b,
/// computed by Simpson's rule (exact: the moments are quadratic in t).
///
/// # Example
/// Independent pairs, λ = 4, one bin: `⟨5t − 1⟩ / ⟨4t² + (1 − t)²⟩ = (3/2)/(5/3) = 0.9`, and 0.75 with
/// γ = 1/3; on the bin [0, 1/2] of two, `(1/4)/(11/12) = 3/11`. Inverted real data of a consistent sampler
/// (ρ = 1/β) leaves the ridge-free fit unchanged (proofs/reflow-linear-gaussian.md §5):
/// ```
/// use flowcollapse::theory::reflow::{fit_bins, PairSource};
/// let independent = [(1.0, PairSource::Independent { lambda: 4.0 })];
/// assert!((fit_bins(&independent, 1, 0.0)[0] - 0.9).abs() < 1e-15);
/// assert!((fit_bins(&independent, 1, 1.0 / 3.0)[0] - 0.75).abs() < 1e-15);
/// assert!((fit_bins(&independent, 2, 0.0)[0] - 3.0 / 11.0).abs() < 1e-15);
/// let beta = 1.7;
/// let synthetic = (1.0, PairSource::Coupled { data: beta, noise: 1.0, variance: 1.0 });
/// let real = (1.0, PairSource::Coupled { data: 1.0, noise: 1.0 / beta, variance: 4.0 });
/// let (alone, mixed) = (fit_bins(&[synthetic], 8, 0.0), fit_bins(&[(0.5, synthetic.1), (0.5, real.1)], 8, 0.0));
/// assert!(alone.iter().zip(&mixed).all(|(a, b)| (a - b).abs() < 1e-14));
/// ```
pub fn fit_bins(sources: &[(f64, PairSource)], bins: usize, ridge: f64) -> Vec<f64> {
    assert!(bins > 0, "at least one time bin");
    let mixed = |t: f64| {
        sources.iter().fold((0.0, 0.0), |(c, s), (w, src)| {
            let (ci, si) = src.moments(t);
            (c + w * ci, s + w * si)
        })
    };
    (0..bins)
        .map(|b| {
            let (t0, t1) = (b as f64 / bins as f64, (b + 1) as f64 / bins as f64);
            let ((c0, s0), (cm, sm), (c1, s1)) = (mixed(t0), mixed(0.5 * (t0 + t1)), mixed(t1));
            let cross = (c0 + 4.0 * cm + c1) / 6.0;
            let square = (s0 + 4.0 * sm + s1) / 6.0;
            cross / (square + ridge)
        })
        .collect()
}

/// The bin that holds time t (t = 1 belongs to the last bin), for times drawn in floating point.
pub fn bin_of(t: f64, bins: usize) -> usize {
    ((t * bins as f64).floor() as usize).min(bins - 1)
}

/// The bin of the time at which step j of a K-step solver evaluates the field, computed in integers.
///
/// # Formula
/// Bins are half-open, `[b/B, (b + 1)/B)`, the last one closed. Step j evaluates at its start node
/// `n/K` (forward `n = j`, reverse `n = K − j`), whose bin is `min(⌊n·B / K⌋, B − 1)`. In floating point,
/// `⌊(n/K)·B⌋` can fall one bin low when `n·B/K` is an integer (K = 49, j = 8: `(8/49)·49 = 7.999…`),
/// hence integers. In reverse the step from `(K − j)/K` down to `(K − j − 1)/K` thus uses the bin above
/// its interval (with B = K: bin K − j, clamped, so bin B − 1 twice and bin 0 never): that is what reverse
/// Euler does, evaluating the field at the start of each step (proofs/reflow-linear-gaussian.md,
/// "Bins and nodes").
///
/// # Example
/// ```
/// use flowcollapse::theory::{flow::Direction, reflow::{bin_of, node_bin}};
/// assert_eq!(node_bin(Direction::Forward, 8, 49, 49), 8);
/// assert_eq!(bin_of(8.0 / 49.0, 49), 7); // (8/49)·49 = 7.999…: one bin low
/// // Reverse, K = B = 4: nodes 1, 3/4, 1/2, 1/4 use bins 3, 3, 2, 1.
/// let reverse: Vec<usize> = (0..4).map(|j| node_bin(Direction::Reverse, j, 4, 4)).collect();
/// assert_eq!(reverse, [3, 3, 2, 1]);
/// ```
pub fn node_bin(direction: Direction, j: usize, steps: usize, bins: usize) -> usize {
    let n = match direction {
        Direction::Forward => j,
        Direction::Reverse => steps - j,
    };
    ((n as u128 * bins as u128 / steps as u128) as usize).min(bins - 1)
}

/// Gain of K Euler steps with the binned field: forward `x = β z`, reverse `ẑ = ρ x`.
///
/// # Formula
/// `Π_{j<K} (1 + δ a_{b_j})`, with the signed step δ of [`Direction`] (δ = 1/K forward, −1/K in reverse)
/// and `b_j` the bin of step j's start node ([`node_bin`]).
///
/// # Example
/// Two bins, K = 2: forward reads bins 0 and 1, reverse reads bin 1 twice (nodes 1 and 1/2):
/// ```
/// use flowcollapse::theory::{flow::Direction, reflow::sampler_gain};
/// let gains = [-1.0, 1.2];
/// assert!((sampler_gain(&gains, 2, Direction::Forward) - 0.5 * 1.6).abs() < 1e-15);
/// assert!((sampler_gain(&gains, 2, Direction::Reverse) - 0.4 * 0.4).abs() < 1e-15);
/// ```
pub fn sampler_gain(gains: &[f64], steps: usize, direction: Direction) -> f64 {
    let delta = direction.step(steps);
    (0..steps).map(|j| 1.0 + delta * gains[node_bin(direction, j, steps, gains.len())]).product()
}

/// One reflow generation of one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct ReflowGeneration {
    pub generation: usize,
    /// Fitted gain per time bin of model k (empty for generation 0, the real data).
    pub gains: Vec<f64>,
    /// β_k: K forward Euler steps map noise z to `β_k z`.
    pub forward_gain: f64,
    /// ρ_k: K reverse Euler steps map data x to `ρ_k x`.
    pub reverse_gain: f64,
    /// Generated variance over the real one, `β_k² / λ` (1 at generation 0).
    pub variance_ratio: f64,
}

/// Reflow generations 0…G for one direction of variance λ: model 1 is the 1-rectified flow (independent
/// pairs); model k ≥ 2 trains on the strategy's pairs from models 1…k−1: Replace (`Reflow`): model k−1's
/// synthetic pairs; Mix α (`RA`): a fraction α of real data inverted by model k−1, the rest its synthetic
/// pairs; Accumulate: the independent pairs and every earlier model's synthetic pairs, equal weights.
///
/// # Example
/// λ = 4, K = B = 1 by hand. Model 1: `a = 0.9` ([`fit_bins`]), `β_1 = 1.9`, `ρ_1 = 0.1`. Model 2 under Reflow
/// fits `x = 1.9 z`, `u = 1 + 0.9t`: `a = 0.9 ⟨u⟩/⟨u²⟩ = 0.9 · 1.45/2.17`. Under Accumulate it averages
/// both sources' moments: `a = (0.75 + 0.6525)/(5/6 + 1.085)`.
/// ```
/// use flowcollapse::theory::{reflow::reflow, Strategy};
/// let g = reflow(4.0, 1, 1, 0.0, Strategy::Replace, 2);
/// assert_eq!((g[0].forward_gain, g[0].variance_ratio), (2.0, 1.0));
/// assert!((g[1].forward_gain - 1.9).abs() < 1e-15 && (g[1].reverse_gain - 0.1).abs() < 1e-15);
/// assert!((g[2].forward_gain - (1.0 + 0.9 * 1.45 / 2.17)).abs() < 1e-15);
/// let acc = reflow(4.0, 1, 1, 0.0, Strategy::Accumulate, 2);
/// assert!((acc[2].forward_gain - (1.0 + 1.4025 / (5.0 / 6.0 + 1.085))).abs() < 1e-15);
/// ```
pub fn reflow(
    lambda: f64,
    steps: usize,
    bins: usize,
    ridge: f64,
    strategy: Strategy,
    generations: usize,
) -> Vec<ReflowGeneration> {
    let mut out = vec![ReflowGeneration {
        generation: 0,
        gains: Vec::new(),
        forward_gain: lambda.sqrt(),
        reverse_gain: 1.0 / lambda.sqrt(),
        variance_ratio: 1.0,
    }];
    let synthetic = |beta: f64| PairSource::Coupled { data: beta, noise: 1.0, variance: 1.0 };
    for k in 1..=generations {
        let sources: Vec<(f64, PairSource)> = if k == 1 {
            vec![(1.0, PairSource::Independent { lambda })]
        } else {
            let last = &out[k - 1];
            match strategy {
                Strategy::Replace => vec![(1.0, synthetic(last.forward_gain))],
                Strategy::Mix { alpha, .. } => vec![
                    (1.0 - alpha, synthetic(last.forward_gain)),
                    (alpha, PairSource::Coupled { data: 1.0, noise: last.reverse_gain, variance: lambda }),
                ],
                Strategy::Accumulate => {
                    let w = 1.0 / k as f64;
                    std::iter::once((w, PairSource::Independent { lambda }))
                        .chain(out[1..k].iter().map(|g| (w, synthetic(g.forward_gain))))
                        .collect()
                }
            }
        };
        let gains = fit_bins(&sources, bins, ridge);
        let forward_gain = sampler_gain(&gains, steps, Direction::Forward);
        let reverse_gain = sampler_gain(&gains, steps, Direction::Reverse);
        out.push(ReflowGeneration {
            generation: k,
            gains,
            forward_gain,
            reverse_gain,
            variance_ratio: forward_gain * forward_gain / lambda,
        });
    }
    out
}
