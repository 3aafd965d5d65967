//! The `Backend` trait: every numerical operation of training and sampling, each one a future CUDA kernel.
//!
//! Buffers are flat f32 arrays on the device; matrices in them are row-major with an explicit leading
//! dimension, as in BLAS. Operations read [`Backend::View`]s and write [`Backend::ViewMut`]s, sub-ranges of
//! buffers (cudarc's `CudaView`/`CudaViewMut` on a GPU, slices on the CPU), so one flat parameter vector can
//! hold every tensor. Shapes are the caller's contract: a backend checks them and panics on a mismatch,
//! which is a bug in the trainer, never bad user input.
//!
//! Every reduction has a fixed order that does not depend on the number of threads (the CPU reference
//! documents its order per op), so the same seed gives the same numbers on any thread count.

use std::ops::Range;

/// One matrix product `C = op(A)·op(B)` or `C += op(A)·op(B)` on row-major matrices.
///
/// `op(A)` is m × k and `op(B)` is k × n. Without transpose A is stored m × k with rows `lda` apart; with
/// `trans_a` it is stored k × m (rows `lda` apart) and read transposed; likewise B. C is m × n with rows
/// `ldc` apart. The three products of a linear layer `Y = X·Wᵀ` (X: batch × in, W: out × in) are
/// forward `X·Wᵀ` (`trans_b`), input gradient `dX = dY·W`, weight gradient `dW = dYᵀ·X` (`trans_a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
    /// `C += …` instead of `C = …`.
    pub accumulate: bool,
}

impl Gemm {
    /// Dense operands (leading dimension = row length), `C = op(A)·op(B)`.
    pub fn new(m: usize, n: usize, k: usize, trans_a: bool, trans_b: bool) -> Self {
        let lda = if trans_a { m } else { k };
        let ldb = if trans_b { k } else { n };
        Gemm { m, n, k, trans_a, trans_b, lda, ldb, ldc: n, accumulate: false }
    }

    /// Rows and columns of A and B as stored.
    pub fn a_shape(&self) -> (usize, usize) {
        if self.trans_a {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        }
    }

    /// Rows and columns of B as stored.
    pub fn b_shape(&self) -> (usize, usize) {
        if self.trans_b {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        }
    }

    /// The smallest buffer lengths that hold A, B and C with their leading dimensions.
    pub fn min_lens(&self) -> (usize, usize, usize) {
        let span = |(rows, cols): (usize, usize), ld: usize| if rows == 0 { 0 } else { (rows - 1) * ld + cols };
        (span(self.a_shape(), self.lda), span(self.b_shape(), self.ldb), span((self.m, self.n), self.ldc))
    }

    /// Floating-point operations of the product, counted as `2·m·n·k`.
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }
}

/// The scalars of one fused clip + Adam + EMA update (step number `t ≥ 1`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// The factor every gradient is multiplied by first: `min(1, clip / ‖g‖)` (1 without clipping).
    pub grad_scale: f32,
    /// Bias corrections `1 − β1ᵗ` and `1 − β2ᵗ`, computed by the caller in f64 and rounded.
    pub bias1: f32,
    pub bias2: f32,
    /// EMA decay δ: `e ← δ·e + (1 − δ)·p`.
    pub ema_decay: f32,
}

/// The operations a training/sampling device provides. See the module doc of [`crate::train`] for the
/// sequence one training step runs.
pub trait Backend {
    /// An owned f32 buffer on the device.
    type Buf;
    /// A read-only range of a buffer.
    type View<'a>: Copy
    where
        Self: 'a;
    /// A writable range of a buffer.
    type ViewMut<'a>
    where
        Self: 'a;

    /// A name for reports ("cpu", "cuda:0").
    fn name(&self) -> String;

    // ---- buffers -------------------------------------------------------------------------------------

