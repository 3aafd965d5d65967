//! The classifier network: an MLP `d → h_1 → … → h_L → classes` with ReLU hidden layers, its flat
//! parameter layout, initialisation, and forward and backward passes on a batch.
//!
//! Parameters live in one f32 vector, tensor after tensor: `layers.0.weight` (`h_1 × d`, row-major, PyTorch's
//! `Linear` layout), `layers.0.bias`, `layers.1.weight`, … The forward pass multiplies by `Wᵀ`, which it
//! lays out once per call ([`Workspace::forward`]) so that every product streams rows (see
//! [`super::kernels::matmul`]); the backward pass uses `W` as stored.

use super::kernels::{matmul, transpose, ALayout};
use super::ClassifierConfig;
use crate::train::model::DenseLayout;
use crate::train::{rng, Backend, CpuBackend};
use rayon::prelude::*;

/// The stream (of [`rng::Purpose::User`]) that initialises tensor `index`.
pub(crate) fn init_stream(index: usize) -> u64 {
    rng::stream(rng::Purpose::User, (1 << 40) | index as u64)
}

/// Flat layout of the classifier's parameters ([`DenseLayout`]; see [`ClassifierConfig::layout`]).
pub type Layout = DenseLayout;

impl ClassifierConfig {
    /// The parameter layout of this config (which should be validated: widths ≥ 1).
    pub fn layout(&self) -> Layout {
        let widths: Vec<usize> = std::iter::once(self.input_dim())
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.classes))
            .collect();
        let dims: Vec<(usize, usize)> = widths.windows(2).map(|w| (w[0], w[1])).collect();
        DenseLayout::new(&dims)
    }
}

/// Deterministic initial parameters ([`DenseLayout::init`]), tensor i on the stream [`init_stream`]`(i)`.
pub fn init_params(layout: &Layout, seed: u64) -> Vec<f32> {
    layout.init(seed, init_stream)
}

/// Buffers for batches of up to `capacity` rows: the transposed weights, every layer's activations, and
/// the backward pass's scratch.
pub struct Workspace {
    capacity: usize,
    /// `W_lᵀ` (in × out) of every layer, refreshed by each forward pass.
    transposed: Vec<Vec<f32>>,
    /// `H_l` (rows × h_l) of every hidden layer, then the logits (rows × classes).
    act: Vec<Vec<f32>>,
    /// Gradient with respect to one layer's output, and to the layer below's.
    grad_out: Vec<f32>,
    grad_in: Vec<f32>,
}

impl Workspace {
    pub fn new(layout: &Layout, capacity: usize) -> Workspace {
        let widest = layout.layers().iter().map(|l| l.output).max().unwrap_or(0);
        Workspace {
            capacity,
            transposed: layout.layers().iter().map(|l| vec![0.0; l.input * l.output]).collect(),
            act: layout.layers().iter().map(|l| vec![0.0; capacity * l.output]).collect(),
            grad_out: vec![0.0; capacity * widest],
            grad_in: vec![0.0; capacity * widest],
        }
    }

    /// Rows the buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forward pass of `rows` inputs `x` (rows × d); returns the logits (rows × classes).
    ///
    /// # Formula
    /// `H_0 = X`, `H_l = ReLU(H_{l−1} W_lᵀ + 1 b_lᵀ)` for the hidden layers, logits `Z = H_L W_{L+1}ᵀ + 1 bᵀ`;
    /// `ReLU(z) = max(z, 0)`. Each product is [`matmul`]'s fixed-order sum, the bias added after it.
    pub fn forward(&mut self, layout: &Layout, params: &[f32], x: &[f32], rows: usize) -> &[f32] {
        self.forward_to(layout, params, x, rows, layout.layers().len());
        let last = layout.layers().last().expect("at least one layer");
        &self.act[layout.layers().len() - 1][..rows * last.output]
    }

