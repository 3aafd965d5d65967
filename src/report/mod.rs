//! Records, plots and run directories: everything that touches files.

pub mod atomic;
pub mod dae_run;
pub mod figures;
pub mod plot;
pub mod records;
pub mod rundir;
