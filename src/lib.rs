//! flowcollapse: model collapse in rectified-flow models.
//!
//! Data flows one way: **config → theory or simulation → records → plots**.
//! - [`theory`]: closed forms (pure, f64, nalgebra).
//! - [`sim`]: Monte Carlo of the same recursions with finite samples.
//! - [`data`]: datasets for the trainer (IDX, CIFAR-10, embedded Fashion-MNIST subset) and Gaussian vector data.
//! - [`classifier`]: the project's own small image classifier, whose penultimate features define FD-classifier.
//! - [`checkpoint`]: safetensors checkpoints (named f32 tensors + metadata), written atomically.
//! - [`experiment`]: validated run configurations and the sweeps that tie theory and simulation together.
//! - [`report`]: records (CSV, JSON, JSON lines), plots and the run directory.
//! - [`metrics`]: collapse metrics per generation (moments, Fréchet distance in a named feature space,
//!   k-NN precision/recall, straightness) on f32 sample matrices.
//! - [`linalg`]: the few dense kernels the simulation needs (matrix products via `gemm`).
//! - [`train`]: flow-matching training of an MLP velocity field on a `Backend` (CPU reference).

pub mod checkpoint;
pub mod classifier;
pub mod data;
pub mod experiment;
pub mod invalid;
pub mod linalg;
pub mod metrics;
pub mod report;
pub mod sim;
pub mod theory;
pub mod train;
