//! Portable dense kernels: results that are the same bytes on every CPU, thread count and SIMD width.
//!
//! The shipped classifier weights must be reproducible bit for bit by anyone who runs the recipe, so the
//! training path avoids everything whose rounding depends on the machine: BLAS kernels (their k-blocking
//! follows the detected cache sizes, and FMA is used where present), and the platform's `exp`. What is
//! left is IEEE-754 `+`, `×`, `/`, `√` in a fixed order, which every conforming CPU rounds identically.
//! Rust never contracts `a·b + c` into a fused multiply-add on its own, so the compiler's vectorisation of
//! the loops below cannot change a single bit; the AVX2 build only does more of the same operations at once.

use rayon::prelude::*;

/// Rows of C per register tile (and per parallel task's unit of work).
const TILE_ROWS: usize = 4;
/// Columns of C per register tile.
const TILE_COLS: usize = 16;
/// Rows of C per parallel task.
const TASK_ROWS: usize = 4 * TILE_ROWS;

/// How A is stored for [`matmul`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ALayout {
    /// A is m × k, row-major.
    RowMajor,
    /// A is stored k × m, row-major, and read transposed (Aᵀ of the stored matrix).
    Transposed,
}

/// `C = op(A)·B` with C m × n and B k × n, all row-major and dense.
///
/// # Formula
/// `C[i, j] = (…((0 + a(i,0)·B[0,j]) + a(i,1)·B[1,j]) + …) + a(i,k−1)·B[k−1,j]`: every product rounded to
/// f32, then added in increasing `l`, so each entry is one fixed sequence of f32 operations whatever the
/// tiling, the thread count or the SIMD width. `a(i,l) = A[i,l]` (row-major) or `A[l,i]` (transposed).
///
/// Panics when a buffer is shorter than its shape (a bug in the caller, never user input).
pub fn matmul(m: usize, n: usize, k: usize, a: &[f32], layout: ALayout, b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "matmul: buffers shorter than {m}×{k}·{k}×{n}");
    if m == 0 || n == 0 {
        return;
    }
    let operands = Operands { m, n, k, a, layout, b };
    c[..m * n].par_chunks_mut(TASK_ROWS * n).enumerate().for_each(|(task, rows)| {
        let first = task * TASK_ROWS;
        block(&operands, first, rows);
    });
}

struct Operands<'a> {
    m: usize,
    n: usize,
    k: usize,
    a: &'a [f32],
    layout: ALayout,
    b: &'a [f32],
}

impl Operands<'_> {
    #[inline(always)]
    fn a(&self, i: usize, l: usize) -> f32 {
        match self.layout {
            ALayout::RowMajor => self.a[i * self.k + l],
            ALayout::Transposed => self.a[l * self.m + i],
        }
    }
}

/// Rows `first…` of C (as many as `c` holds), with the widest instruction set the CPU offers.
fn block(op: &Operands<'_>, first: usize, c: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { block_avx2(op, first, c) };
        return;
    }
    block_generic(op, first, c);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_avx2(op: &Operands<'_>, first: usize, c: &mut [f32]) {
    block_generic(op, first, c);
}

#[inline(always)]
fn block_generic(op: &Operands<'_>, first: usize, c: &mut [f32]) {
    let n = op.n;
    let rows = c.len() / n;
    let mut r = 0;
    while r + TILE_ROWS <= rows {
        let mut j = 0;
        while j + TILE_COLS <= n {
            tile(op, first + r, j, &mut c[r * n..]);
            j += TILE_COLS;
        }
        for rr in r..r + TILE_ROWS {
            edge(op, first + rr, j..n, &mut c[rr * n..(rr + 1) * n]);
        }
        r += TILE_ROWS;
    }
    for rr in r..rows {
        edge(op, first + rr, 0..n, &mut c[rr * n..(rr + 1) * n]);
    }
}

