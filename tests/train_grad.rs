//! The hand-written backward pass against central finite differences of an independent f64 forward pass.
//!
//! The reference below re-implements the network from its documented formulas (time embedding, layers,
//! SiLU, MSE) in f64. Finite differences in f64 with step 1e-6 have error ~1e-10 (truncation h² ≈ 1e-12
//! times third derivatives of order one, rounding ~1e-16/1e-6), far below what f32 can resolve, so they
//! serve as the exact gradient. The trainer computes in f32: each entry of the gradient is a sum of at
//! most a few hundred products of O(1) numbers, whose rounding error is ~1e-6 relative to the largest
//! gradient entry; the tolerance is 2e-4 of the largest entry of the tensor (plus 1e-4 relative).

use flowcollapse::train::{rng, CpuBackend, MlpConfig, OptimConfig, PairSource, TrainConfig, Trainer};

/// Fixed pairs: the same batch at every step.
struct FixedPairs {
    dim: usize,
    x0: Vec<f32>,
    x1: Vec<f32>,
}

impl PairSource for FixedPairs {
    fn dim(&self) -> usize {
        self.dim
    }
    fn fill(&mut self, _step: u64, x0: &mut [f32], x1: &mut [f32]) {
        x0.copy_from_slice(&self.x0);
        x1.copy_from_slice(&self.x1);
    }
}

/// The MLP loss in f64 from the documented formulas, with weights read from the flat layout.
fn reference_loss(cfg: &MlpConfig, theta: &[f64], x0: &[f32], x1: &[f32], t: &[f32]) -> f64 {
    let (d, e) = (cfg.dim, cfg.embed);
    let rows = t.len();
    let mut total = 0.0;
    for r in 0..rows {
        let tr = t[r] as f64;
        let mut h: Vec<f64> = (0..d).map(|j| tr * x1[r * d + j] as f64 + (1.0 - tr) * x0[r * d + j] as f64).collect();
        let half = e / 2;
        let omega = |i: usize| if half == 1 { 1.0 } else { 1000f64.powf(i as f64 / (half - 1) as f64) };
        h.extend((0..half).map(|i| (omega(i) * tr).sin()));
        h.extend((0..half).map(|i| (omega(i) * tr).cos()));
        let widths: Vec<usize> = cfg.hidden.iter().copied().chain([d]).collect();
        let mut offset = 0;
        for (l, &out) in widths.iter().enumerate() {
            let inp = h.len();
            let w = &theta[offset..offset + out * inp];
            let bias = &theta[offset + out * inp..offset + out * inp + out];
            offset += out * inp + out;
            let z: Vec<f64> =
                (0..out).map(|o| bias[o] + (0..inp).map(|i| w[o * inp + i] * h[i]).sum::<f64>()).collect();
            h = if l + 1 < widths.len() { z.iter().map(|&z| z / (1.0 + (-z).exp())).collect() } else { z };
        }
        total += (0..d).map(|j| (h[j] - (x1[r * d + j] - x0[r * d + j]) as f64).powi(2)).sum::<f64>();
    }
    total / (rows * d) as f64
}

fn check_gradients(hidden: Vec<usize>, embed: usize) {
    let (dim, batch, seed) = (3, 6, 42);
    let mlp = MlpConfig { dim, hidden, embed };
    let config = TrainConfig { mlp: mlp.clone(), optim: OptimConfig::default(), batch, seed };
    let mut trainer = Trainer::new(CpuBackend::new(), config).unwrap();
    let wave = |s: f64| (0..batch * dim).map(move |i| ((i as f64 + s) * 2.17).sin() as f32 * 1.5).collect::<Vec<f32>>();
    let mut pairs = FixedPairs { dim, x0: wave(0.3), x1: wave(1.9) };
    let (loss, norm_sq) = trainer.loss_and_grad(&mut pairs).unwrap();
    let grads = trainer.grads().clone();
    let exact_sq: f64 = grads.iter().map(|&g| g as f64 * g as f64).sum();
    assert!((norm_sq - exact_sq).abs() <= 1e-12 * exact_sq, "‖g‖² {norm_sq} vs {exact_sq}");
    let theta: Vec<f64> = trainer.params().iter().map(|&p| p as f64).collect();
    // The step-0 times, as the trainer draws them.
    let key = rng::stream_key(seed, rng::stream(rng::Purpose::Time, 0));
    let t: Vec<f32> = (0..batch as u64).map(|i| rng::uniform_at(key, i)).collect();

    let f = |th: &[f64]| reference_loss(&mlp, th, &pairs.x0, &pairs.x1, &t);
    let l_ref = f(&theta);
    assert!((loss - l_ref).abs() <= 1e-5 * l_ref, "loss {loss} vs reference {l_ref}");

    let h = 1e-6;
    let mlp_layout = trainer.mlp().clone();
    for tensor in mlp_layout.tensors() {
        let range = tensor.range();
        let fd: Vec<f64> = range
            .clone()
            .map(|j| {
                let mut th = theta.clone();
                th[j] = theta[j] + h;
                let up = f(&th);
                th[j] = theta[j] - h;
                (up - f(&th)) / (2.0 * h)
            })
            .collect();
        let largest = fd.iter().fold(0.0f64, |a, &b| a.max(b.abs()));
        assert!(largest > 1e-4, "{}: gradient vanishes, the check would be empty", tensor.name);
        for (k, j) in range.enumerate() {
            let err = (grads[j] as f64 - fd[k]).abs();
            assert!(
                err <= 2e-4 * largest + 1e-4 * fd[k].abs(),
                "{} entry {k}: backward {} vs finite difference {} (largest {largest})",
                tensor.name,
                grads[j],
                fd[k]
            );
        }
        // The time-embedding columns of layer 0: their gradient must be checked, and nonzero.
        if tensor.name == "layers.0.weight" {
            let cols = dim + embed;
            let time_part = (0..tensor.shape[0]).flat_map(|o| (dim..cols).map(move |c| o * cols + c));
            assert!(time_part.map(|k| fd[k].abs()).fold(0.0, f64::max) > 1e-4, "γ(t) columns carry gradient");
        }
    }
}

#[test]
fn gradients_match_finite_differences_with_two_hidden_layers() {
    check_gradients(vec![5, 4], 4);
}

#[test]
fn gradients_match_finite_differences_with_the_default_embedding() {
    check_gradients(vec![8], 16);
}

#[test]
fn gradients_match_finite_differences_without_hidden_layers() {
    check_gradients(vec![], 2);
}
