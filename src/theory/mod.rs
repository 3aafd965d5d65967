//! Closed forms: pure functions of their arguments, f64, no I/O, no randomness, no threads.
//!
//! Every recursion follows the generation convention of docs/theory.md: generation 0 is the real data,
//! model k trains on what the [`Strategy`] builds from generations 0…k−1, generation k is model k's output.
//! The same page fixes the time, solver, bin and notation conventions and quotes worked numbers.

pub mod covariance;
pub mod dae;
pub mod flow;
pub mod gaussian;
pub mod reflow;
pub mod strategy;

pub use covariance::{Covariance, CovarianceError};
pub use strategy::{RealPool, Rule, Strategy};
