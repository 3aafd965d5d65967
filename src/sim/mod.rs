//! Monte Carlo of the theory's recursions with finite samples.

pub mod dae;
pub mod gaussian;
pub mod reflow;
pub mod stats;
