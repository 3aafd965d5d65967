//! The trainer against the theory's oracle (THEORY.md §4, `theory::flow`): a velocity MLP trained on
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
use flowcollapse::theory::flow::{generated_covariance, Solver};
use flowcollapse::theory::Covariance;
use flowcollapse::train::sampler::{generate, Solver as SamplerSolver};
use flowcollapse::train::{CpuBackend, IndependentPairs, MlpConfig, OptimConfig, TrainConfig, Trainer};

#[test]
fn trained_flow_generates_the_k_step_closed_form() {
    let (spectrum, mean) = ([4.0, 0.25], [1.0, -0.5]);
    let cov = Covariance::from_spectrum(&spectrum).unwrap();
    let data = gaussian_vectors(50_000, &mean, &cov, 7).unwrap();
    let config = TrainConfig {
        mlp: MlpConfig::new(2, vec![64, 64]),
        optim: OptimConfig { lr: 2e-3, ema_decay: 0.995, ..OptimConfig::default() },
        batch: 256,
        seed: 3,
    };
    let mut trainer = Trainer::new(CpuBackend::new(), config).unwrap();
    let mut pairs = IndependentPairs::new(data.values(), 2, 11).unwrap();
    for _ in 0..4000 {
        trainer.step(&mut pairs).unwrap();
    }
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
    let mut ws = Workspace::new(b, trainer.mlp(), 1);
    let mut field = |x: &DVector<f64>, t: f64| {
        let (xb, tb) = (b.upload(&[x[0] as f32, x[1] as f32]), b.upload(&[t as f32]));
        net::forward(b, trainer.mlp(), trainer.params(), &xb, &tb, &mut ws);
        let v = b.download(b.view(ws.output()));
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
