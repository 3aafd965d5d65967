//! Records, plots and run directories: everything that touches files.

pub mod atomic;
pub mod figures;
pub mod grid;
pub mod lock;
pub mod page;
pub mod plot;
pub mod records;
pub mod reflow_run;
pub mod rundir;
pub mod runs;
pub mod train_run;
