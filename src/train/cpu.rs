//! The CPU reference backend: `Vec<f32>` buffers, matrix products through `gemm`, element-wise ops and
//! reductions through rayon over fixed chunks.
//!
//! Buffers are plain `Vec<f32>` and views plain slices rather than ndarray arrays: every op indexes its
//! operands explicitly with row lengths and leading dimensions, exactly as the CUDA kernels that mirror
//! these functions will, and the flat parameter vector needs sub-slices, not shaped arrays.
//!
//! Determinism: element-wise ops write each entry from its own inputs only, so chunking cannot change
//! them. Reductions use fixed blocks of [`BLOCK`] entries; within a block [`LANES`] partial sums in f64
//! take every `LANES`-th entry, are added lane 0 first, and the block sums are added in block order. Column
//! sums add rows in increasing order. `gemm` splits the output into tiles between threads and keeps the
//! `k` loop of every tile whole and in order, so its results do not depend on the thread count either
//! (checked by `tests/train_ops.rs`).

use super::backend::{AdamStep, BResult, Backend, Gemm};
use super::model::time_embedding;
use super::rng;
use gemm::Parallelism;
use rayon::prelude::*;
use std::ops::Range;

/// Entries per reduction block (and per parallel chunk of element-wise ops).
pub const BLOCK: usize = 4096;
/// Independent f64 partial sums inside one reduction block (lets the sum vectorise).
pub const LANES: usize = 8;
/// Products with fewer multiply-adds than this run on the calling thread.
const PARALLEL_GEMM_MIN: usize = 1 << 18;

/// The CPU reference backend. Parallel work runs on the current rayon pool (wrap calls in
/// `ThreadPool::install` to choose the thread count).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuBackend;

impl CpuBackend {
    pub fn new() -> Self {
        CpuBackend
    }
}

/// Σ x² over one block, in the lane order of the module doc.
#[inline]
fn block_sum_squares(x: &[f32]) -> f64 {
    let mut lanes = [0.0f64; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (acc, &v) in lanes.iter_mut().zip(c) {
            *acc += v as f64 * v as f64;
        }
    }
    for (acc, &v) in lanes.iter_mut().zip(chunks.remainder()) {
        *acc += v as f64 * v as f64;
    }
    lanes.iter().sum()
}

/// `e^x` in f32 without a library call, so loops over it vectorise.
///
/// # Formula
/// `x = n ln 2 + r` with `n = round(x / ln 2)`, `|r| ≤ ln2/2` (ln 2 split in two parts so `r` is exact to
/// f32 rounding); `e^r` by its Taylor polynomial to degree 7 (remainder `≤ (ln2/2)⁸/8! ≈ 5.7·10⁻⁹`, below
/// f32's unit roundoff); `2ⁿ` built in the exponent bits. `x` is clamped to [−87, 88] first, so `2ⁿ` stays a
/// normal number (results below e⁻⁸⁷ ≈ 1.6·10⁻³⁸ are returned as that value, above e⁸⁸ as e⁸⁸).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // 0x3f318000: ln 2 rounded to 12 significant bits, so n·LN2_HI is exact.
    const LN2_LO: f32 = -2.121_944_4e-4; // ln 2 − LN2_HI.
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = p * r + c;
    }
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Logistic function σ(z) = 1 / (1 + e^{−z}).
#[inline(always)]
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-z))
}

fn check_len(what: &str, len: usize, need: usize) {
    assert!(len >= need, "{what}: buffer of {len} entries, the op needs {need}");
}

impl Backend for CpuBackend {
    type Buf = Vec<f32>;
    type View<'a> = &'a [f32];
    type ViewMut<'a> = &'a mut [f32];
    type Scalars = Vec<f64>;

    fn name(&self) -> String {
        "cpu".into()
    }

    fn host_batches(&self) -> bool {
        true
    }

    fn zeros(&self, len: usize) -> BResult<Vec<f32>> {
        Ok(vec![0.0; len])
    }

    fn upload(&self, data: &[f32]) -> BResult<Vec<f32>> {
        Ok(data.to_vec())
    }

