//! Dense products on row-major buffers, through the `gemm` crate (pure Rust, run-time CPU dispatch), in f32
//! or f64.
//!
//! Single-threaded on purpose: callers parallelise over independent work (replicates, row blocks), which
//! keeps every product's reduction order fixed and the results independent of the thread count. (The
//! trainer's CPU backend calls `gemm` itself, with rayon inside, on shapes it has checked bit-exact.)

use gemm::{gemm, Parallelism};

/// The element types the products take.
pub trait Real: Copy + 'static {
    const ZERO: Self;
    const ONE: Self;
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
}

/// A matrix operand: its buffer and the strides of its rows and columns (in elements).
#[derive(Clone, Copy)]
pub struct Strided<'a, T> {
    pub data: &'a [T],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a, T> Strided<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [T], cols: usize) -> Self {
        Strided { data, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn transposed(data: &'a [T], cols: usize) -> Self {
        Strided { data, row_stride: 1, col_stride: cols }
    }

    /// Panics unless every entry of an `r × c` view lies inside the buffer.
    fn check(&self, r: usize, c: usize, what: &str) {
        if r > 0 && c > 0 {
            let last = (r - 1) * self.row_stride + (c - 1) * self.col_stride;
            assert!(
                last < self.data.len(),
                "{what}: a {r} × {c} view needs index {last}, buffer has {}",
                self.data.len()
            );
        }
    }
}

/// `out = A B` with `A` an `m × k` view, `B` a `k × n` view and `out` row-major `m × n` with row stride
/// `out_stride` (≥ n): the one place this crate calls `gemm` for the theory and the metrics.
pub fn product<T: Real>(m: usize, n: usize, k: usize, a: Strided<T>, b: Strided<T>, out: &mut [T], out_stride: usize) {
    a.check(m, k, "A");
    b.check(k, n, "B");
    assert!(out_stride >= n, "out's row stride must hold n columns");
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * out_stride + n <= out.len(), "out must hold m rows of n at stride {out_stride}");
    // SAFETY: the checks above bound every index the strides reach in A, B and out.
    unsafe {
        gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            out_stride as isize,
            false,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            T::ZERO,
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `out = Aᵀ B` where `A` is `rows × a_cols` and `B` is `rows × b_cols`, all row-major;
/// `out` is `a_cols × b_cols`.
pub fn matmul_tn<T: Real>(a: &[T], b: &[T], rows: usize, a_cols: usize, b_cols: usize, out: &mut [T]) {
    assert_eq!(a.len(), rows * a_cols, "A must be rows × a_cols");
    assert_eq!(b.len(), rows * b_cols, "B must be rows × b_cols");
    matmul_tn_strided(a, a_cols, b, b_cols, rows, a_cols, b_cols, out);
}

/// `out = Aᵀ B` for row-major `A` (`rows × a_cols`, rows `a_stride` apart) and `B` (`rows × b_cols`, rows
/// `b_stride` apart): lets one product read column blocks of a wider matrix, e.g. `[X Y]ᵀ Y` in one call.
#[allow(clippy::too_many_arguments)]
pub fn matmul_tn_strided<T: Real>(
    a: &[T],
    a_stride: usize,
    b: &[T],
    b_stride: usize,
    rows: usize,
    a_cols: usize,
    b_cols: usize,
    out: &mut [T],
) {
    assert!(a_cols <= a_stride && b_cols <= b_stride, "columns must fit in the row stride");
    assert_eq!(out.len(), a_cols * b_cols, "out must be a_cols × b_cols");
    product(a_cols, b_cols, rows, Strided::transposed(a, a_stride), Strided::rows(b, b_stride), out, b_cols);
}

/// `out = A Bᵀ` where `A` is `rows × k` and `B` is `cols × k`, all row-major; `out` is `rows × cols`.
pub fn matmul_nt<T: Real>(a: &[T], b: &[T], rows: usize, k: usize, cols: usize, out: &mut [T]) {
    assert_eq!(a.len(), rows * k, "A must be rows × k");
    assert_eq!(b.len(), cols * k, "B must be cols × k");
    assert_eq!(out.len(), rows * cols, "out must be rows × cols");
    product(rows, cols, k, Strided::rows(a, k), Strided::transposed(b, k), out, cols);
}

/// `out = A B` where `A` is `rows × k` and `B` is `k × cols`, all row-major; `out` is `rows × cols`.
pub fn matmul_nn<T: Real>(a: &[T], b: &[T], rows: usize, k: usize, cols: usize, out: &mut [T]) {
    assert_eq!(a.len(), rows * k, "A must be rows × k");
    assert_eq!(b.len(), k * cols, "B must be k × cols");
    assert_eq!(out.len(), rows * cols, "out must be rows × cols");
    product(rows, cols, k, Strided::rows(a, k), Strided::rows(b, cols), out, cols);
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
