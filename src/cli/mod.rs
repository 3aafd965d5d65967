//! The binary's command modules (the closed-form commands live in main.rs).

pub mod classifier;
pub mod demo;
pub mod evaluate;
pub mod reflow;
pub mod train;

pub(crate) use super::{failure, print_stdout, Failure, Format, RunArgs};
