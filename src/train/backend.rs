//! The `Backend` trait: every numerical operation of training and sampling, each one a future CUDA kernel.
//!
//! Buffers are flat f32 arrays on the device; matrices in them are row-major with an explicit leading
//! dimension, as in BLAS. Operations read [`Backend::View`]s and write [`Backend::ViewMut`]s, sub-ranges of
//! buffers (slices on the CPU; [`DevView`]s, a device pointer and a length, on a GPU), so one flat
//! parameter vector can hold every tensor. Shapes are the caller's contract: a backend checks them and
//! panics on a mismatch, which is a bug in the trainer, never bad user input. What a device can fail at
//! (allocation, a launch, a copy) is a [`BackendError`].
//!
//! Scalars a step needs (the loss, the squared gradient norm) stay on the device in [`Backend::Scalars`]
//! slots until [`Backend::read_scalars`] fetches them all at once: one host round trip per step.
//!
//! Every reduction has a fixed order that does not depend on the number of threads (the CPU reference
//! documents its order per op), so the same seed gives the same numbers on any thread count.

use std::marker::PhantomData;
use std::ops::Range;
use thiserror::Error;

/// What a device can fail at. Shape mismatches are not here: they are bugs and panic.
#[derive(Clone, Debug, Error, PartialEq)]
pub enum BackendError {
    /// The backend cannot run on this machine (no driver, no GPU, not built in).
    #[error("{0}")]
    Unavailable(String),
    /// A driver call failed (allocation, copy, launch, synchronisation).
    #[error("CUDA driver: {0}")]
    Driver(String),
    /// A kernel source did not compile.
    #[error("kernel {kernel} did not compile: {log}")]
    Compile { kernel: String, log: String },
}

/// The result of a backend op.
pub type BResult<T> = Result<T, BackendError>;

/// A read-only range of device memory: a device address and a length in f32 entries. `Copy`, unlike
/// cudarc's views; the lifetime ties it to the buffer it was cut from.
#[derive(Clone, Copy, Debug)]
pub struct DevView<'a> {
    pub ptr: u64,
    pub len: usize,
    pub _buf: PhantomData<&'a ()>,
}

