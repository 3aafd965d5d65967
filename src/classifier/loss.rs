//! Softmax cross-entropy of a batch of logits against integer labels, and its gradient.

use super::kernels::exp_portable;
use rayon::prelude::*;

/// Mean cross-entropy of `rows` rows of `classes` logits (row-major) against `labels`, and its gradient
/// with respect to the logits, written into `dlogits`.
///
/// # Formula
/// Per row with logits z and label y: `m = max_j z_j`, `e_j = exp(z_j − m)` (f64, [`exp_portable`]),
/// `s = Σ_j e_j` (f64, j increasing), `p_j = e_j / s`, loss `ℓ = ln s − (z_y − m) = −ln p_y`.
/// Returned: `L = (1/B) Σ_rows ℓ` (f64, rows summed in increasing order). Gradient:
/// `∂L/∂z_j = (p_j − [j = y]) / B`, computed in f64 and rounded once to f32.
///
/// The gradient uses only `+ − × /` and [`exp_portable`], so it is the same on every machine; the loss
/// value uses the platform's `ln` and is only reported, never fed back into training.
///
/// Panics on mismatched lengths or a label ≥ `classes` (the caller checks labels when it loads data).
pub fn softmax_cross_entropy(logits: &[f32], labels: &[u8], classes: usize, dlogits: &mut [f32]) -> f64 {
    let rows = labels.len();
    assert!(classes >= 1 && logits.len() >= rows * classes && dlogits.len() >= rows * classes, "softmax shapes");
    let inv_rows = 1.0 / rows as f64;
    let per_row: Vec<f64> = dlogits[..rows * classes]
        .par_chunks_mut(classes)
        .zip(logits[..rows * classes].par_chunks(classes))
        .zip(labels.par_iter())
        .map(|((grad, z), &y)| {
            let y = y as usize;
            assert!(y < classes, "label {y} outside 0..{classes}");
            let m = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            // e_j is recomputed below rather than kept: ten exponentials are cheaper than a scratch buffer.
            let s: f64 = z.iter().map(|&zj| exp_portable(zj as f64 - m)).sum();
            for (j, (g, &zj)) in grad.iter_mut().zip(z).enumerate() {
                let p = exp_portable(zj as f64 - m) / s;
                let onehot = if j == y { 1.0 } else { 0.0 };
                *g = ((p - onehot) * inv_rows) as f32;
            }
            s.ln() - (z[y] as f64 - m)
        })
        .collect();
    per_row.iter().sum::<f64>() * inv_rows
}

/// Index of the largest logit of each row (the first one on ties).
pub fn argmax_rows(logits: &[f32], classes: usize) -> Vec<u8> {
    logits
        .chunks_exact(classes)
        .map(|z| z.iter().enumerate().fold(0, |best, (j, &v)| if v > z[best] { j } else { best }) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_and_the_gradient_sums_to_zero() {
        let (rows, classes) = (3, 4);
        let logits = [0.5f32, -1.0, 2.0, 0.0, 10.0, 10.0, -3.0, 1.0, -80.0, 0.0, 3.5, 3.5];
        let labels = [2u8, 0, 1];
        let mut grad = vec![0.0f32; 12];
        let loss = softmax_cross_entropy(&logits, &labels, classes, &mut grad);
        let mut want = 0.0;
        for r in 0..rows {
            let z: Vec<f64> = logits[r * classes..(r + 1) * classes].iter().map(|&v| v as f64).collect();
            let norm: f64 = z.iter().map(|v| v.exp()).sum();
            want += -(z[labels[r] as usize].exp() / norm).ln() / rows as f64;
            for j in 0..classes {
                let p = z[j].exp() / norm - if j == labels[r] as usize { 1.0 } else { 0.0 };
                assert!((grad[r * classes + j] as f64 - p / rows as f64).abs() < 1e-7, "row {r} class {j}");
            }
            let sum: f64 = grad[r * classes..(r + 1) * classes].iter().map(|&g| g as f64).sum();
            assert!(sum.abs() < 1e-7);
        }
        assert!((loss - want).abs() < 1e-12 * want, "{loss} vs {want}");
    }

    #[test]
    fn argmax_takes_the_first_of_equal_maxima() {
        assert_eq!(argmax_rows(&[1.0, 3.0, 3.0, 0.0, -1.0, -2.0], 3), vec![1, 0]);
    }
}
