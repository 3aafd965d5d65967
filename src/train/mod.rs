//! The trainer: flow matching of an MLP velocity field `v_θ(x, t)` on a [`Backend`].
//!
//! Time convention of proofs/flow-*.md: t = 0 noise, t = 1 data, `x_t = t·x1 + (1 − t)·x0`, target
//! `u = x1 − x0`, t ~ U(0, 1) per sample.
//!
//! # Formula
//! Loss of a batch of B pairs in dimension d: `L = (1/(B·d)) Σ_b ‖v_θ(x_t_b, t_b) − u_b‖²`; Adam
//! (bias-corrected) on the gradient clipped to global norm `clip`, then an EMA of the weights.
//!
//! # One training step ([`Trainer::step`]), op by op
//! 1. host: `PairSource::fill(step, x0, x1)`; `upload_into` x0 and x1.
//! 2. `fill_uniform(seed, stream(Time, step))` → t (B).
//! 3. `flow_pairs` → x_t, u (B × d).
//! 4. `time_embed` → Γ (B × E).
//! 5. layer 0: `matmul` `Z = X_t·W_xᵀ`, `matmul` (accumulate) `Z += Γ·W_γᵀ`; then per layer:
//!    `bias_silu` (hidden) and `matmul` `Z_{l+1} = H_l·W_{l+1}ᵀ`; last layer `add_bias` → v.
//! 6. `mse_loss(v, u)` → L (host scalar, checked finite) and dv.
//! 7. last layer: `column_sum` → ∂b_L, `matmul` → ∂W_L, `matmul` → dH_{L−1}; each hidden layer l:
//!    `bias_silu_backward` → G_l and ∂b_l, `matmul` → ∂W_l, and for l > 0 `matmul` → dH_{l−1};
//!    layer 0's ∂W is two `matmul`s (x and γ column blocks); after each layer's gradients,
//!    `sum_squares` over that layer's weight and bias.
//! 8. ‖g‖² = the per-layer sums added from the last layer to the first (host scalar, checked finite).
//! 9. `adam_ema` (one fused pass over the flat parameters, moments and EMA).
//!
//! For the 784 → [1024, 1024] → 784 MLP that is 8 large products per step (3 forward, 3 weight
//! gradients, 2 input gradients) plus 2 small ones for the time embedding columns.
//!
//! Modules: [`backend`] (the op trait), [`cpu`] (the reference backend), [`rng`] (counter-based random
//! numbers), [`model`] (shape, layout, initialisation, time embedding), [`net`] (forward/backward as op
//! sequences), [`optim`] (hyperparameters), [`pairs`] (where (x0, x1) come from), [`trainer`] (state and step), [`sampler`] (Euler/Heun,
//! forward and reverse, NFE, straightness).

pub mod backend;
pub mod couplings;
pub mod cpu;
pub mod error;
pub mod kernels;
pub mod model;
pub mod net;
pub mod optim;
pub mod pairs;
pub mod persist;
pub mod rng;
pub mod sampler;
pub mod trainer;

pub use backend::{AdamStep, BResult, Backend, BackendError, DevView, DevViewMut, Gemm};
pub use cpu::CpuBackend;
pub use error::TrainError;
#[cfg(feature = "cuda")]
pub use kernels::CudaBackend;
#[cfg(feature = "kernel-shim")]
pub use kernels::ShimBackend;
pub use model::{Mlp, MlpConfig, TensorInfo};
pub use net::Workspace;
pub use optim::{OptimConfig, TrainConfig};
pub use pairs::{CoupledPairs, DeviceDraw, DevicePart, IndependentPairs, MixedPairs, PairSource};
pub use trainer::{StepStats, TrainState, Trainer};
