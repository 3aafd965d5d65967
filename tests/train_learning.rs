//! Learning works: on x1 ~ N(0, diag(4, 0.25)) a small MLP reaches the minimum flow-matching loss.
//!
//! The loss of a field v is `E‖u − v(x_t, t)‖²/d`; it splits into `E‖u − v*(x_t, t)‖²/d +
//! E‖v* − v‖²/d` with v* = E[u | x_t] the exact velocity of proofs/flow-*.md (`theory::flow::velocity`). The
//! first term is the least achievable loss; per direction of eigenvalue λ it is `∫₀¹ λ/(t²λ + (1−t)²) dt`
//! (π for λ = 4), against `(λ + 1)` for the best constant predictor (zero), so here the optimum is about
//! 1.98 and the constant 3.125. Both losses of the trained network and of v* are measured on the same
//! 40 000 evaluation pairs, so their difference estimates E‖v* − v‖²/d with little noise.
//!
//! Sampling the trained field.
//! Against the theory's oracle (proofs/flow-*.md, `theory::flow`), a velocity MLP trained on
//! N(m, diag(4, 1/4)) and sampled with K Euler steps generates the mean m and the K-step covariance
//! `theory::flow::generated_covariance(Σ, K, Euler)`: the few-step blur of the exact flow, not Σ itself.
//!
//! The network is not the exact field: after 4000 steps its generated variance along λ = 4 sits 5–30% off
//! the K-step closed form (most at K = 2, where the slope of v(·, 0) matters most; 0.78 against 0.64),
//! within 2–15% along λ = 1/4. So the test checks what the closed form predicts and the target does not:
//! at K ≤ 4 the generated variance is several times nearer the K-step value than the target λ, and at
//! K = 64 it is within 6% of it.

use flowcollapse::data::gaussian_vectors;
use flowcollapse::metrics::{Moments, Samples};
use flowcollapse::theory::flow::velocity;
use flowcollapse::theory::flow::{generated_covariance, Solver};
use flowcollapse::theory::Covariance;
use flowcollapse::train::sampler::{generate, Solver as SamplerSolver};
use flowcollapse::train::{net, CpuBackend, IndependentPairs, MlpConfig, OptimConfig, TrainConfig, Trainer, Workspace};
use nalgebra::DVector;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal, Uniform};
use rand_xoshiro::Xoshiro256PlusPlus;

const SPECTRUM: [f64; 2] = [4.0, 0.25];

fn gaussian_rows(rng: &mut Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    (0..n)
        .flat_map(|_| SPECTRUM.map(|l| l.sqrt() * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)))
        .map(|v| v as f32)
        .collect()
}

/// The 2-D Gaussian flow both tests train: MLP [64, 64], 4000 Adam steps at batch 256.
pub fn train_gaussian_flow(data: &[f32], pair_seed: u64) -> Trainer<CpuBackend> {
    let config = TrainConfig {
        mlp: MlpConfig::new(2, vec![64, 64]),
        optim: OptimConfig { lr: 2e-3, ema_decay: 0.995, ..OptimConfig::default() },
        batch: 256,
        seed: 3,
    };
    let mut trainer = Trainer::new(CpuBackend::new(), config).unwrap();
    let mut pairs = IndependentPairs::new(data, 2, pair_seed).unwrap();
    for _ in 0..4000 {
        trainer.step(&mut pairs).unwrap();
    }
    trainer
}

#[test]
fn trained_loss_is_close_to_the_least_achievable_flow_matching_loss() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let data = gaussian_rows(&mut rng, 50_000);
    let trainer = train_gaussian_flow(&data, 17);

    // Evaluation pairs, independent of the training ones.
    let n = 40_000;
    let x0: Vec<f32> =
        (0..2 * n).map(|_| <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng) as f32).collect();
    let x1 = gaussian_rows(&mut rng, n);
    let unif = Uniform::new(0.0f64, 1.0).unwrap();
    let t: Vec<f32> = (0..n).map(|_| unif.sample(&mut rng) as f32).collect();
    let xt: Vec<f32> = (0..2 * n).map(|i| t[i / 2] * x1[i] + (1.0 - t[i / 2]) * x0[i]).collect();

    let cov = Covariance::from_spectrum(&SPECTRUM).unwrap();
    let mean = DVector::zeros(2);
    let b = CpuBackend::new();
    let mut ws = Workspace::new(&b, trainer.mlp(), n).unwrap();
    net::forward(&b, trainer.mlp(), trainer.ema(), &xt, &t, &mut ws).unwrap();
    let v = ws.output();
    let (mut opt, mut model, mut excess_sq) = (0.0, 0.0, Vec::with_capacity(n));
    for r in 0..n {
        let x = DVector::from_vec(vec![xt[2 * r] as f64, xt[2 * r + 1] as f64]);
        let vstar = velocity(&cov, &mean, &x, t[r] as f64);
        let (mut o, mut m, mut e) = (0.0, 0.0, 0.0);
        for j in 0..2 {
            let u = (x1[2 * r + j] - x0[2 * r + j]) as f64;
            o += (u - vstar[j]).powi(2);
            m += (u - v[2 * r + j] as f64).powi(2);
            e += (vstar[j] - v[2 * r + j] as f64).powi(2);
        }
        opt += o / 2.0;
        model += m / 2.0;
        excess_sq.push(e / 2.0);
    }
    let (opt, model) = (opt / n as f64, model / n as f64);
    let excess = excess_sq.iter().sum::<f64>() / n as f64;
    let constant = (SPECTRUM[0] + SPECTRUM[1] + 2.0) / 2.0;
    // The Monte Carlo optimum agrees with its closed form (π + ∫ 0.25/(t²/4 + (1−t)²)) / 2 within 3 %.
    let closed = {
        let k = 100_000;
        let per = |l: f64| {
            (0..k).map(|i| (i as f64 + 0.5) / k as f64).map(|s| l / (s * s * l + (1.0 - s) * (1.0 - s))).sum::<f64>()
                / k as f64
        };
        (per(4.0) + per(0.25)) / 2.0
    };
    eprintln!(
        "optimum {opt:.4} (closed form {closed:.4}), trained {model:.4}, E‖v*−v‖²/d {excess:.4}, constant {constant}"
    );
    assert!((opt - closed).abs() < 0.03 * closed);
    // The trained (EMA) field is within 1 % of the optimum in loss, i.e. it has closed more than 98 % of the
    // gap between the best constant predictor and the optimum (measured: 0.1 %, 2·10⁻³ in E‖v* − v‖²/d).
    assert!(model - opt < 0.01 * opt, "trained loss {model} vs optimum {opt}");
    assert!(excess < 0.01 * opt, "mean squared distance to the exact field {excess}");
    assert!(model < 0.7 * constant);
}

