//! Forward and backward passes of the velocity MLP as sequences of [`Backend`] ops.
//!
//! Layer 0 reads `[x ; γ(t)]` without building the concatenation: its weight `W_0 = [W_x  W_γ]` is one
//! `out × (d + E)` tensor, and `Z_0 = X·W_xᵀ + Γ·W_γᵀ` is two products reading the column blocks of `W_0`
//! through the leading dimension `d + E`; its weight gradient is written into the same column blocks.

use super::backend::{BResult, Backend, Gemm};
use super::model::Mlp;

/// Activations of one batch size: what the forward pass keeps for the backward pass, plus scratch.
pub struct Workspace<B: Backend> {
    rows: usize,
    /// Γ: rows × E.
    gamma: B::Buf,
    /// Pre-activations of the hidden layers (rows × out_l), overwritten by `σ(Z_l)` (see `bias_silu`).
    pre: Vec<B::Buf>,
    /// Activations `H_l = SiLU(Z_l)` of the hidden layers.
    act: Vec<B::Buf>,
    /// Network output v: rows × d.
    out: B::Buf,
    /// Backward scratch: gradient w.r.t. a hidden activation, and w.r.t. its pre-activation.
    d_act: B::Buf,
    d_pre: B::Buf,
}

impl<B: Backend> Workspace<B> {
    /// Buffers for batches of `rows` rows.
    pub fn new(backend: &B, mlp: &Mlp, rows: usize) -> BResult<Self> {
        let hidden = &mlp.config().hidden;
        let widest = hidden.iter().copied().max().unwrap_or(0);
        Ok(Workspace {
            rows,
            gamma: backend.zeros(rows * mlp.config().embed)?,
            pre: hidden.iter().map(|&h| backend.zeros(rows * h)).collect::<BResult<_>>()?,
            act: hidden.iter().map(|&h| backend.zeros(rows * h)).collect::<BResult<_>>()?,
            out: backend.zeros(rows * mlp.config().dim)?,
            d_act: backend.zeros(rows * widest)?,
            d_pre: backend.zeros(rows * widest)?,
        })
    }

    /// Batch size the buffers hold.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The output v of the last [`forward`] (rows × d).
    pub fn output(&self) -> &B::Buf {
        &self.out
    }
}

/// `v = MLP_θ([x ; γ(t)])` for a batch; the result is [`Workspace::output`].
///
/// # Formula
/// `H_{−1} = [X ; Γ]`, `Z_l = H_{l−1} W_lᵀ + 1 b_lᵀ`, `H_l = SiLU(Z_l)` for hidden layers, `V = Z_L`
/// (linear output); `SiLU(z) = z σ(z)`, Γ = time embedding of t.
/// `params`: flat parameter vector; `x`: rows × d; `t`: rows.
pub fn forward<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    x: &B::Buf,
    t: &B::Buf,
    ws: &mut Workspace<B>,
) -> BResult<()> {
    let (rows, cfg) = (ws.rows, mlp.config());
    let (d, e) = (cfg.dim, cfg.embed);
    b.time_embed(e, b.slice(t, 0..rows), b.view_mut(&mut ws.gamma))?;
    let layers = mlp.layers();
    let last = layers.len() - 1;
    for (l, slot) in layers.iter().enumerate() {
        let out = if l == last { &mut ws.out } else { &mut ws.pre[l] };
        let w = |range: std::ops::Range<usize>| b.slice(params, range);
        if l == 0 {
            let g = Gemm { ldb: d + e, ..Gemm::new(rows, slot.output, d, false, true) };
            b.matmul(&g, b.slice(x, 0..rows * d), w(slot.weight.clone()), b.view_mut(out))?;
            let g = Gemm { ldb: d + e, accumulate: true, ..Gemm::new(rows, slot.output, e, false, true) };
            b.matmul(&g, b.view(&ws.gamma), w(slot.weight.start + d..slot.weight.end), b.view_mut(out))?;
        } else {
            let g = Gemm::new(rows, slot.output, slot.input, false, true);
            b.matmul(&g, b.view(&ws.act[l - 1]), w(slot.weight.clone()), b.view_mut(out))?;
        }
        if l == last {
            b.add_bias(rows, slot.output, w(slot.bias.clone()), b.view_mut(&mut ws.out))?;
        } else {
            b.bias_silu(
                rows,
                slot.output,
                w(slot.bias.clone()),
                b.view_mut(&mut ws.pre[l]),
                b.view_mut(&mut ws.act[l]),
            )?;
        }
    }
    Ok(())
}

/// Gradient of a loss with respect to every parameter, given `dv = ∂L/∂v` for the batch of the last
/// [`forward`] (same `params`, `x` and workspace); overwrites `grads` (flat, like `params`).
///
/// # Formula
/// From `G_L = dV`: `∂b_l = 1ᵀ G_l`, `∂W_l = G_lᵀ H_{l−1}`, `dH_{l−1} = G_l W_l`,
/// `G_{l−1} = dH_{l−1} ⊙ SiLU'(Z_{l−1})` with `SiLU'(z) = σ(z) + SiLU(z)(1 − σ(z))`; for layer 0,
/// `∂W_0 = [G_0ᵀ X   G_0ᵀ Γ]` and no input gradient.
pub fn backward<B: Backend>(
    b: &B,
    mlp: &Mlp,
    params: &B::Buf,
    x: &B::Buf,
    dv: &B::Buf,
    ws: &mut Workspace<B>,
    grads: &mut B::Buf,
) -> BResult<()> {
    let (rows, cfg) = (ws.rows, mlp.config());
    let (d, e) = (cfg.dim, cfg.embed);
    let layers = mlp.layers();
    let last = layers.len() - 1;
    for (l, slot) in layers.iter().enumerate().rev() {
        let n_out = rows * slot.output;
        // G_l: the output gradient for the last layer, else through SiLU from dH_l.
        let g_l: &B::Buf = if l == last {
            b.column_sum(rows, slot.output, b.slice(dv, 0..n_out), b.slice_mut(grads, slot.bias.clone()))?;
            dv
        } else {
            b.bias_silu_backward(
                rows,
                slot.output,
                b.slice(&ws.pre[l], 0..n_out),
                b.slice(&ws.act[l], 0..n_out),
                b.slice(&ws.d_act, 0..n_out),
                b.slice_mut(&mut ws.d_pre, 0..n_out),
                b.slice_mut(grads, slot.bias.clone()),
            )?;
            &ws.d_pre
        };
        let g_view = b.slice(g_l, 0..n_out);
        if l == 0 {
            let g = Gemm { ldc: d + e, ..Gemm::new(slot.output, d, rows, true, false) };
            b.matmul(&g, g_view, b.slice(x, 0..rows * d), b.slice_mut(grads, slot.weight.clone()))?;
            let g = Gemm { ldc: d + e, ..Gemm::new(slot.output, e, rows, true, false) };
            b.matmul(&g, g_view, b.view(&ws.gamma), b.slice_mut(grads, slot.weight.start + d..slot.weight.end))?;
        } else {
            let g = Gemm::new(slot.output, slot.input, rows, true, false);
            b.matmul(&g, g_view, b.view(&ws.act[l - 1]), b.slice_mut(grads, slot.weight.clone()))?;
            let g = Gemm::new(rows, slot.input, slot.output, false, false);
            b.matmul(
                &g,
                g_view,
                b.slice(params, slot.weight.clone()),
                b.slice_mut(&mut ws.d_act, 0..rows * slot.input),
            )?;
        }
    }
    Ok(())
}
