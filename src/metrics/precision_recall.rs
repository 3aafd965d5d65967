//! Precision and recall of k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019).
//!
//! # Formula
//! For a set `Y`, `r_k(y)` is the distance from `y ∈ Y` to its k-th nearest neighbour in `Y \ {y}`
//! (excluded by index, so duplicates count as neighbours), and `manifold(Y) = ∪_{y∈Y} B(y, r_k(y))`
//! (closed balls). Then `precision = |{g ∈ G : g ∈ manifold(R)}| / |G|` and
//! `recall = |{r ∈ R : r ∈ manifold(G)}| / |R|` for real `R` and generated `G`.
//!
//! # Numerics
//! All pairwise squared distances come from one gemm product per row block,
//! `‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b`, in **f32**: the samples are f32 already, f32 gemm runs at about twice
//! the f64 rate and a block takes half the memory. Both sets are first centred at the real mean (distances
//! do not change; norms, and with them the cancellation, shrink). The dot product's rounding error is at
//! most `γ = (d + 2)·u·(‖a‖² + ‖b‖²)` with `u = 2⁻²⁴`; a computed value below `γ` (including the small
//! negative ones cancellation produces) is indistinguishable from 0 and is set to 0, so duplicate points
//! are at distance exactly 0. A comparison `d² ≤ r²` can only differ from exact arithmetic for points within
//! `γ` of a ball's surface.
//!
//! Cost: three products of `n·n'·d` multiply-adds (real–real once per real set, generated–generated and
//! generated–real per evaluation), in blocks of `block_rows` query rows (memory `block_rows × n` f32 per
//! task). Blocks run in parallel; per-row results do not depend on the thread count, and the recall flags
//! are merged by OR, which is exact in any order.

use super::{MetricsError, Samples};
use crate::linalg::matmul_nt;
use rayon::prelude::*;
use serde::Serialize;

/// Tunables: the neighbour rank k and the query rows per block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrecisionRecallParams {
    /// Neighbour rank defining each ball's radius (Kynkäänniemi et al. use 3).
    pub k: usize,
    /// Query rows per block: memory per task is `block_rows × n` f32.
    pub block_rows: usize,
}

impl Default for PrecisionRecallParams {
    fn default() -> Self {
        PrecisionRecallParams { k: 3, block_rows: 256 }
    }
}

impl PrecisionRecallParams {
    fn validate(&self) -> Result<(), MetricsError> {
        if self.k == 0 {
            return Err(MetricsError::invalid("precision/recall k", self.k, "k ≥ 1"));
        }
        if self.block_rows == 0 {
            return Err(MetricsError::invalid("precision/recall block_rows", self.block_rows, "≥ 1"));
        }
        Ok(())
    }
}

/// Precision and recall of one generated set against the real set.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PrecisionRecall {
    pub k: usize,
    pub n_real: usize,
    pub n_generated: usize,
    /// Fraction of generated samples inside the real manifold.
    pub precision: f64,
    /// Fraction of real samples inside the generated manifold.
    pub recall: f64,
}

/// Samples centred at a common origin, with their squared norms.
struct Centred {
    data: Vec<f32>,
    norms: Vec<f32>,
    rows: usize,
    cols: usize,
}

impl Centred {
    fn new(x: Samples<'_>, origin: &[f64]) -> Self {
        let d = x.cols();
        let data: Vec<f32> =
            x.data().chunks_exact(d).flat_map(|r| r.iter().zip(origin).map(|(&v, o)| (v as f64 - o) as f32)).collect();
        let norms =
            data.chunks_exact(d).map(|r| r.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() as f32).collect();
        Centred { data, norms, rows: x.rows(), cols: d }
    }
}