#[test]
fn trained_flow_generates_the_k_step_closed_form() {
    let (spectrum, mean) = ([4.0, 0.25], [1.0, -0.5]);
    let cov = Covariance::from_spectrum(&spectrum).unwrap();
    let data = gaussian_vectors(50_000, &mean, &cov, 7).unwrap();
    let trainer = train_gaussian_flow(data.values(), 11);
    let n = 20_000;
    for k in [2usize, 4, 64] {
        let sampled = generate(trainer.backend(), trainer.mlp(), trainer.ema(), n, 5, SamplerSolver::Euler, k).unwrap();
        let moments = Moments::from_samples(Samples::new("generated", &sampled.x, n, 2).unwrap()).unwrap();
        let exact = generated_covariance(&cov, k, Solver::Euler);
        for i in 0..2 {
            let (got, want) = (moments.covariance()[(i, i)], exact[(i, i)]);
            let (got_mean, want_mean) = (moments.mean()[i], mean[i]);
            assert!((got_mean - want_mean).abs() < 0.06 * spectrum[i].sqrt(), "K={k}: mean {got_mean} vs {want_mean}");
            let off_closed = (got / want).ln().abs();
            if k <= 4 {
                let off_target = (got / spectrum[i]).ln().abs();
                assert!(off_closed < 0.3 && off_target > 3.0 * off_closed, "K={k}, λ={}: {got} vs {want}", spectrum[i]);
            } else {
                assert!(off_closed < 0.06, "K={k}, λ={}: generated {got}, closed form {want}", spectrum[i]);
            }
        }
    }
}

#[test]
fn sampler_follows_a_time_dependent_trained_field_like_the_theory_integrator() {
    use flowcollapse::theory::flow::{integrate, Direction};
    use flowcollapse::train::{net, Backend, Workspace};
    use nalgebra::DVector;
    let cov = Covariance::from_spectrum(&[4.0, 0.25]).unwrap();
    let data = gaussian_vectors(5_000, &[0.0, 0.0], &cov, 1).unwrap();
    let config = TrainConfig {
        mlp: MlpConfig::new(2, vec![32]),
        batch: 64,
        seed: 2,
        ..TrainConfig::new(MlpConfig::new(2, vec![32]))
    };
    let mut trainer = Trainer::new(CpuBackend::new(), config).unwrap();
    let mut pairs = IndependentPairs::new(data.values(), 2, 3).unwrap();
    for _ in 0..300 {
        trainer.step(&mut pairs).unwrap();
    }
    let b = trainer.backend();
    let start = [0.7f32, -1.3];
    let mut ws = Workspace::new(b, trainer.mlp(), 1).unwrap();
    let mut field = |x: &DVector<f64>, t: f64| {
        let (xb, tb) = (b.upload(&[x[0] as f32, x[1] as f32]).unwrap(), b.upload(&[t as f32]).unwrap());
        net::forward(b, trainer.mlp(), trainer.params(), &xb, &tb, &mut ws).unwrap();
        let v = b.download(b.view(ws.output())).unwrap();
        DVector::from_vec(vec![v[0] as f64, v[1] as f64])
    };
    for (solver, sampler_solver) in [(Solver::Euler, SamplerSolver::Euler), (Solver::Heun, SamplerSolver::Heun)] {
        for direction in [Direction::Forward, Direction::Reverse] {
            let want = integrate(&mut field, &DVector::from_vec(vec![0.7, -1.3]), 5, solver, direction);
            let cfg = flowcollapse::train::sampler::SamplerConfig::new(sampler_solver, 5, direction);
            let got =
                flowcollapse::train::sampler::integrate(b, trainer.mlp(), trainer.params(), &start, &cfg).unwrap();
            for i in 0..2 {
                assert!((got.x[i] as f64 - want[i]).abs() < 1e-5, "{solver:?} {direction:?}: {:?} vs {want}", got.x);
            }
        }
    }
}
