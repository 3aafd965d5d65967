//! Whole runs through the CUDA kernels (executed on the CPU by the shim, feature `kernel-shim`; or on a GPU
//! with `-- --ignored`) against the CPU reference: a short training run, sampling both ways, and the same
//! bits twice. Also, on the CPU alone, that drawing batches on the device path gives the same bits as the
//! host path.
//!
//! Tolerances. Element-wise kernels round exactly as the CPU does (no contraction on either side); the
//! GEMM adds its k products in another order than the `gemm` crate and the reductions another order
//! than the CPU's lanes, so each product differs by a few units of f32 roundoff (≤ (k + 1)·u·Σ|terms|,
//! tests/train_ops.rs). Over 20 Adam steps of lr 1e-3, which move a weight by at most 2·10⁻² in all,
//! those differences stay below 10⁻⁵ (measured ≈ 10⁻⁷); a wrong kernel moves weights by ~lr = 10⁻³ per step.

#[macro_use]
mod common;

use flowcollapse::train::sampler::{self, Direction, SamplerConfig, Solver};
use flowcollapse::train::{
    Backend, CoupledPairs, CpuBackend, IndependentPairs, MixedPairs, MlpConfig, OptimConfig, TrainConfig, TrainState,
    Trainer,
};

const DIM: usize = 6;
const STEPS: usize = 20;
/// Largest difference allowed between a weight (or Adam moment, EMA) trained on the kernels and on the CPU.
const WEIGHT_TOL: f32 = 1e-5;
/// Largest relative difference allowed between losses, and between sampled end points.
const REL_TOL: f64 = 1e-5;

fn data(rows: usize, salt: f64) -> Vec<f32> {
    (0..rows * DIM).map(|i| ((i as f64 * 0.618 + salt).sin() * 1.7 - 0.2) as f32).collect()
}

fn config() -> TrainConfig {
    TrainConfig {
        // Widths that are no multiple of the 64-tile, an embedding narrower than the data.
        mlp: MlpConfig { embed: 8, ..MlpConfig::new(DIM, vec![70, 33]) },
        optim: OptimConfig { lr: 1e-3, ema_decay: 0.9, ..OptimConfig::default() },
        batch: 37,
        seed: 3,
    }
}

/// 20 steps on batches that mix independent pairs (device noise, row draws) and coupled pairs.
fn train<B: Backend>(b: B, device_pairs: bool) -> (Vec<f64>, TrainState) {
    let real = data(50, 0.0);
    let (x0, x1) = (data(40, 1.0), data(40, 2.0));
    let mut pairs = MixedPairs::new(
        IndependentPairs::new(&real, DIM, 11).unwrap(),
        CoupledPairs::new(x0, x1, DIM, 12).unwrap(),
        0.4,
    )
    .unwrap();
    let mut trainer = Trainer::new(b, config()).unwrap();
    trainer.set_device_pairs(device_pairs);
    let losses = (0..STEPS).map(|_| trainer.step(&mut pairs).unwrap().loss).collect();
    (losses, trainer.state().unwrap())
}

fn bits(state: &TrainState) -> Vec<Vec<u32>> {
    state.tensors.iter().map(|(_, v)| v.iter().map(|x| x.to_bits()).collect()).collect()
}

#[test]
fn device_batches_on_the_cpu_are_the_host_batches_bit_for_bit() {
    let (host_losses, host) = train(CpuBackend::new(), false);
    let (dev_losses, dev) = train(CpuBackend::new(), true);
    assert_eq!(
        host_losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
        dev_losses.iter().map(|l| l.to_bits()).collect::<Vec<_>>()
    );
    assert!(bits(&host) == bits(&dev));
}

on_each_backend!(training_matches_the_cpu_reference, sampling_matches_the_cpu_reference, runs_repeat_bit_for_bit);

fn training_matches_the_cpu_reference<B: Backend + Clone>(b: &B) {
    let (want_losses, want) = train(CpuBackend::new(), false);
    let (losses, got) = train(b.clone(), true);
    for (step, (l, w)) in losses.iter().zip(&want_losses).enumerate() {
        assert!((l - w).abs() <= REL_TOL * w.abs(), "step {step}: loss {l} against the CPU's {w}");
    }
    let mut worst = 0.0f32;
    for ((name, g), (_, w)) in got.tensors.iter().zip(&want.tensors) {
        for (x, y) in g.iter().zip(w) {
            let diff = (x - y).abs();
            worst = worst.max(diff);
            assert!(diff <= WEIGHT_TOL, "{name}: {x} against the CPU's {y}");
        }
    }
    eprintln!("{}: worst weight difference after {STEPS} steps: {worst:e}", b.name());
    // The run moved: the comparison is not between two copies of the initialisation.
    let init = Trainer::new(CpuBackend::new(), config()).unwrap().state().unwrap();
    let moved = want.tensors[0].1.iter().zip(&init.tensors[0].1).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(moved > 100.0 * WEIGHT_TOL, "the first tensor moved only {moved}");
}

/// Heun forward from host starts, Euler–Maruyama in reverse (device noise), and `generate` (device
/// starting noise), with the weights of a fresh network.
fn sampling_matches_the_cpu_reference<B: Backend>(b: &B) {
    let cpu = CpuBackend::new();
    let trainer = Trainer::new(CpuBackend::new(), config()).unwrap();
    let (mlp, weights) = (trainer.mlp(), trainer.params());
    let start = data(45, 3.0);
    let mut reverse = SamplerConfig::new(Solver::Euler, 9, Direction::Reverse);
    reverse.noise = 0.3;
    reverse.chunk = 16;
    for config in [SamplerConfig::new(Solver::Heun, 7, Direction::Forward), reverse] {
        let want = sampler::integrate(&cpu, mlp, weights, &start, &config).unwrap();
        let params = b.upload(weights).unwrap();
        let got = sampler::integrate(b, mlp, &params, &start, &config).unwrap();
        close(&got.x, &want.x, &format!("{config:?}"));
        assert!((got.straightness - want.straightness).abs() <= REL_TOL * want.straightness.abs());
    }
    let want = sampler::generate(&cpu, mlp, weights, 30, 4, Solver::Euler, 5).unwrap();
    let got = sampler::generate(b, mlp, &b.upload(weights).unwrap(), 30, 4, Solver::Euler, 5).unwrap();
    close(&got.x, &want.x, "generate");
}

fn close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f64, |m, &x| m.max(x.abs() as f64));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(((g - w).abs() as f64) <= REL_TOL * scale, "{what} [{i}]: {g} against the CPU's {w}");
    }
}

fn runs_repeat_bit_for_bit<B: Backend + Clone>(b: &B) {
    let (l1, s1) = train(b.clone(), true);
    let (l2, s2) = train(b.clone(), true);
    assert_eq!(l1.iter().map(|l| l.to_bits()).collect::<Vec<_>>(), l2.iter().map(|l| l.to_bits()).collect::<Vec<_>>());
    assert!(bits(&s1) == bits(&s2), "two runs on {} differ", b.name());
}
