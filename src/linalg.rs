//! Dense products on row-major buffers, through the `gemm` crate (pure Rust, run-time CPU dispatch).
//!
//! Single-threaded on purpose: callers parallelise over independent work (replicates), which keeps every
//! product's reduction order fixed and the results independent of the thread count.

use gemm::{gemm, Parallelism};

/// A row-major matrix view: `rows × cols`, consecutive rows `stride` elements apart. A view of some columns
/// of a wider matrix (see [`RowMajor::columns`]) lets one product read `[X Y]` side by side.
#[derive(Clone, Copy, Debug)]
pub struct RowMajor<'a> {
    data: &'a [f64],
    rows: usize,
    cols: usize,
    stride: usize,
}

impl<'a> RowMajor<'a> {
    /// A contiguous `rows × cols` matrix.
    pub fn new(data: &'a [f64], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "a {rows} × {cols} matrix needs {} values", rows * cols);
        Self { data, rows, cols, stride: cols }
    }

    /// Columns `start..start + count` of this matrix.
    pub fn columns(self, start: usize, count: usize) -> Self {
        assert!(start + count <= self.cols, "columns {start}..{} of {}", start + count, self.cols);
        Self { data: &self.data[start..], cols: count, ..self }
    }

    fn check(&self) {
        assert!(self.rows == 0 || self.data.len() >= (self.rows - 1) * self.stride + self.cols);
    }
}

/// `out = Aᵀ B`, or `out += Aᵀ B` when `accumulate`; `A` is `rows × p`, `B` is `rows × q`, `out` is `p × q`
/// row-major.
pub fn matmul_tn(a: RowMajor, b: RowMajor, out: &mut [f64], accumulate: bool) {
    assert_eq!(a.rows, b.rows, "Aᵀ B needs A and B with the same rows");
    assert_eq!(out.len(), a.cols * b.cols, "out must be {} × {}", a.cols, b.cols);
    a.check();
    b.check();
    // Aᵀ[i, l] = A[l, i]: row stride 1, column stride a.stride.
    // SAFETY: `check` and the asserts above bound every index the strides can reach.
    unsafe {
        gemm(
            a.cols,
            b.cols,
            a.rows,
            out.as_mut_ptr(),
            1,
            b.cols as isize,
            accumulate,
            a.data.as_ptr(),
            a.stride as isize,
            1,
            b.data.as_ptr(),
            1,
            b.stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `out = A Bᵀ` where `A` is `rows × k` and `B` is `cols × k`; `out` is `rows × cols`, contiguous.
pub fn matmul_nt(a: RowMajor, b: RowMajor, out: &mut [f64]) {
    assert_eq!(a.cols, b.cols, "A Bᵀ needs A and B with the same columns");
    assert_eq!(out.len(), a.rows * b.rows, "out must be {} × {}", a.rows, b.rows);
    a.check();
    b.check();
    // Bᵀ[l, j] = B[j, l]: row stride 1, column stride b.stride.
    // SAFETY: `check` and the asserts above bound every index the strides can reach.
    unsafe {
        gemm(
            a.rows,
            b.rows,
            a.cols,
            out.as_mut_ptr(),
            1,
            b.rows as isize,
            false,
            a.data.as_ptr(),
            1,
            a.stride as isize,
            b.data.as_ptr(),
            b.stride as isize,
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

    fn assert_close(x: &[f64], y: &[f64]) {
        for (x, y) in x.iter().zip(y) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }

    #[test]
    fn transposed_products_match_the_definition() {
        let (rows, p, q) = (37, 5, 7);
        let a = data(rows * p, 0.1);
        let b = data(rows * q, 0.9);
        let mut out = vec![0.0; p * q];
        matmul_tn(RowMajor::new(&a, rows, p), RowMajor::new(&b, rows, q), &mut out, false);
        assert_close(&out, &naive(|i, l| a[l * p + i], |l, j| b[l * q + j], p, q, rows));

        // Accumulating adds the product to what is there.
        let mut twice = out.clone();
        matmul_tn(RowMajor::new(&a, rows, p), RowMajor::new(&b, rows, q), &mut twice, true);
        assert_close(&twice, &out.iter().map(|v| 2.0 * v).collect::<Vec<_>>());

        // The same product read out of one wider matrix [B A].
        let wide: Vec<f64> =
            (0..rows).flat_map(|r| b[r * q..(r + 1) * q].iter().chain(&a[r * p..(r + 1) * p]).copied()).collect();
        let view = RowMajor::new(&wide, rows, p + q);
        let mut strided = vec![0.0; p * q];
        matmul_tn(view.columns(q, p), view.columns(0, q), &mut strided, false);
        assert_close(&strided, &out);

        let c = data(q * p, 0.3);
        let mut out = vec![0.0; rows * q];
        matmul_nt(RowMajor::new(&a, rows, p), RowMajor::new(&c, q, p), &mut out);
        assert_close(&out, &naive(|i, l| a[i * p + l], |l, j| c[j * p + l], rows, q, p));
    }
}
