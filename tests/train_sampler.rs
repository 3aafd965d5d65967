//! The trainer's samplers (train::sampler) on fields whose flows are known: an MLP without hidden layers
//! is affine in x, so `v(x, t) = a x + c` can be set exactly and compared with `theory::flow::integrate`.

use flowcollapse::theory::flow::integrate as exact_integrate;
use flowcollapse::train::sampler::{integrate, Direction, SamplerConfig, Solver};
use flowcollapse::train::{Backend, CpuBackend, Mlp, MlpConfig};
use nalgebra::DVector;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// The affine field `v(x, t) = a x + c` in d dimensions (no hidden layer, time weights zero).
fn affine(d: usize, a: f32, c: f32) -> (Mlp, Vec<f32>) {
    let mlp = Mlp::new(MlpConfig { dim: d, hidden: vec![], embed: 2 }).unwrap();
    let mut params = vec![0.0f32; mlp.num_params()];
    let slot = &mlp.layers()[0];
    for i in 0..d {
        params[slot.weight.start + i * (d + 2) + i] = a;
        params[slot.bias.start + i] = c;
    }
    (mlp, params)
}

fn start(n: usize, d: usize) -> Vec<f32> {
    (0..n * d).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect()
}

#[test]
fn euler_and_heun_match_the_theory_integrator_both_ways() {
    let (d, n, a, c) = (3, 10, -0.7f32, 0.4f32);
    let (mlp, params) = affine(d, a, c);
    let b = CpuBackend::new();
    let p = b.upload(&params).unwrap();
    let x = start(n, d);
    for solver in [Solver::Euler, Solver::Heun] {
        for direction in [Direction::Forward, Direction::Reverse] {
            for k in [1, 2, 5, 16] {
                let got = integrate(&b, &mlp, &p, &x, &SamplerConfig::new(solver, k, direction)).unwrap();
                assert_eq!(got.nfe, if solver == Solver::Euler { k } else { 2 * k - 1 });
                for (row, want_row) in got.x.chunks(d).zip(x.chunks(d)) {
                    let x0 = DVector::from_iterator(d, want_row.iter().map(|&v| v as f64));
                    let field = |y: &DVector<f64>, _t: f64| y.map(|v| a as f64 * v + c as f64);
                    let want = exact_integrate(field, &x0, k, solver, direction);
                    for (g, w) in row.iter().zip(want.iter()) {
                        assert!((*g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()), "{solver:?} {direction:?} K={k}");
                    }
                }
            }
        }
    }
}

#[test]
fn streamed_straightness_equals_the_definition_on_stored_trajectories() {
    let (d, n, a, c) = (2, 6, 1.3f32, -0.2f32);
    let (mlp, params) = affine(d, a, c);
    let b = CpuBackend::new();
    let p = b.upload(&params).unwrap();
    let x = start(n, d);
    for (solver, k) in [(Solver::Euler, 7), (Solver::Heun, 4)] {
        let got = integrate(&b, &mlp, &p, &x, &SamplerConfig::new(solver, k, Direction::Forward)).unwrap();
        // rfpp's definition, in f64, from every state of every trajectory.
        let mut total = 0.0;
        for row in x.chunks(d) {
            let mut states = vec![DVector::from_iterator(d, row.iter().map(|&v| v as f64))];
            for j in 0..k {
                let field = |y: &DVector<f64>, _t: f64| y.map(|v| a as f64 * v + c as f64);
                // One step of the same solver from t_j: a K = 1 integration on [t_j, t_{j+1}] is the same map
                // for an autonomous field, with δ scaled by 1/K.
                let h = 1.0 / k as f64;
                let last = states[j].clone();
                let k1 = field(&last, 0.0);
                let next = if solver == Solver::Heun && j + 1 < k {
                    let k2 = field(&(&last + &k1 * h), 0.0);
                    &last + (k1 + k2) * (0.5 * h)
                } else {
                    &last + k1 * h
                };
                states.push(next);
            }
            let chord = &states[k] - &states[0];
            total +=
                (0..k).map(|j| ((&states[j + 1] - &states[j]) / (1.0 / k as f64) - &chord).norm_squared()).sum::<f64>()
                    / k as f64;
        }
        let want = total / n as f64;
        assert!((got.straightness - want).abs() < 1e-4 * want.max(1.0), "{solver:?}: {} vs {want}", got.straightness);
        assert!(want > 0.01, "a curved field must not look straight");
    }
    // A constant field moves every sample on a straight line at constant speed: straightness 0, up to the
    // f32 rounding of the states (relative 1e-7 of the squared speed 2·0.8²).
    let (mlp, params) = affine(d, 0.0, 0.8);
    let got =
        integrate(&b, &mlp, &b.upload(&params).unwrap(), &x, &SamplerConfig::new(Solver::Euler, 9, Direction::Forward));
    assert!(got.unwrap().straightness.abs() < 1e-5);
}

