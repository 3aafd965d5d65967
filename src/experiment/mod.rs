//! Validated run configurations and the sweeps that tie theory and simulation together.
//!
//! Raw parameters (command line, TOML) are checked once into an immutable config; a bad value is a
//! [`ConfigError`] naming the field, the value and the allowed range.

pub mod dae;
mod error;
pub mod eval;
pub mod flow;
pub mod gaussian;
pub mod input;
pub mod linear_reflow;
pub mod memory;
pub mod reflow;
pub mod train;

pub use error::ConfigError;
