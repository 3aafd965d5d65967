//! Figure builders: outcomes in, [`Chart`](super::plot::Chart)s out, each saying in its caption what it
//! measured. One module per experiment.

pub mod dae;
pub mod eval;
pub mod flow;
pub mod gaussian;
pub mod linear_reflow;
pub mod reflow;
