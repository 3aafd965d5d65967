//! Pair sources for reflow (train::pairs): coupled pairs stay together, mixed batches split by count, and a
//! flow trained on a straight coupling reproduces it (the fixed point of reflow, proofs/reflow-linear-gaussian.md §4).

use flowcollapse::train::pairs::fill_normal;
use flowcollapse::train::sampler::{generate, Solver};
use flowcollapse::train::CpuBackend;
use flowcollapse::train::{CoupledPairs, MixedPairs, MlpConfig, OptimConfig, PairSource, TrainConfig, Trainer};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// n pairs in d = 2 whose rows are recognisable: x0 row i is (i, i), x1 row i is (i + offset, −i).
fn labelled(n: usize, offset: f32, seed: u64) -> CoupledPairs {
    let x0: Vec<f32> = (0..n).flat_map(|i| [i as f32, i as f32]).collect();
    let x1: Vec<f32> = (0..n).flat_map(|i| [i as f32 + offset, -(i as f32)]).collect();
    CoupledPairs::new(x0, x1, 2, seed).unwrap()
}

#[test]
fn coupled_pairs_stay_together_and_are_drawn_uniformly() {
    let n = 20;
    let mut source = labelled(n, 1000.0, 4);
    let (mut x0, mut x1) = (vec![0.0f32; 2 * 50], vec![0.0f32; 2 * 50]);
    let mut counts = vec![0usize; n];
    for step in 0..400 {
        source.fill(step, &mut x0, &mut x1);
        for (a, b) in x0.chunks(2).zip(x1.chunks(2)) {
            assert_eq!((b[0], b[1]), (a[0] + 1000.0, -a[0]), "a pair was split");
            counts[a[0] as usize] += 1;
        }
    }
    // 20 000 draws over 20 pairs: Pearson's χ² with 19 degrees of freedom, 99.9% upper bound.
    let expected = 20_000.0 / n as f64;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    let bound = ChiSquared::new((n - 1) as f64).unwrap().inverse_cdf(0.999);
    assert!(chi2 < bound, "χ² = {chi2} ≥ {bound}: {counts:?}");
    // The same step gives the same batch.
    let (mut y0, mut y1) = (vec![0.0f32; 100], vec![0.0f32; 100]);
    source.fill(399, &mut y0, &mut y1);
    assert_eq!((x0, x1), (y0, y1));
}

#[test]
fn mixed_batches_take_the_floor_of_alpha_b_real_rows_first() {
    let (real, synthetic) = (labelled(5, 1000.0, 1), labelled(5, 2000.0, 2));
    let mut mixed = MixedPairs::new(real, synthetic, 0.3).unwrap();
    assert_eq!(mixed.real_rows(10), 3);
    assert_eq!(mixed.real_rows(7), 2);
    let (mut x0, mut x1) = (vec![0.0f32; 20], vec![0.0f32; 20]);
    mixed.fill(7, &mut x0, &mut x1);
    for (row, (a, b)) in x0.chunks(2).zip(x1.chunks(2)).enumerate() {
        let offset = if row < 3 { 1000.0 } else { 2000.0 };
        assert_eq!(b[0] - a[0], offset, "row {row}");
    }
    assert!(MixedPairs::new(labelled(2, 0.0, 0), labelled(2, 0.0, 0), 1.5).is_err());
    let other_dim = CoupledPairs::new(vec![0.0; 3], vec![0.0; 3], 3, 0).unwrap();
    assert!(MixedPairs::new(labelled(2, 0.0, 0), other_dim, 0.5).is_err());
}

#[test]
fn a_flow_trained_on_a_straight_coupling_reproduces_it() {
    // x1 = (2 z1, z2 / 2): straight paths, so the learnt field integrates back to the same map and the
    // generated variances are 4 and 1/4 even with few Euler steps (the exact field's Euler steps are exact).
    let n = 20_000;
    let mut z = vec![0.0f32; 2 * n];
    fill_normal(21, 0, &mut z);
    let x: Vec<f32> = z.chunks(2).flat_map(|r| [2.0 * r[0], 0.5 * r[1]]).collect();
    let config = TrainConfig {
        mlp: MlpConfig::new(2, vec![64, 64]),
        optim: OptimConfig { lr: 2e-3, ema_decay: 0.995, ..OptimConfig::default() },
        batch: 256,
        seed: 8,
    };
    let mut trainer = Trainer::new(CpuBackend::new(), config).unwrap();
    let mut pairs = CoupledPairs::new(z, x, 2, 5).unwrap();
    for _ in 0..3000 {
        trainer.step(&mut pairs).unwrap();
    }
    let samples = generate(trainer.backend(), trainer.mlp(), trainer.ema(), 20_000, 77, Solver::Euler, 4).unwrap();
    for (i, want) in [4.0, 0.25].into_iter().enumerate() {
        let got = samples.x.iter().skip(i).step_by(2).map(|&v| (v as f64).powi(2)).sum::<f64>() / 20_000.0;
        // Sampling error of a variance over 20 000 draws is 1%; the rest is the network's fit.
        assert!((got / want - 1.0).abs() < 0.08, "direction {i}: generated variance {got}, coupling {want}");
    }
    // And the trajectories are nearly straight: straightness far below the independent coupling's
    // (2 − π/2)·tr Σ^{1/2} = 1.07 (proofs/flow-straightness.md).
    assert!(samples.straightness < 0.1, "straightness {}", samples.straightness);
}