#[test]
fn chunking_does_not_change_the_numbers() {
    let (d, n) = (4, 23);
    let (mlp, params) = affine(d, 0.3, 0.1);
    let b = CpuBackend::new();
    let p = b.upload(&params).unwrap();
    let x = start(n, d);
    let config = SamplerConfig { noise: 0.5, seed: 3, ..SamplerConfig::new(Solver::Euler, 6, Direction::Reverse) };
    let whole = integrate(&b, &mlp, &p, &x, &config).unwrap();
    let chunked = integrate(&b, &mlp, &p, &x, &SamplerConfig { chunk: 5, ..config }).unwrap();
    assert_eq!(whole.x, chunked.x);
    assert!((whole.straightness - chunked.straightness).abs() < 1e-9 * whole.straightness.abs().max(1.0));
}

#[test]
fn stochastic_reverse_adds_sigma_squared_variance_over_the_unit_interval() {
    // Zero field: the inversion is pure noise, Σ_j σ √(1/K) ε_j ~ N(0, σ²) per coordinate.
    let (d, n, sigma) = (8, 2000, 0.6f32);
    let (mlp, params) = affine(d, 0.0, 0.0);
    let b = CpuBackend::new();
    let x = vec![0.0f32; n * d];
    let config = SamplerConfig { noise: sigma, seed: 11, ..SamplerConfig::new(Solver::Euler, 10, Direction::Reverse) };
    let got = integrate(&b, &mlp, &b.upload(&params).unwrap(), &x, &config).unwrap();
    let m = got.x.len() as f64;
    let ss: f64 = got.x.iter().map(|&v| (v as f64).powi(2)).sum();
    // ss / σ² ~ χ²(m) (mean known to be 0): a 99.9% two-sided interval.
    let chi = ChiSquared::new(m).unwrap();
    let (lo, hi) = (chi.inverse_cdf(0.0005), chi.inverse_cdf(0.9995));
    let stat = ss / (sigma as f64).powi(2);
    assert!(lo < stat && stat < hi, "Σx²/σ² = {stat}, 99.9% range [{lo}, {hi}]");
}

#[test]
fn bad_settings_are_rejected_by_name() {
    let (mlp, params) = affine(2, 0.0, 0.0);
    let b = CpuBackend::new();
    let p = b.upload(&params).unwrap();
    let x = start(3, 2);
    let cases = [
        (SamplerConfig::new(Solver::Euler, 0, Direction::Forward), "steps"),
        (SamplerConfig { noise: 0.1, ..SamplerConfig::new(Solver::Euler, 4, Direction::Forward) }, "noise"),
        (SamplerConfig { noise: f32::NAN, ..SamplerConfig::new(Solver::Euler, 4, Direction::Reverse) }, "noise"),
        (SamplerConfig { chunk: 0, ..SamplerConfig::new(Solver::Euler, 4, Direction::Reverse) }, "chunk"),
    ];
    for (config, field) in cases {
        let message = integrate(&b, &mlp, &p, &x, &config).unwrap_err().to_string();
        assert!(message.contains(field), "{message}");
    }
    assert!(integrate(&b, &mlp, &p, &x[..5], &SamplerConfig::new(Solver::Euler, 4, Direction::Forward)).is_err());
}