/// One `TILE_ROWS × TILE_COLS` tile of C at (row `i0`, column `j0`), its sums held in registers.
#[inline(always)]
fn tile(op: &Operands<'_>, i0: usize, j0: usize, c: &mut [f32]) {
    let n = op.n;
    let mut acc = [[0.0f32; TILE_COLS]; TILE_ROWS];
    for l in 0..op.k {
        let brow: &[f32; TILE_COLS] = op.b[l * n + j0..l * n + j0 + TILE_COLS].try_into().expect("tile width");
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a = op.a(i0 + r, l);
            for (s, &bv) in acc_r.iter_mut().zip(brow) {
                *s += a * bv;
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        c[r * n + j0..r * n + j0 + TILE_COLS].copy_from_slice(acc_r);
    }
}

/// Row `i` of C over the columns `cols`, in the same operation order as [`tile`].
#[inline(always)]
fn edge(op: &Operands<'_>, i: usize, cols: std::ops::Range<usize>, c_row: &mut [f32]) {
    let n = op.n;
    let out = &mut c_row[cols.clone()];
    out.fill(0.0);
    for l in 0..op.k {
        let a = op.a(i, l);
        for (s, &bv) in out.iter_mut().zip(&op.b[l * n + cols.start..l * n + cols.end]) {
            *s += a * bv;
        }
    }
}

/// `dst = srcᵀ`: src is rows × cols row-major, dst cols × rows.
pub fn transpose(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    assert!(src.len() >= rows * cols && dst.len() >= rows * cols, "transpose: buffers shorter than {rows}×{cols}");
    if rows == 0 || cols == 0 {
        return;
    }
    dst[..rows * cols].par_chunks_mut(rows).enumerate().for_each(|(j, out)| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = src[i * cols + j];
        }
    });
}

