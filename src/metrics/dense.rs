//! The dense products the metrics need (`crate::linalg`, single-threaded `gemm`).
//!
//! Parallelism is over fixed blocks of output rows, so an entry's reduction order is set by the block
//! layout alone and never by the number of threads.

use crate::linalg::{product, Strided};
use rayon::prelude::*;

/// Output rows per task in [`gram`]: small enough to balance the triangular work over two or more threads.
const GRAM_BLOCK: usize = 32;

/// `XᵀX` (`d × d`, row-major) of a row-major `n × d` matrix, exactly symmetric.
///
/// Only the upper triangle is multiplied (row block `[i0, i1)` against columns `[i0, d)`); the lower
/// triangle is then copied from it.
pub(crate) fn gram(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    assert!(n > 0 && d > 0 && x.len() == n * d, "X must be n × d");
    let mut out = vec![0.0; d * d];
    out.par_chunks_mut(GRAM_BLOCK * d).enumerate().for_each(|(b, chunk)| {
        let i0 = b * GRAM_BLOCK;
        let rows = chunk.len() / d;
        // Rows i0.. of Xᵀ times columns i0.. of X, into columns i0.. of this block of rows.
        let xt = Strided::transposed(&x[i0..], d);
        product(rows, d - i0, n, xt, Strided::rows(&x[i0..], d), &mut chunk[i0..], d);
    });
    for i in 0..d {
        for j in 0..i {
            out[i * d + j] = out[j * d + i];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{matmul_nn, matmul_nt};

    fn data(len: usize, salt: f64) -> Vec<f64> {
        (0..len).map(|i| ((i as f64 + salt) * 0.7381).sin()).collect()
    }

    #[test]
    fn products_match_the_definition() {
        // d = 70 spans three Gram row blocks, the last one partial.
        let (n, d, k) = (23, 70, 5);
        let x = data(n * d, 0.3);
        let g = gram(&x, n, d);
        for i in 0..d {
            for j in 0..d {
                let expect: f64 = (0..n).map(|l| x[l * d + i] * x[l * d + j]).sum();
                assert!((g[i * d + j] - expect).abs() < 1e-12, "({i}, {j})");
                assert_eq!(g[i * d + j], g[j * d + i]);
            }
        }

        let w = data(d * k, 1.7);
        let mut out = vec![0.0; n * k];
        matmul_nn(&x, &w, n, d, k, &mut out);
        for i in 0..n {
            for j in 0..k {
                let expect: f64 = (0..d).map(|l| x[i * d + l] * w[l * k + j]).sum();
                assert!((out[i * k + j] - expect).abs() < 1e-12);
            }
        }

        let a: Vec<f32> = data(n * d, 0.9).iter().map(|&v| v as f32).collect();
        let b: Vec<f32> = data(k * d, 2.1).iter().map(|&v| v as f32).collect();
        let mut out = vec![0.0f32; n * k];
        matmul_nt(&a, &b, n, d, k, &mut out);
        for i in 0..n {
            for j in 0..k {
                let expect: f64 = (0..d).map(|l| a[i * d + l] as f64 * b[j * d + l] as f64).sum();
                assert!((out[i * k + j] as f64 - expect).abs() < 1e-4);
            }
        }
    }
}
