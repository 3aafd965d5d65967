//! Linear-Gaussian reflow with N pairs (sim::reflow) against its population limit (theory::reflow,
//! proofs/reflow-linear-gaussian.md), and the finite-N noise it adds.

use flowcollapse::sim::reflow::{replicate_paths, run, ReflowMc, ReflowSetup};
use flowcollapse::theory::reflow::reflow;
use flowcollapse::theory::{RealPool, Strategy};
use statrs::distribution::{ContinuousCDF, FisherSnedecor};

fn setup(strategy: Strategy, ridge: f64, generations: usize) -> ReflowSetup {
    ReflowSetup { spectrum: vec![4.0, 0.25], steps: 4, bins: 4, ridge, strategy, generations }
}

/// At large N every generation's mean variance ratio brackets the closed form. 2 directions × 3 strategies ×
/// 2 ridges × 6 generations = 72 intervals, so each is a 99.9% interval (Bonferroni: ≤ 7% chance of any
/// miss when the two agree).
#[test]
fn monte_carlo_tends_to_the_closed_form() {
    let strategies = [Strategy::Replace, Strategy::Mix { alpha: 0.5, pool: RealPool::Fresh }, Strategy::Accumulate];
    let mc = ReflowMc { pairs: 100_000, replicates: 12, seed: 3 };
    for (series, &strategy) in strategies.iter().enumerate() {
        for ridge in [0.0, 0.2] {
            let s = setup(strategy, ridge, 6);
            let simulated = run(&s, &mc, series as u64, 0.999);
            for (i, &lambda) in s.spectrum.iter().enumerate() {
                let exact = reflow(lambda, s.steps, s.bins, ridge, strategy, s.generations);
                for (e, m) in exact.iter().zip(&simulated) {
                    let iv = m.variance_ratio[i].mean;
                    assert!(
                        iv.lo <= e.variance_ratio && e.variance_ratio <= iv.hi,
                        "{} γ={ridge} λ={lambda} generation {}: closed form {} outside [{}, {}]",
                        strategy.name(),
                        e.generation,
                        e.variance_ratio,
                        iv.lo,
                        iv.hi
                    );
                    if e.generation == 6 {
                        eprintln!("{} {ridge} {lambda} {} {:?}", strategy.name(), e.variance_ratio, iv);
                    }
                    let rho = m.reverse_gain[i];
                    assert!(rho.lo <= e.reverse_gain && e.reverse_gain <= rho.hi, "ρ at generation {}", e.generation);
                }
            }
        }
    }
}

/// The sampling noise of a fit is O(1/√N): the replicate variance of β₁² at N and at 4N has ratio 4, tested
/// with the F distribution of the ratio of two sample variances (99% two-sided).
#[test]
fn sampling_noise_of_one_fit_scales_as_one_over_n() {
    let s = setup(Strategy::Replace, 0.0, 1);
    let replicates = 400;
    let variance_of_beta2 = |pairs: usize, seed: u64| {
        let paths = replicate_paths(&s, &ReflowMc { pairs, replicates, seed }, 0);
        let values: Vec<f64> = paths.iter().map(|p| p[0][1].0.powi(2)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64
    };
    let ratio = variance_of_beta2(2_000, 1) / variance_of_beta2(8_000, 2) / 4.0;
    let dof = (replicates - 1) as f64;
    let f = FisherSnedecor::new(dof, dof).unwrap();
    let (lo, hi) = (f.inverse_cdf(0.005), f.inverse_cdf(0.995));
    assert!(lo <= ratio && ratio <= hi, "variance ratio / 4 = {ratio}, 99% range [{lo}, {hi}]");
}

/// A fixed real pool is one draw reused by every generation: its paths differ from the fresh pool's, but the
/// two agree on average (the difference is O(1/N), far inside the replicate intervals).
#[test]
fn fixed_and_fresh_pools_agree_in_mean() {
    let mc = ReflowMc { pairs: 20_000, replicates: 40, seed: 9 };
    let fresh = run(&setup(Strategy::Mix { alpha: 0.5, pool: RealPool::Fresh }, 0.0, 4), &mc, 0, 0.999);
    let fixed = run(&setup(Strategy::Mix { alpha: 0.5, pool: RealPool::Fixed }, 0.0, 4), &mc, 0, 0.999);
    let last = (&fresh[4].variance_ratio[0], &fixed[4].variance_ratio[0]);
    assert_ne!(last.0.mean.mean, last.1.mean.mean, "the pools must be different draws");
    // Two independent means: their difference lies within the combined half-widths.
    let gap = (last.0.mean.mean - last.1.mean.mean).abs();
    let slack = (last.0.mean.hi - last.0.mean.mean).hypot(last.1.mean.hi - last.1.mean.mean);
    assert!(gap <= slack, "fresh {:?} vs fixed {:?}", last.0.mean, last.1.mean);
}

#[test]
fn monte_carlo_is_thread_count_independent() {
    let s = setup(Strategy::Accumulate, 0.1, 5);
    let mc = ReflowMc { pairs: 3_000, replicates: 9, seed: 4 };
    let on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| replicate_paths(&s, &mc, 2))
    };
    assert_eq!(on(1), on(2));
}
