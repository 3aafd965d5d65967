//! Dense products on row-major buffers, through the `gemm` crate (pure Rust, run-time CPU dispatch).
//!
//! Single-threaded on purpose: callers parallelise over independent work (replicates), which keeps every
//! product's reduction order fixed and the results independent of the thread count.

use gemm::{gemm, Parallelism};

/// `out = Aᵀ B` where `A` is `rows × a_cols` and `B` is `rows × b_cols`, all row-major;
/// `out` is `a_cols × b_cols`.
pub fn matmul_tn(a: &[f64], b: &[f64], rows: usize, a_cols: usize, b_cols: usize, out: &mut [f64]) {
    assert_eq!(a.len(), rows * a_cols, "A must be rows × a_cols");
    assert_eq!(b.len(), rows * b_cols, "B must be rows × b_cols");
    matmul_tn_strided(a, a_cols, b, b_cols, rows, a_cols, b_cols, out);
}

/// `out = Aᵀ B` for row-major `A` (`rows × a_cols`, rows `a_stride` apart) and `B` (`rows × b_cols`, rows
/// `b_stride` apart): lets one product read column blocks of a wider matrix, e.g. `[X Y]ᵀ Y` in one call.
#[allow(clippy::too_many_arguments)]
pub fn matmul_tn_strided(
    a: &[f64],
    a_stride: usize,
    b: &[f64],
    b_stride: usize,
    rows: usize,
    a_cols: usize,
    b_cols: usize,
    out: &mut [f64],
) {
    assert!(rows > 0 && a_cols <= a_stride && b_cols <= b_stride, "columns must fit in the row stride");
    assert!(a.len() >= (rows - 1) * a_stride + a_cols, "A is too short for rows × a_stride");
    assert!(b.len() >= (rows - 1) * b_stride + b_cols, "B is too short for rows × b_stride");
    assert_eq!(out.len(), a_cols * b_cols, "out must be a_cols × b_cols");
    // Aᵀ[i, j] = A[j, i]: row stride 1, column stride a_stride.
    // SAFETY: the asserts above bound every index the strides can reach.
    unsafe {
        gemm(
            a_cols,
            b_cols,
            rows,
            out.as_mut_ptr(),
            1,
            b_cols as isize,
            false,
            a.as_ptr(),
            a_stride as isize,
            1,
            b.as_ptr(),
            1,
            b_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `out = A Bᵀ` where `A` is `rows × k` and `B` is `cols × k`, all row-major; `out` is `rows × cols`.
pub fn matmul_nt(a: &[f64], b: &[f64], rows: usize, k: usize, cols: usize, out: &mut [f64]) {
    assert_eq!(a.len(), rows * k, "A must be rows × k");
    assert_eq!(b.len(), cols * k, "B must be cols × k");
    assert_eq!(out.len(), rows * cols, "out must be rows × cols");
    // Bᵀ[i, j] = B[j, i]: row stride 1, column stride k.
    // SAFETY: the asserts above bound every index the strides can reach.
    unsafe {
        gemm(
            rows,
            cols,
            k,
            out.as_mut_ptr(),
            1,
            cols as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            k as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(
        a: impl Fn(usize, usize) -> f64,
        b: impl Fn(usize, usize) -> f64,
        m: usize,
        n: usize,
        k: usize,
    ) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|l| a(i, l) * b(l, j)).sum();
            }
        }
        out
    }

    fn data(len: usize, salt: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64 + salt) * 0.7381).sin()).collect()
    }

    #[test]
    fn transposed_products_match_the_definition() {
        let (rows, p, q) = (37, 5, 7);
        let a = data(rows * p, 0.1);
        let b = data(rows * q, 0.9);
        let mut out = vec![0.0; p * q];
        matmul_tn(&a, &b, rows, p, q, &mut out);
        let expect = naive(|i, l| a[l * p + i], |l, j| b[l * q + j], p, q, rows);
        for (x, y) in out.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }

        // The same product read out of one wider matrix [B A] (row stride p + q).
        let wide: Vec<f64> =
            (0..rows).flat_map(|r| b[r * q..(r + 1) * q].iter().chain(&a[r * p..(r + 1) * p]).copied()).collect();
        let mut strided = vec![0.0; p * q];
        matmul_tn_strided(&wide[q..], p + q, &wide, p + q, rows, p, q, &mut strided);
        assert_eq!(strided, out, "strided and contiguous products agree bit for bit");

        let c = data(q * p, 0.3);
        let mut out = vec![0.0; rows * q];
        matmul_nt(&a, &c, rows, p, q, &mut out);
        let expect = naive(|i, l| a[i * p + l], |l, j| c[j * p + l], rows, q, p);
        for (x, y) in out.iter().zip(&expect) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }
}
