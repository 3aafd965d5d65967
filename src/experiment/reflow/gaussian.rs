//! Reflow of a trained flow on Gaussian vectors, beside the linear-Gaussian model's closed form.
//!
//! On N(0, diag λ) data the exact velocity of every coupling the strategies build is linear in x, so a
//! network that learns it exactly reproduces `theory::reflow` with time bins fine enough to be the exact
//! field at the solver's nodes (B = [`BINS_PER_STEP`]·K, no ridge). What is left is the network's own error:
//! finite training, finite pairs N and the EMA.
//!
//! # Formula
//! Direction i of generation k: measured `μ̂_{k,i} / λ_i`, with `μ̂_{k,i}` the i-th largest eigenvalue of the
//! generated samples' covariance at the sampler's K; closed form `β_k(λ_i)² / λ_i` from
//! `theory::reflow::reflow(λ_i, K, B, 0, strategy, k)`.

use super::{Arm, GenerationEval, ReflowConfig, Strategy};
use crate::theory::{reflow, RealPool, Strategy as Model};
use serde::{Deserialize, Serialize};

/// Time bins per solver step of the closed form: fine enough that a bin's fitted gain is the exact field
/// at its node to well below the network's error.
pub const BINS_PER_STEP: usize = 64;

/// The linear-Gaussian model of an arm, where there is one: Reflow is Replace, RA with real pairs inverted
/// once per generation by model k−1 (`--refresh-epochs 0`) is Mix ρ on a fixed pool, Accumulate is
/// Accumulate; the control stays the 1-rectified flow. ORA/ORAS (online) and RA with refreshes have none.
pub fn model_of(arm: &Arm, config: &ReflowConfig) -> Option<Option<Model>> {
    match arm.strategy {
        Strategy::Reflow => Some(Some(Model::Replace)),
        Strategy::Ra if config.refresh_epochs == 0 => {
            Some(Some(Model::Mix { alpha: config.real_ratio, pool: RealPool::Fixed }))
        }
        Strategy::Accumulate => Some(Some(Model::Accumulate)),
        Strategy::Independent => Some(None),
        _ => None,
    }
}

/// One direction of one generation of one arm. Field names are the records' contract.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GaussianComparison {
    pub strategy: String,
    pub generation: usize,
    pub euler_steps: usize,
    pub direction: usize,
    pub lambda: f64,
    /// The network's generated variance along the direction over λ.
    pub variance_ratio: f64,
    /// `theory::reflow`'s β_k²/λ for the same K (null for arms without a linear model).
    pub closed_form_variance_ratio: Option<f64>,
}

/// Every direction of every generation of `arm` (`evals` in generation order from 1), against the closed
/// form. `lambda` is the data's spectrum.
pub fn compare(arm: &Arm, evals: &[GenerationEval], config: &ReflowConfig, lambda: &[f64]) -> Vec<GaussianComparison> {
    let k = config.sampler_steps;
    let mut sorted = lambda.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let model = model_of(arm, config);
    let last = config.last_generation();
    let closed: Vec<Option<Vec<f64>>> = sorted
        .iter()
        .map(|&l| {
            model.map(|m| {
                let generations = reflow::reflow(l, k, BINS_PER_STEP * k, 0.0, m.unwrap_or(Model::Replace), last);
                (0..=last).map(|g| generations[if m.is_some() { g } else { g.min(1) }].variance_ratio).collect()
            })
        })
        .collect();
    let mut out = Vec::new();
    for (g, eval) in evals.iter().enumerate() {
        let generation = g + 1;
        for (i, &l) in sorted.iter().enumerate() {
            let Some(&mu) = eval.spectrum.get(i) else { continue };
            out.push(GaussianComparison {
                strategy: arm.name(),
                generation,
                euler_steps: k,
                direction: i,
                lambda: l,
                variance_ratio: mu / l,
                closed_form_variance_ratio: closed[i].as_ref().map(|c| c[generation]),
            });
        }
    }
    out
}
