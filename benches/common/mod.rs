//! The MLP both training-step benches time (CPU `train_step.rs`, GPU `cuda_step.rs`): its shape, settings,
//! data, and the products of one step.

use flowcollapse::train::{Gemm, MlpConfig, OptimConfig, TrainConfig};

pub const DIM: usize = 784;
pub const EMBED: usize = 16;
pub const HIDDEN: usize = 1024;

pub fn config(batch: usize) -> TrainConfig {
    TrainConfig {
        mlp: MlpConfig { dim: DIM, hidden: vec![HIDDEN, HIDDEN], embed: EMBED },
        optim: OptimConfig::default(),
        batch,
        seed: 1,
    }
}

/// A 1000 × 784 data matrix the pairs are drawn from.
pub fn data() -> Vec<f32> {
    (0..1000 * DIM).map(|i| (i as f32 * 0.37).sin()).collect()
}

/// The products of one step at batch `b`, as `Gemm` shapes (forward, weight gradients, input gradients).
pub fn step_products(b: usize) -> Vec<(&'static str, Gemm)> {
    let ld0 = DIM + EMBED;
    vec![
        ("fwd0_x", Gemm { ldb: ld0, ..Gemm::new(b, HIDDEN, DIM, false, true) }),
        ("fwd0_t", Gemm { ldb: ld0, accumulate: true, ..Gemm::new(b, HIDDEN, EMBED, false, true) }),
        ("fwd1", Gemm::new(b, HIDDEN, HIDDEN, false, true)),
        ("fwd2", Gemm::new(b, DIM, HIDDEN, false, true)),
        ("dw2", Gemm::new(DIM, HIDDEN, b, true, false)),
        ("dx2", Gemm::new(b, HIDDEN, DIM, false, false)),
        ("dw1", Gemm::new(HIDDEN, HIDDEN, b, true, false)),
        ("dx1", Gemm::new(b, HIDDEN, HIDDEN, false, false)),
        ("dw0_x", Gemm { ldc: ld0, ..Gemm::new(HIDDEN, DIM, b, true, false) }),
        ("dw0_t", Gemm { ldc: ld0, ..Gemm::new(HIDDEN, EMBED, b, true, false) }),
    ]
}

pub fn step_flops(b: usize) -> u64 {
    step_products(b).iter().map(|(_, g)| g.flops()).sum::<f64>() as u64
}