/// `f(first row, squared distances of the block's rows to every reference row)` for each block of
/// `block` query rows, in parallel; results in block order.
fn map_blocks<R: Send>(
    query: &Centred,
    reference: &Centred,
    block: usize,
    f: impl Fn(usize, &[f32]) -> R + Sync,
) -> Vec<R> {
    let (d, n) = (query.cols, reference.rows);
    let slack = (d as f32 + 2.0) * f32::EPSILON * 0.5;
    query
        .data
        .par_chunks(block * d)
        .enumerate()
        .map(|(b, rows)| {
            let m = rows.len() / d;
            let first = b * block;
            let mut dist = vec![0.0f32; m * n];
            matmul_nt(rows, &reference.data, m, d, n, &mut dist);
            for (i, row) in dist.chunks_exact_mut(n).enumerate() {
                let qn = query.norms[first + i];
                for (v, &rn) in row.iter_mut().zip(&reference.norms) {
                    let sum = qn + rn;
                    let sq = sum - 2.0 * *v;
                    *v = if sq <= slack * sum { 0.0 } else { sq };
                }
            }
            f(first, &dist)
        })
        .collect()
}

/// Squared distance from each row to its k-th nearest other row of the same set.
fn knn_sq_radii(x: &Centred, k: usize, block: usize) -> Vec<f32> {
    let n = x.rows;
    map_blocks(x, x, block, |first, dist| {
        dist.chunks_exact(n).enumerate().map(|(i, row)| kth_smallest_excluding(row, first + i, k)).collect::<Vec<_>>()
    })
    .concat()
}

/// The k-th smallest of `row` without entry `skip` (k ≤ row.len() − 1).
fn kth_smallest_excluding(row: &[f32], skip: usize, k: usize) -> f32 {
    let mut best = vec![f32::INFINITY; k];
    for (j, &v) in row.iter().enumerate() {
        if j != skip && v < best[k - 1] {
            let at = best.partition_point(|&b| b <= v);
            best.pop();
            best.insert(at, v);
        }
    }
    best[k - 1]
}

/// The real set prepared once: centred copy, norms and k-NN radii. Evaluate every generation against it.
///
/// # Example
/// On the points `(i, 0)`, i = 0…9, the third neighbour is 3 away at the two ends and 2 away inside:
/// ```
/// use flowcollapse::metrics::{PrecisionRecallParams, RealManifold, Samples};
/// let real: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
/// let manifold = RealManifold::fit(Samples::new("real", &real, 10, 2).unwrap(), PrecisionRecallParams::default());
/// let radii = manifold.unwrap().radii();
/// assert_eq!(radii, [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0]);
/// ```
pub struct RealManifold {
    params: PrecisionRecallParams,
    origin: Vec<f64>,
    real: Centred,
    sq_radii: Vec<f32>,
}

impl RealManifold {
    /// Needs more than k real samples.
    pub fn fit(real: Samples<'_>, params: PrecisionRecallParams) -> Result<Self, MetricsError> {
        params.validate()?;
        real.require_rows(params.k + 1, "k nearest neighbours besides itself")?;
        let origin = column_mean(real);
        let centred = Centred::new(real, &origin);
        let sq_radii = knn_sq_radii(&centred, params.k, params.block_rows);
        Ok(RealManifold { params, origin, real: centred, sq_radii })
    }

    /// Each real sample's k-NN radius `r_k` (a distance, not squared).
    pub fn radii(&self) -> Vec<f64> {
        self.sq_radii.iter().map(|&r| (r as f64).sqrt()).collect()
    }

    pub fn params(&self) -> PrecisionRecallParams {
        self.params
    }

