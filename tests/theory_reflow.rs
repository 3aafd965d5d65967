//! Linear-Gaussian reflow (proofs/reflow-linear-gaussian.md): the binned fit against least squares on
//! sampled pairs, and the limits the closed form must reach.

use flowcollapse::theory::flow::Direction;
use flowcollapse::theory::reflow::{bin_of, fit_bins, node_bin, reflow, sampler_gain, PairSource};
use flowcollapse::theory::{RealPool, Strategy};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

#[test]
fn bin_fit_equals_least_squares_on_sampled_pairs() {
    let (lambda, ridge, bins) = (2.0, 0.1, 4);
    let sources = [
        (0.3, PairSource::Independent { lambda }),
        (0.7, PairSource::Coupled { data: 1.3, noise: 1.0, variance: 1.0 }),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(8);
    let n = 400_000;
    let mut pairs: Vec<Vec<(f64, f64)>> = vec![Vec::new(); bins];
    for i in 0..n {
        let (x, z) = if (i as f64) < 0.3 * n as f64 {
            let z: f64 = rng.sample(StandardNormal);
            let x: f64 = rng.sample::<f64, _>(StandardNormal) * lambda.sqrt();
            (x, z)
        } else {
            let w: f64 = rng.sample(StandardNormal);
            (1.3 * w, w)
        };
        let t: f64 = rng.random();
        let y = t * x + (1.0 - t) * z;
        pairs[bin_of(t, bins)].push(((x - z) * y, y * y));
    }
    let fitted = fit_bins(&sources, bins, ridge);
    for (b, bin) in pairs.iter().enumerate() {
        // The sample version of the ridge objective (1/n_b) Σ (target − a y)² + γ a², and the delta-method
        // standard error of that ratio estimate.
        let count = bin.len() as f64;
        let denominator = bin.iter().map(|p| p.1).sum::<f64>() + ridge * count;
        let sampled = bin.iter().map(|p| p.0).sum::<f64>() / denominator;
        let spread = bin.iter().map(|(c, s)| (c - sampled * (s + ridge)).powi(2)).sum::<f64>().sqrt();
        let standard_error = spread / denominator;
        assert!(
            (sampled - fitted[b]).abs() < 4.0 * standard_error,
            "bin {b}: sampled {sampled} ± {standard_error} vs closed form {}",
            fitted[b]
        );
    }
}

#[test]
fn euler_gain_is_the_product_over_nodes() {
    // Two bins, two steps: forward nodes 0 and ½ fall in bins 0 and 1; reverse nodes 1 and ½ in bin 1 twice.
    let gains = [0.4, -0.2];
    assert!((sampler_gain(&gains, 2, Direction::Forward) - (1.0 + 0.2) * (1.0 - 0.1)).abs() < 1e-15);
    assert!((sampler_gain(&gains, 2, Direction::Reverse) - (1.0 + 0.1) * (1.0 + 0.1)).abs() < 1e-15);
}

/// The bin of time n/K among B half-open bins, found by searching the exact integer inequalities
/// `b·K ≤ n·B < (b + 1)·K` (the last bin closed) instead of dividing.
fn bin_by_search(n: usize, steps: usize, bins: usize) -> usize {
    (0..bins).find(|&b| b * steps <= n * bins && (n * bins < (b + 1) * steps || b == bins - 1)).unwrap()
}

#[test]
fn node_bins_are_exact_for_every_step_count() {
    for steps in 1..=256 {
        for bins in [steps, 7, 2 * steps + 1] {
            for j in 0..steps {
                assert_eq!(
                    node_bin(Direction::Forward, j, steps, bins),
                    bin_by_search(j, steps, bins),
                    "K={steps} B={bins} j={j}"
                );
                let reverse = node_bin(Direction::Reverse, j, steps, bins);
                assert_eq!(reverse, bin_by_search(steps - j, steps, bins), "reverse K={steps} B={bins} j={j}");
            }
            // The gain is the product over those bins, in order.
            let gains: Vec<f64> = (0..bins).map(|b| 0.3 + 0.01 * b as f64).collect();
            let forward: f64 = (0..steps).map(|j| 1.0 + gains[bin_by_search(j, steps, bins)] / steps as f64).product();
            let got = sampler_gain(&gains, steps, Direction::Forward);
            assert!((got - forward).abs() <= 1e-13 * forward, "K={steps} B={bins}: {got} vs {forward}");
        }
    }
    // A case the floating-point lookup got wrong: K = B = 49, node 8/49 is the start of bin 8.
    assert_eq!(node_bin(Direction::Forward, 8, 49, 49), 8);
    assert_eq!(bin_of(8.0 / 49.0, 49), 7, "floating point puts 8/49 one bin low");
}

#[test]
fn forty_nine_steps_give_the_audited_gains() {
    // An independent audit (its own solver, exact bins) found, for λ = 4, K = B = 49, γ = 0, Reflow: forward
    // gain 1.9807 at generation 1 and variance ratio 0.774 at generation 30 (the floating-point bin lookup
    // gave 1.9616 and 0.826).
    let g = reflow(4.0, 49, 49, 0.0, Strategy::Replace, 30);
    assert!((g[1].forward_gain - 1.9807).abs() < 1e-4, "{}", g[1].forward_gain);
    assert!((g[30].variance_ratio - 0.774).abs() < 1e-3, "{}", g[30].variance_ratio);
}

#[test]
fn reverse_steps_use_the_bin_above_their_interval() {
    // B = K: reverse step j starts at node (K − j)/K, the lower edge of bin K − j, clamped to B − 1.
    let steps = 10;
    let used: Vec<usize> = (0..steps).map(|j| node_bin(Direction::Reverse, j, steps, steps)).collect();
    assert_eq!(used, vec![9, 9, 8, 7, 6, 5, 4, 3, 2, 1], "bin 9 twice, bin 0 never");
    let forward: Vec<usize> = (0..steps).map(|j| node_bin(Direction::Forward, j, steps, steps)).collect();
    assert_eq!(forward, (0..steps).collect::<Vec<_>>(), "forward uses each bin once");
}

#[test]
fn fine_bins_and_steps_recover_the_rectified_flow() {
    for lambda in [4.0, 0.25] {
        let r = reflow(lambda, 2000, 2000, 0.0, Strategy::Replace, 1);
        assert!((r[1].variance_ratio - 1.0).abs() < 5e-3, "λ = {lambda}: {}", r[1].variance_ratio);
        // Forward then reverse is close to the identity.
        assert!((r[1].forward_gain * r[1].reverse_gain - 1.0).abs() < 5e-3);
    }
}

#[test]
fn reflow_drift_on_straight_couplings_vanishes_like_one_over_k() {
    // Refitting a straight (deterministic linear) coupling is exact with an exact time dependence and exact
    // integration; with K steps and B = K bins the variance drifts by O(1/K) per generation.
    let drift = |k: usize| {
        let r = reflow(4.0, k, k, 0.0, Strategy::Replace, 20);
        (r[20].variance_ratio - r[1].variance_ratio).abs()
    };
    let (coarse, fine) = (drift(1000), drift(4000));
    assert!(fine < 3e-3, "drift {fine} at K = 4000");
    let order = coarse / fine;
    assert!((3.0..5.0).contains(&order), "quadrupling K divided the drift by {order}, expected about 4");
}

#[test]
fn ridge_pulls_reflow_toward_the_identity_map() {
    // With γ > 0 every fitted gain shrinks toward 0, i.e. the flow toward x = z: generated variance
    // moves toward the noise variance 1, from either side.
    for lambda in [4.0, 0.25] {
        let r = reflow(lambda, 16, 16, 0.05, Strategy::Replace, 300);
        let distance = |g: usize| (r[g].forward_gain.powi(2) - 1.0).abs();
        assert!(distance(300) < 0.5 * distance(1), "λ = {lambda}: {} then {}", distance(1), distance(300));
        assert!((2..300).all(|g| distance(g + 1) <= distance(g) + 1e-12), "λ = {lambda}: not monotone");
    }
    // The pull shows whatever the strategy: Mix and Accumulate keep real or first-model pairs and move less.
    let replace = reflow(4.0, 16, 16, 0.05, Strategy::Replace, 100);
    let mix = reflow(4.0, 16, 16, 0.05, Strategy::Mix { alpha: 0.5, pool: RealPool::Fresh }, 100);
    let acc = reflow(4.0, 16, 16, 0.05, Strategy::Accumulate, 100);
    assert!(mix[100].variance_ratio > replace[100].variance_ratio);
    assert!(acc[100].variance_ratio > replace[100].variance_ratio);
}

#[test]
fn inverted_real_pairs_are_a_weighted_straight_coupling_of_slope_one_over_rho() {
    // proofs/reflow-linear-gaussian.md §5: real data inverted with gain ρ has the moments of synthetic pairs
    // of slope c = 1/ρ, scaled by ρ²λ.
    let (lambda, rho) = (3.0, 0.7);
    let real = PairSource::Coupled { data: 1.0, noise: rho, variance: lambda };
    let straight = PairSource::Coupled { data: 1.0 / rho, noise: 1.0, variance: 1.0 };
    for t in [0.0, 0.2, 0.5, 0.9, 1.0] {
        let ((c_real, s_real), (c_line, s_line)) = (real.moments(t), straight.moments(t));
        let w = rho * rho * lambda;
        assert!((c_real - w * c_line).abs() < 1e-14 && (s_real - w * s_line).abs() < 1e-14, "t = {t}");
    }
    // Hence, without a ridge, RA with a consistent inversion (ρ = 1/β) fits exactly Reflow's model, for any
    // α and λ; a ridge weighs the sources by their variance and separates the two.
    let beta = 1.3;
    let synthetic = PairSource::Coupled { data: beta, noise: 1.0, variance: 1.0 };
    let consistent = PairSource::Coupled { data: 1.0, noise: 1.0 / beta, variance: lambda };
    for ridge in [0.0, 0.1] {
        let reflow_fit = fit_bins(&[(1.0, synthetic)], 8, ridge);
        let ra_fit = fit_bins(&[(0.4, synthetic), (0.6, consistent)], 8, ridge);
        let gap = reflow_fit.iter().zip(&ra_fit).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        if ridge == 0.0 {
            assert!(gap < 1e-14, "γ = 0: RA and Reflow differ by {gap}");
        } else {
            assert!(gap > 1e-3, "γ > 0: the sources' weights must matter, gap {gap}");
        }
    }
}