    /// The activations `H_L` of the last hidden layer (the penultimate features), rows × h_L; the layers
    /// above it are not computed. Needs at least one hidden layer.
    pub fn features(&mut self, layout: &Layout, params: &[f32], x: &[f32], rows: usize) -> &[f32] {
        let hidden = layout.layers().len() - 1;
        assert!(hidden >= 1, "features need a hidden layer");
        self.forward_to(layout, params, x, rows, hidden);
        &self.act[hidden - 1][..rows * layout.layers()[hidden - 1].output]
    }

    /// Layers `0..count` of the forward pass.
    fn forward_to(&mut self, layout: &Layout, params: &[f32], x: &[f32], rows: usize, count: usize) {
        assert!(rows <= self.capacity, "batch of {rows} rows, workspace for {}", self.capacity);
        let last = layout.layers().len() - 1;
        for (l, slot) in layout.layers().iter().enumerate().take(count) {
            let (below, rest) = self.act.split_at_mut(l);
            let input: &[f32] = if l == 0 { x } else { &below[l - 1] };
            let wt = &mut self.transposed[l];
            transpose(slot.output, slot.input, &params[slot.weight.clone()], wt);
            let out = &mut rest[0][..rows * slot.output];
            matmul(rows, slot.output, slot.input, input, ALayout::RowMajor, wt, out);
            let bias = &params[slot.bias.clone()];
            let relu = l < last;
            out.par_chunks_mut(slot.output).for_each(|row| {
                for (z, &b) in row.iter_mut().zip(bias) {
                    let v = *z + b;
                    *z = if relu && v <= 0.0 { 0.0 } else { v };
                }
            });
        }
    }

    /// Gradient of the loss with respect to every parameter, written into `grads` (flat, like `params`),
    /// given `dlogits = ∂L/∂Z` for the batch of the last [`Workspace::forward`] (same params, x, rows).
    ///
    /// # Formula
    /// From `G_{L+1} = ∂L/∂Z`: `∂b_l = 1ᵀ G_l` (rows added in increasing order), `∂W_l = G_lᵀ H_{l−1}`,
    /// `dH_{l−1} = G_l W_l`, `G_{l−1} = dH_{l−1} ⊙ [H_{l−1} > 0]` (ReLU' taken as 0 at 0); layer 0 reads
    /// `H_{−1} = X` and needs no input gradient.
    pub fn backward(
        &mut self,
        layout: &Layout,
        params: &[f32],
        x: &[f32],
        rows: usize,
        dlogits: &[f32],
        grads: &mut [f32],
    ) {
        let cpu = CpuBackend::new();
        let last = layout.layers().len() - 1;
        self.grad_out[..rows * layout.layers()[last].output]
            .copy_from_slice(&dlogits[..rows * layout.layers()[last].output]);
        for (l, slot) in layout.layers().iter().enumerate().rev() {
            let g = &self.grad_out[..rows * slot.output];
            cpu.column_sum(rows, slot.output, g, &mut grads[slot.bias.clone()]).expect("CPU ops do not fail");
            let input: &[f32] = if l == 0 { x } else { &self.act[l - 1][..rows * slot.input] };
            matmul(slot.output, slot.input, rows, g, ALayout::Transposed, input, &mut grads[slot.weight.clone()]);
            if l == 0 {
                break;
            }
            let d_in = &mut self.grad_in[..rows * slot.input];
            matmul(rows, slot.input, slot.output, g, ALayout::RowMajor, &params[slot.weight.clone()], d_in);
            // Through the ReLU of layer l − 1: its output H was kept, and H > 0 exactly where z > 0.
            d_in.par_chunks_mut(slot.input).zip(self.act[l - 1].par_chunks(slot.input)).for_each(|(d, h)| {
                for (d, &h) in d.iter_mut().zip(h) {
                    if h <= 0.0 {
                        *d = 0.0;
                    }
                }
            });
            std::mem::swap(&mut self.grad_out, &mut self.grad_in);
        }
    }
}