    fn upload_into(&self, data: &[f32], dst: &mut [f32]) -> BResult<()> {
        dst[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn download(&self, src: &[f32]) -> BResult<Vec<f32>> {
        Ok(src.to_vec())
    }

    fn len(&self, buf: &Vec<f32>) -> usize {
        buf.len()
    }

    fn slice<'a>(&self, buf: &'a Vec<f32>, range: Range<usize>) -> &'a [f32] {
        &buf[range]
    }

    fn slice_mut<'a>(&self, buf: &'a mut Vec<f32>, range: Range<usize>) -> &'a mut [f32] {
        &mut buf[range]
    }

    fn copy(&self, src: &[f32], dst: &mut [f32]) -> BResult<()> {
        dst.copy_from_slice(src);
        Ok(())
    }

    fn scalars(&self, n: usize) -> BResult<Vec<f64>> {
        Ok(vec![0.0; n])
    }

    fn read_scalars(&self, s: &Vec<f64>) -> BResult<Vec<f64>> {
        Ok(s.clone())
    }

    fn fill(&self, value: f32, out: &mut [f32]) -> BResult<()> {
        out.fill(value);
        Ok(())
    }

    fn fill_uniform(&self, seed: u64, stream: u64, first: u64, out: &mut [f32]) -> BResult<()> {
        let key = rng::stream_key(seed, stream);
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(c, chunk)| rng::uniform_slice(key, first + (c * BLOCK) as u64, chunk));
        Ok(())
    }

    fn fill_normal(&self, seed: u64, stream: u64, first: u64, out: &mut [f32]) -> BResult<()> {
        let key = rng::stream_key(seed, stream);
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(c, chunk)| rng::normal_slice(key, first + (c * BLOCK) as u64, chunk));
        Ok(())
    }

    fn gather_rows(&self, seed: u64, stream: u64, d: usize, src: &[f32], dst: &mut [f32]) -> BResult<()> {
        assert!(d > 0 && src.len() >= d && dst.len().is_multiple_of(d), "gather_rows: rows of {d}");
        let (key, n) = (rng::stream_key(seed, stream), (src.len() / d) as u64);
        dst.par_chunks_mut(d).enumerate().for_each(|(b, row)| {
            let r = rng::index_below(rng::bits(key, b as u64), n) as usize;
            row.copy_from_slice(&src[r * d..(r + 1) * d]);
        });
        Ok(())
    }

    fn matmul(&self, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) -> BResult<()> {
        g.check(a.len(), b.len(), c.len());
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        // op(A)[i, l]: row-major A at i·lda + l, or transposed at l·lda + i; likewise B. gemm takes
        // (column stride, row stride) pairs.
        let (a_cs, a_rs) = if g.trans_a { (g.lda as isize, 1) } else { (1, g.lda as isize) };
        let (b_cs, b_rs) = if g.trans_b { (g.ldb as isize, 1) } else { (1, g.ldb as isize) };
        let parallelism = if g.m * g.n * g.k >= PARALLEL_GEMM_MIN && rayon::current_num_threads() > 1 {
            Parallelism::Rayon(rayon::current_num_threads())
        } else {
            Parallelism::None
        };
        // SAFETY: the length checks above bound every index the shapes and strides can reach, and C does
        // not alias A or B (a &mut slice cannot).
        unsafe {
            gemm::gemm(
                g.m,
                g.n,
                g.k,
                c.as_mut_ptr(),
                1,
                g.ldc as isize,
                g.accumulate,
                a.as_ptr(),
                a_cs,
                a_rs,
                b.as_ptr(),
                b_cs,
                b_rs,
                if g.accumulate { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        Ok(())
    }

    fn bias_silu(&self, rows: usize, cols: usize, bias: &[f32], z: &mut [f32], h: &mut [f32]) -> BResult<()> {
        let n = rows * cols;
        check_len("bias_silu bias", bias.len(), cols);
        check_len("bias_silu z", z.len(), n);
        check_len("bias_silu h", h.len(), n);
        z[..n].par_chunks_mut(cols).zip(h[..n].par_chunks_mut(cols)).for_each(|(zr, hr)| {
            for ((z, h), &b) in zr.iter_mut().zip(hr).zip(bias) {
                let x = *z + b;
                let s = sigmoid(x);
                *h = x * s;
                *z = s;
            }
        });
        Ok(())
    }

    fn bias_silu_backward(
        &self,
        rows: usize,
        cols: usize,
        s: &[f32],
        h: &[f32],
        dh: &[f32],
        dz: &mut [f32],
        db: &mut [f32],
    ) -> BResult<()> {
        let n = rows * cols;
        check_len("bias_silu_backward s", s.len(), n);
        check_len("bias_silu_backward h", h.len(), n);
        check_len("bias_silu_backward dh", dh.len(), n);
        check_len("bias_silu_backward dz", dz.len(), n);
        check_len("bias_silu_backward db", db.len(), cols);
        // SiLU'(z) = σ + zσ(1 − σ) = σ + h(1 − σ): no exponential needed.
        dz[..n]
            .par_chunks_mut(BLOCK)
            .zip(s[..n].par_chunks(BLOCK))
            .zip(h[..n].par_chunks(BLOCK).zip(dh[..n].par_chunks(BLOCK)))
            .for_each(|((dz, s), (h, dh))| {
                for j in 0..dz.len() {
                    dz[j] = dh[j] * (s[j] + h[j] * (1.0 - s[j]));
                }
            });
        self.column_sum(rows, cols, &dz[..n], db)
    }

    fn add_bias(&self, rows: usize, cols: usize, bias: &[f32], y: &mut [f32]) -> BResult<()> {
        let n = rows * cols;
        check_len("add_bias bias", bias.len(), cols);
        check_len("add_bias y", y.len(), n);
        y[..n].par_chunks_mut(cols).for_each(|yr| {
            for (y, &b) in yr.iter_mut().zip(bias) {
                *y += b;
            }
        });
        Ok(())
    }

    fn column_sum(&self, rows: usize, cols: usize, dy: &[f32], db: &mut [f32]) -> BResult<()> {
        check_len("column_sum dy", dy.len(), rows * cols);
        check_len("column_sum db", db.len(), cols);
        // Column blocks in parallel; inside a block rows are added in increasing order, so each column's
        // sum is the same sequential f32 sum whatever the split.
        const COLS: usize = 64;
        db[..cols].par_chunks_mut(COLS).enumerate().for_each(|(c, out)| {
            let c0 = c * COLS;
            out.fill(0.0);
            for r in 0..rows {
                let row = &dy[r * cols + c0..r * cols + c0 + out.len()];
                for (o, &v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
        });
        Ok(())
    }

    fn time_embed(&self, width: usize, t: &[f32], out: &mut [f32]) -> BResult<()> {
        check_len("time_embed out", out.len(), t.len() * width);
        out[..t.len() * width].par_chunks_mut(width).zip(t.par_iter()).for_each(|(row, &t)| time_embedding(t, row));
        Ok(())
    }

    fn flow_pairs(&self, d: usize, x0: &[f32], x1: &[f32], t: &[f32], xt: &mut [f32], u: &mut [f32]) -> BResult<()> {
        let n = t.len() * d;
        for (what, len) in [("x0", x0.len()), ("x1", x1.len()), ("xt", xt.len()), ("u", u.len())] {
            check_len(&format!("flow_pairs {what}"), len, n);
        }
        xt[..n].par_chunks_mut(d).zip(u[..n].par_chunks_mut(d)).enumerate().for_each(|(r, (xr, ur))| {
            let s = t[r];
            let (a, b) = (&x0[r * d..(r + 1) * d], &x1[r * d..(r + 1) * d]);
            for j in 0..d {
                xr[j] = s * b[j] + (1.0 - s) * a[j];
                ur[j] = b[j] - a[j];
            }
        });
        Ok(())
    }

    fn mse_loss(&self, v: &[f32], u: &[f32], dv: &mut [f32], out: &mut Vec<f64>, slot: usize) -> BResult<()> {
        let n = v.len();
        check_len("mse_loss u", u.len(), n);
        check_len("mse_loss dv", dv.len(), n);
        let scale = 2.0 / n as f32;
        let blocks: Vec<f64> = dv[..n]
            .par_chunks_mut(BLOCK)
            .zip(v.par_chunks(BLOCK).zip(u[..n].par_chunks(BLOCK)))
            .map(|(d, (v, u))| {
                for ((d, &v), &u) in d.iter_mut().zip(v).zip(u) {
                    *d = v - u;
                }
                let s = block_sum_squares(d);
                for d in d.iter_mut() {
                    *d *= scale;
                }
                s
            })
            .collect();
        out[slot] = blocks.iter().sum::<f64>() / n as f64;
        Ok(())
    }

    fn sum_squares(&self, g: &[f32], out: &mut Vec<f64>, slot: usize, accumulate: bool) -> BResult<()> {
        let blocks: Vec<f64> = g.par_chunks(BLOCK).map(block_sum_squares).collect();
        let sum: f64 = blocks.iter().sum();
        out[slot] = if accumulate { out[slot] + sum } else { sum };
        Ok(())
    }

    fn adam_ema(
        &self,
        s: &AdamStep,
        params: &mut [f32],
        grads: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        ema: &mut [f32],
    ) -> BResult<()> {
        let n = params.len();
        for (what, len) in [("grads", grads.len()), ("m", m.len()), ("v", v.len()), ("ema", ema.len())] {
            check_len(&format!("adam_ema {what}"), len, n);
        }
        let s = *s;
        params
            .par_chunks_mut(BLOCK)
            .zip(m[..n].par_chunks_mut(BLOCK))
            .zip(v[..n].par_chunks_mut(BLOCK))
            .zip(ema[..n].par_chunks_mut(BLOCK))
            .zip(grads[..n].par_chunks(BLOCK))
            .for_each(|((((p, m), v), e), g)| {
                for j in 0..p.len() {
                    let g = s.grad_scale * g[j];
                    let mj = s.beta1 * m[j] + (1.0 - s.beta1) * g;
                    let vj = s.beta2 * v[j] + (1.0 - s.beta2) * (g * g);
                    let pj = p[j] - s.lr * (mj / s.bias1) / ((vj / s.bias2).sqrt() + s.eps);
                    m[j] = mj;
                    v[j] = vj;
                    p[j] = pj;
                    e[j] = s.ema_decay * e[j] + (1.0 - s.ema_decay) * pj;
                }
            });
        Ok(())
    }

    fn euler(&self, h: f32, v: &[f32], x: &mut [f32]) -> BResult<()> {
        check_len("euler v", v.len(), x.len());
        x.par_chunks_mut(BLOCK).zip(v.par_chunks(BLOCK)).for_each(|(x, v)| {
            for (x, &v) in x.iter_mut().zip(v) {
                *x += h * v;
            }
        });
        Ok(())
    }

    fn euler_to(&self, h: f32, x: &[f32], v: &[f32], out: &mut [f32]) -> BResult<()> {
        check_len("euler_to x", x.len(), out.len());
        check_len("euler_to v", v.len(), out.len());
        out.par_chunks_mut(BLOCK).zip(x.par_chunks(BLOCK).zip(v.par_chunks(BLOCK))).for_each(|(o, (x, v))| {
            for ((o, &x), &v) in o.iter_mut().zip(x).zip(v) {
                *o = x + h * v;
            }
        });
        Ok(())
    }

    fn heun(&self, h: f32, v1: &[f32], v2: &[f32], x: &mut [f32]) -> BResult<()> {
        check_len("heun v1", v1.len(), x.len());
        check_len("heun v2", v2.len(), x.len());
        let half = 0.5 * h;
        x.par_chunks_mut(BLOCK).zip(v1.par_chunks(BLOCK).zip(v2.par_chunks(BLOCK))).for_each(|(x, (a, b))| {
            for ((x, &a), &b) in x.iter_mut().zip(a).zip(b) {
                *x += half * (a + b);
            }
        });
        Ok(())
    }
}