    /// Precision and recall of `generated` (more than k samples, same width as the real set).
    pub fn evaluate(&self, generated: Samples<'_>) -> Result<PrecisionRecall, MetricsError> {
        generated.require_cols(self.real.cols, "the real set")?;
        generated.require_rows(self.params.k + 1, "k nearest neighbours besides itself")?;
        let gen = Centred::new(generated, &self.origin);
        let gen_sq_radii = knn_sq_radii(&gen, self.params.k, self.params.block_rows);
        let n_real = self.real.rows;
        let blocks = map_blocks(&gen, &self.real, self.params.block_rows, |first, dist| {
            let mut inside = 0usize;
            let mut covered = vec![false; n_real];
            for (i, row) in dist.chunks_exact(n_real).enumerate() {
                if row.iter().zip(&self.sq_radii).any(|(d, r)| d <= r) {
                    inside += 1;
                }
                let r = gen_sq_radii[first + i];
                for (c, &d) in covered.iter_mut().zip(row) {
                    *c |= d <= r;
                }
            }
            (inside, covered)
        });
        let inside: usize = blocks.iter().map(|b| b.0).sum();
        let mut covered = vec![false; n_real];
        for (_, block) in &blocks {
            for (c, &b) in covered.iter_mut().zip(block) {
                *c |= b;
            }
        }
        let recalled = covered.iter().filter(|&&c| c).count();
        Ok(PrecisionRecall {
            k: self.params.k,
            n_real,
            n_generated: gen.rows,
            precision: inside as f64 / gen.rows as f64,
            recall: recalled as f64 / n_real as f64,
        })
    }
}

impl std::fmt::Debug for RealManifold {
    /// The parameters and shape, not the buffers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealManifold")
            .field("params", &self.params)
            .field("rows", &self.real.rows)
            .field("cols", &self.real.cols)
            .finish_non_exhaustive()
    }
}

/// Precision and recall of `generated` against `real` in one call (see the module formula).
///
/// # Example
/// Real points `(i, 0)`, i = 0…9; the generated set holds them and ten copies moved 1000 away. Every real
/// point is generated (recall 1), half the generated points are real-looking (precision 1/2):
/// ```
/// use flowcollapse::metrics::{precision_recall, PrecisionRecallParams, Samples};
/// let real: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
/// let far: Vec<f32> = (0..10).flat_map(|i| [i as f32 + 1000.0, 0.0]).collect();
/// let generated = [real.clone(), far].concat();
/// let pr = precision_recall(
///     Samples::new("real", &real, 10, 2).unwrap(),
///     Samples::new("generated", &generated, 20, 2).unwrap(),
///     PrecisionRecallParams::default(), // k = 3
/// )
/// .unwrap();
/// assert_eq!((pr.precision, pr.recall), (0.5, 1.0));
/// ```
pub fn precision_recall(
    real: Samples<'_>,
    generated: Samples<'_>,
    params: PrecisionRecallParams,
) -> Result<PrecisionRecall, MetricsError> {
    generated.require_cols(real.cols(), "the real set")?;
    RealManifold::fit(real, params)?.evaluate(generated)
}

/// All squared distances `‖a_i − b_j‖²` (`a.rows() × b.rows()`, row-major), by the blocked gemm path the
/// metrics use (centred at a's mean, small values set to 0 as in the module numerics).
///
/// # Example
/// ```
/// use flowcollapse::metrics::{pairwise_sq_distances, Samples};
/// let a = Samples::new("a", &[0.0, 0.0, 3.0, 4.0], 2, 2).unwrap();
/// let b = Samples::new("b", &[0.0, 0.0], 1, 2).unwrap();
/// assert_eq!(pairwise_sq_distances(a, b, 1).unwrap(), [0.0, 25.0]);
/// ```
pub fn pairwise_sq_distances(a: Samples<'_>, b: Samples<'_>, block_rows: usize) -> Result<Vec<f32>, MetricsError> {
    b.require_cols(a.cols(), a.name())?;
    if block_rows == 0 {
        return Err(MetricsError::invalid("block_rows", block_rows, "≥ 1"));
    }
    let origin = column_mean(a);
    let (a, b) = (Centred::new(a, &origin), Centred::new(b, &origin));
    Ok(map_blocks(&a, &b, block_rows, |_, dist| dist.to_vec()).concat())
}

fn column_mean(x: Samples<'_>) -> Vec<f64> {
    let mut sum = vec![0.0f64; x.cols()];
    for row in x.data().chunks_exact(x.cols()) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
    }
    sum.iter().map(|s| s / x.rows() as f64).collect()
}