/// `e^x` from `+`, `×` and exact scaling only, so it gives the same bits everywhere (the platform's `exp`
/// may differ in the last place between C libraries). Relative error below 3·10⁻¹⁶ on [−708, 709];
/// 0 below −708 (subnormal results are not needed here) and +∞ above 709.78.
///
/// # Formula
/// `x = k·ln 2 + r` with `k = round(x / ln 2)` and `|r| ≤ ½ ln 2` (ln 2 split in a high part with trailing
/// zero bits and a low part, so `k·ln2_hi` is exact); `e^r` by its Taylor polynomial of degree 13
/// (truncation below `0.35¹⁴/14! ≈ 4·10⁻¹⁸`) in Horner form; `e^x = 2^k·e^r` with `2^k` built from its bits.
pub fn exp_portable(x: f64) -> f64 {
    // ln 2 = LN2_HI + LN2_LO: the high part keeps 32 significant bits (trailing zeros below), so k·LN2_HI
    // is exact for |k| < 2²⁰; the low part carries the next 53 bits.
    const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);
    if x.is_nan() {
        return x;
    }
    if x > 709.78 {
        return f64::INFINITY;
    }
    if x < -708.0 {
        return 0.0;
    }
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner: 1 + r(1 + r/2(1 + r/3(… (1 + r/13)))).
    let mut p = 1.0;
    for i in (1..=13).rev() {
        p = 1.0 + p * r / i as f64;
    }
    // k ∈ [−1022, 1024]; split 2^k in two factors so that both are normal numbers.
    let k = k as i64;
    let half = k / 2;
    let scale = |e: i64| f64::from_bits(((1023 + e) as u64) << 52);
    p * scale(half) * scale(k - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop in f64 as the independent reference.
    fn reference(m: usize, n: usize, k: usize, a: &[f32], layout: ALayout, b: &[f32]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for l in 0..k {
                    let av = match layout {
                        ALayout::RowMajor => a[i * k + l],
                        ALayout::Transposed => a[l * m + i],
                    };
                    c[i * n + j] += av as f64 * b[l * n + j] as f64;
                }
            }
        }
        c
    }

    fn wave(len: usize, phase: f64) -> Vec<f32> {
        (0..len).map(|i| ((i as f64 * 0.731 + phase).sin() * 1.3) as f32).collect()
    }

    #[test]
    fn matmul_matches_the_triple_loop_for_ragged_shapes() {
        // Sizes that exercise full tiles, edge columns, edge rows and several tasks.
        for &(m, n, k) in &[(1, 1, 1), (5, 17, 3), (37, 40, 29), (16, 16, 16), (70, 10, 130)] {
            for layout in [ALayout::RowMajor, ALayout::Transposed] {
                let (a, b) = (wave(m * k, 0.2), wave(k * n, 1.1));
                let mut c = vec![f32::NAN; m * n];
                matmul(m, n, k, &a, layout, &b, &mut c);
                let want = reference(m, n, k, &a, layout, &b);
                // f32 sums of k products of size ≤ 1.7: error ≤ k·2⁻²⁴·Σ|a·b| ≲ k²·1e-7.
                let tol = 1e-7 * (k * k) as f64 * 1.7 + 1e-6;
                for (x, y) in c.iter().zip(&want) {
                    assert!((*x as f64 - y).abs() <= tol, "{m}×{n}×{k} {layout:?}: {x} vs {y}");
                }
            }
        }
    }

    #[test]
    fn matmul_is_the_sequential_f32_sum_bit_for_bit() {
        let (m, n, k) = (9, 35, 21);
        let (a, b) = (wave(m * k, 0.5), wave(k * n, 2.0));
        let mut c = vec![0.0; m * n];
        matmul(m, n, k, &a, ALayout::RowMajor, &b, &mut c);
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f32;
                for l in 0..k {
                    s += a[i * k + l] * b[l * n + j];
                }
                assert_eq!(c[i * n + j].to_bits(), s.to_bits(), "C[{i}, {j}]");
            }
        }
    }

    #[test]
    fn baseline_and_dispatched_builds_agree_bit_for_bit() {
        // `matmul` takes the AVX2 build where the CPU has it; `block_generic` called directly here is
        // compiled for the target's baseline (SSE2 on x86-64). Same bits, or weights would depend on the CPU.
        for &(m, n, k) in &[(37, 40, 29), (16, 50, 300), (3, 10, 784)] {
            for layout in [ALayout::RowMajor, ALayout::Transposed] {
                let (a, b) = (wave(m * k, 0.9), wave(k * n, 0.4));
                let mut fast = vec![0.0; m * n];
                matmul(m, n, k, &a, layout, &b, &mut fast);
                let mut base = vec![0.0; m * n];
                block_generic(&Operands { m, n, k, a: &a, layout, b: &b }, 0, &mut base);
                assert!(fast.iter().zip(&base).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}×{n}×{k} {layout:?}");
            }
        }
    }

    #[test]
    fn transpose_swaps_indices() {
        let src = wave(6 * 11, 0.0);
        let mut dst = vec![0.0; 66];
        transpose(6, 11, &src, &mut dst);
        for i in 0..6 {
            for j in 0..11 {
                assert_eq!(dst[j * 6 + i], src[i * 11 + j]);
            }
        }
    }

    #[test]
    fn portable_exp_agrees_with_the_library_exp() {
        let mut x = -700.0;
        while x < 700.0 {
            let (mine, libm) = (exp_portable(x), x.exp());
            assert!(((mine - libm) / libm).abs() < 4e-16, "exp({x}): {mine} vs {libm}");
            x += 0.6180339887;
        }
        for x in [0.0, -1e-300, 1e-10, -0.5 * std::f64::consts::LN_2, 0.5 * std::f64::consts::LN_2] {
            assert!(((exp_portable(x) - x.exp()) / x.exp()).abs() < 4e-16, "exp({x})");
        }
        assert_eq!(exp_portable(-800.0), 0.0);
        assert_eq!(exp_portable(800.0), f64::INFINITY);
    }
}