    /// A buffer of `len` zeros.
    fn zeros(&self, len: usize) -> Self::Buf;
    /// A buffer holding a copy of `data`.
    fn upload(&self, data: &[f32]) -> Self::Buf;
    /// Copy `data` into the start of `dst` (`data.len() ≤ len(dst)`).
    fn upload_into(&self, data: &[f32], dst: Self::ViewMut<'_>);
    /// Copy a buffer back to the host.
    fn download(&self, src: Self::View<'_>) -> Vec<f32>;
    /// Length of a buffer.
    fn len(&self, buf: &Self::Buf) -> usize;
    /// The whole buffer, read-only.
    fn view<'a>(&self, buf: &'a Self::Buf) -> Self::View<'a> {
        let n = self.len(buf);
        self.slice(buf, 0..n)
    }
    /// The whole buffer, writable.
    fn view_mut<'a>(&self, buf: &'a mut Self::Buf) -> Self::ViewMut<'a> {
        let n = self.len(buf);
        self.slice_mut(buf, 0..n)
    }
    /// A read-only range of a buffer.
    fn slice<'a>(&self, buf: &'a Self::Buf, range: Range<usize>) -> Self::View<'a>;
    /// A writable range of a buffer.
    fn slice_mut<'a>(&self, buf: &'a mut Self::Buf, range: Range<usize>) -> Self::ViewMut<'a>;
    /// `dst ← src` (equal lengths).
    fn copy(&self, src: Self::View<'_>, dst: Self::ViewMut<'_>);

    // ---- random fills (counter-based, see [`super::rng`]) ------------------------------------------

    /// `out[j] = uniform_at(stream_key(seed, stream), first + j)`: U(0, 1).
    fn fill_uniform(&self, seed: u64, stream: u64, first: u64, out: Self::ViewMut<'_>);
    /// `out[j] = normal_at(stream_key(seed, stream), first + j)`: N(0, 1).
    fn fill_normal(&self, seed: u64, stream: u64, first: u64, out: Self::ViewMut<'_>);

    // ---- network ---------------------------------------------------------------------------------------

    /// `C = op(A)·op(B)` (or `C +=`), see [`Gemm`].
    fn matmul(&self, g: &Gemm, a: Self::View<'_>, b: Self::View<'_>, c: Self::ViewMut<'_>);
    /// Hidden layer activation: with `x = z + b` (per row), `h = SiLU(x) = x·σ(x)`, and `z` is overwritten
    /// with `σ(x)`, which with `h` is all the backward pass needs. `z`, `h`: rows × cols; `bias`: cols.
    fn bias_silu(&self, rows: usize, cols: usize, bias: Self::View<'_>, z: Self::ViewMut<'_>, h: Self::ViewMut<'_>);
    /// Backward of [`Backend::bias_silu`] from its outputs `s = σ(x)` and `h`: `dz = dh ⊙ (s + h(1 − s))`
    /// (= `dh ⊙ SiLU'(x)`) and `db = Σ_rows dz` (column sums, each over rows in increasing row order).
    #[allow(clippy::too_many_arguments)]
    fn bias_silu_backward(
        &self,
        rows: usize,
        cols: usize,
        s: Self::View<'_>,
        h: Self::View<'_>,
        dh: Self::View<'_>,
        dz: Self::ViewMut<'_>,
        db: Self::ViewMut<'_>,
    );
    /// Output layer bias: `y ← y + b` per row (y: rows × cols).
    fn add_bias(&self, rows: usize, cols: usize, bias: Self::View<'_>, y: Self::ViewMut<'_>);
    /// Output layer bias gradient: `db = Σ_rows dy` (increasing row order).
    fn column_sum(&self, rows: usize, cols: usize, dy: Self::View<'_>, db: Self::ViewMut<'_>);
    /// Sinusoidal time embedding of a batch: row r of `out` (rows × width, width even) is γ(t_r), see
    /// [`super::model::time_embedding`].
    fn time_embed(&self, width: usize, t: Self::View<'_>, out: Self::ViewMut<'_>);

    // ---- flow matching ---------------------------------------------------------------------------------

    /// `x_t = t·x1 + (1 − t)·x0` and `u = x1 − x0`, row r using `t[r]` (x0, x1, xt, u: rows × d).
    fn flow_pairs(
        &self,
        d: usize,
        x0: Self::View<'_>,
        x1: Self::View<'_>,
        t: Self::View<'_>,
        xt: Self::ViewMut<'_>,
        u: Self::ViewMut<'_>,
    );
    /// MSE loss `L = (1/n) Σ (v − u)²` over all n entries, returned in f64, and its gradient
    /// `dv = 2(v − u)/n`. Summation order: fixed blocks of entries, then the blocks in order.
    fn mse_loss(&self, v: Self::View<'_>, u: Self::View<'_>, dv: Self::ViewMut<'_>) -> f64;

    // ---- optimiser -------------------------------------------------------------------------------------

    /// `Σ g²` in f64 (fixed blocks, then the blocks in order).
    fn sum_squares(&self, g: Self::View<'_>) -> f64;
    /// One fused pass of clip + Adam + EMA over the flat parameter vector, entry by entry:
    /// `g ← s·g; m ← β1 m + (1−β1) g; v ← β2 v + (1−β2) g²; p ← p − lr·(m/c1)/(√(v/c2) + ε);
    /// e ← δ e + (1−δ) p`, with s, c1, c2, δ from [`AdamStep`].
    fn adam_ema(
        &self,
        step: &AdamStep,
        params: Self::ViewMut<'_>,
        grads: Self::View<'_>,
        m: Self::ViewMut<'_>,
        v: Self::ViewMut<'_>,
        ema: Self::ViewMut<'_>,
    );

    // ---- samplers --------------------------------------------------------------------------------------

    /// Euler step in place: `x ← x + h·v`.
    fn euler(&self, h: f32, v: Self::View<'_>, x: Self::ViewMut<'_>);
    /// Euler predictor out of place: `out = x + h·v` (Heun's first stage).
    fn euler_to(&self, h: f32, x: Self::View<'_>, v: Self::View<'_>, out: Self::ViewMut<'_>);
    /// Heun's corrector in place: `x ← x + (h/2)·(v1 + v2)`.
    fn heun(&self, h: f32, v1: Self::View<'_>, v2: Self::View<'_>, x: Self::ViewMut<'_>);
}
