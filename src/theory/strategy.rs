//! How each model's training distribution is built from earlier generations.
//! One enum shared by theory, simulation and (later) the trainer.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where the real part of a [`Strategy::Mix`] comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RealPool {
    /// New real samples every generation.
    Fresh,
    /// One real pool drawn once (generation 0) and reused.
    Fixed,
}

/// The training distribution of model k, built from generations 0…k−1.
///
/// # Example
/// ```
/// use flowcollapse::theory::{RealPool, Strategy};
/// let mix = Strategy::Mix { alpha: 0.0, pool: RealPool::Fixed };
/// assert_eq!((mix.name(), mix.alpha(), mix.same_as()), ("mix", Some(0.0), Some("replace")));
/// assert_eq!(Strategy::Accumulate.alpha(), None); // its real fraction is 1/k
/// assert_eq!(Strategy::Mix { alpha: 0.5, pool: RealPool::Fresh }.to_string(), "mix α=0.5 (fresh)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "lowercase")]
pub enum Strategy {
    /// Generation k−1 only.
    Replace,
    /// A fraction `alpha` of real data and `1 − alpha` of generation k−1.
    Mix { alpha: f64, pool: RealPool },
    /// Generations 0…k−1 pooled with equal weight.
    Accumulate,
}

impl Strategy {
    /// The lower-case name used in records and on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Replace => "replace",
            Strategy::Mix { .. } => "mix",
            Strategy::Accumulate => "accumulate",
        }
    }

    /// The real-data fraction in each training set after the first: 0 for Replace, α for Mix,
    /// `None` for Accumulate (where it is 1/k and changes every generation).
    pub fn alpha(&self) -> Option<f64> {
        match self {
            Strategy::Replace => Some(0.0),
            Strategy::Mix { alpha, .. } => Some(*alpha),
            Strategy::Accumulate => None,
        }
    }

    /// The strategy this one reduces to, when it is a degenerate case of another (Mix with α = 0 is Replace).
    pub fn same_as(&self) -> Option<&'static str> {
        match self {
            Strategy::Mix { alpha, .. } if *alpha == 0.0 => Some("replace"),
            _ => None,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Mix { alpha, pool } => {
                let pool = match pool {
                    RealPool::Fresh => "fresh",
                    RealPool::Fixed => "fixed pool",
                };
                write!(f, "mix α={alpha} ({pool})")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// How model k produces generation k from its training distribution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rule {
    /// `f_k(x + σε')`: the model denoises freshly noised inputs (the default).
    #[default]
    Noisy,
    /// `f_k(x)`: the model is applied to clean inputs.
    Clean,
}

impl Rule {
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Noisy => "noisy",
            Rule::Clean => "clean",
        }
    }
}