/// A writable range of device memory (see [`DevView`]).
#[derive(Debug)]
pub struct DevViewMut<'a> {
    pub ptr: u64,
    pub len: usize,
    pub _buf: PhantomData<&'a mut ()>,
}

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

    /// Panics unless buffers of these lengths hold A, B and C and the leading dimensions are at least the
    /// row lengths (a bug in the caller, never user input).
    pub fn check(&self, a_len: usize, b_len: usize, c_len: usize) {
        let (la, lb, lc) = self.min_lens();
        for (what, len, need) in [("A", a_len, la), ("B", b_len, lb), ("C", c_len, lc)] {
            assert!(len >= need, "matmul {what}: buffer of {len} entries, the op needs {need}");
        }
        let (a_rows, a_cols) = self.a_shape();
        let (b_rows, b_cols) = self.b_shape();
        assert!(a_cols <= self.lda || a_rows <= 1, "matmul: lda {} below the row length {a_cols}", self.lda);
        assert!(b_cols <= self.ldb || b_rows <= 1, "matmul: ldb {} below the row length {b_cols}", self.ldb);
        assert!(self.n <= self.ldc || self.m <= 1, "matmul: ldc {} below the row length {}", self.ldc, self.n);
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
/// sequence one training step runs. [`super::CpuBackend`] is the reference: every other backend is tested
/// op by op against it.
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
    /// A few f64 slots on the device for reduction results.
    type Scalars;

    /// A name for reports ("cpu", "cuda:0").
    fn name(&self) -> String;

    /// Whether buffers live in host memory that the host fills as cheaply as the device: the trainer then
    /// fills batches on the host instead of uploading the data set once and drawing on the device (the same
    /// numbers either way, see [`super::PairSource::device_parts`]).
    fn host_batches(&self) -> bool {
        false
    }

    // ---- buffers -------------------------------------------------------------------------------------

    /// A buffer of `len` zeros.
    fn zeros(&self, len: usize) -> BResult<Self::Buf>;
    /// A buffer holding a copy of `data`.
    fn upload(&self, data: &[f32]) -> BResult<Self::Buf>;
    /// Copy `data` into the start of `dst` (`data.len() ≤ len(dst)`).
    fn upload_into(&self, data: &[f32], dst: Self::ViewMut<'_>) -> BResult<()>;
    /// Copy a buffer back to the host.
    fn download(&self, src: Self::View<'_>) -> BResult<Vec<f32>>;
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
    fn copy(&self, src: Self::View<'_>, dst: Self::ViewMut<'_>) -> BResult<()>;
    /// `n` scalar slots, zero.
    fn scalars(&self, n: usize) -> BResult<Self::Scalars>;
    /// Every slot, copied to the host (the one synchronisation a training step needs).
    fn read_scalars(&self, s: &Self::Scalars) -> BResult<Vec<f64>>;

    // ---- fills (random ones counter-based, see [`super::rng`]) --------------------------------------

    /// `out[j] = value`.
    fn fill(&self, value: f32, out: Self::ViewMut<'_>) -> BResult<()>;
    /// `out[j] = uniform_at(stream_key(seed, stream), first + j)`: U(0, 1).
    fn fill_uniform(&self, seed: u64, stream: u64, first: u64, out: Self::ViewMut<'_>) -> BResult<()>;
    /// `out[j] = normal_at(stream_key(seed, stream), first + j)`: N(0, 1).
    fn fill_normal(&self, seed: u64, stream: u64, first: u64, out: Self::ViewMut<'_>) -> BResult<()>;
    /// Rows drawn uniformly with replacement: row b of `dst` (rows of `d`) is row
    /// `index_below(bits(stream_key(seed, stream), b), n)` of `src` (n rows of `d`), as the pair sources of
    /// [`super::pairs`] draw their batches.
    fn gather_rows(&self, seed: u64, stream: u64, d: usize, src: Self::View<'_>, dst: Self::ViewMut<'_>)
        -> BResult<()>;

    // ---- network ---------------------------------------------------------------------------------------

    /// `C = op(A)·op(B)` (or `C +=`), see [`Gemm`].
    fn matmul(&self, g: &Gemm, a: Self::View<'_>, b: Self::View<'_>, c: Self::ViewMut<'_>) -> BResult<()>;
    /// Hidden layer activation: with `x = z + b` (per row), `h = SiLU(x) = x·σ(x)`, and `z` is overwritten
    /// with `σ(x)`, which with `h` is all the backward pass needs. `z`, `h`: rows × cols; `bias`: cols.
    fn bias_silu(
        &self,
        rows: usize,
        cols: usize,
        bias: Self::View<'_>,
        z: Self::ViewMut<'_>,
        h: Self::ViewMut<'_>,
    ) -> BResult<()>;
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
    ) -> BResult<()>;
    /// Output layer bias: `y ← y + b` per row (y: rows × cols).
    fn add_bias(&self, rows: usize, cols: usize, bias: Self::View<'_>, y: Self::ViewMut<'_>) -> BResult<()>;
    /// Output layer bias gradient: `db = Σ_rows dy` (increasing row order).
    fn column_sum(&self, rows: usize, cols: usize, dy: Self::View<'_>, db: Self::ViewMut<'_>) -> BResult<()>;
    /// Sinusoidal time embedding of a batch: row r of `out` (rows × width, width even) is γ(t_r), see
    /// [`super::model::time_embedding`].
    fn time_embed(&self, width: usize, t: Self::View<'_>, out: Self::ViewMut<'_>) -> BResult<()>;

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
    ) -> BResult<()>;
    /// MSE loss `L = (1/n) Σ (v − u)²` over all n entries, in f64, into slot `slot` of `out`, and its
    /// gradient `dv = 2(v − u)/n`. Summed in f64 in a fixed order the backend documents.
    fn mse_loss(
        &self,
        v: Self::View<'_>,
        u: Self::View<'_>,
        dv: Self::ViewMut<'_>,
        out: &mut Self::Scalars,
        slot: usize,
    ) -> BResult<()>;

    // ---- optimiser -------------------------------------------------------------------------------------

    /// `Σ g²` in f64 (fixed order) into slot `slot` of `out`, or added to it when `accumulate`.
    fn sum_squares(&self, g: Self::View<'_>, out: &mut Self::Scalars, slot: usize, accumulate: bool) -> BResult<()>;
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
    ) -> BResult<()>;

    // ---- samplers --------------------------------------------------------------------------------------

    /// Euler step in place: `x ← x + h·v`.
    fn euler(&self, h: f32, v: Self::View<'_>, x: Self::ViewMut<'_>) -> BResult<()>;
    /// Euler predictor out of place: `out = x + h·v` (Heun's first stage).
    fn euler_to(&self, h: f32, x: Self::View<'_>, v: Self::View<'_>, out: Self::ViewMut<'_>) -> BResult<()>;
    /// Heun's corrector in place: `x ← x + (h/2)·(v1 + v2)`.
    fn heun(&self, h: f32, v1: Self::View<'_>, v2: Self::View<'_>, x: Self::ViewMut<'_>) -> BResult<()>;
}
