//! What the command-line tests share: running the binary and reading its JSON lines.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Run `flowcollapse ARGS` in `cwd`.
pub fn flowcollapse(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flowcollapse")).args(args).current_dir(cwd).output().unwrap()
}

/// The records a successful `--format jsonl` run printed, one object per line.
#[allow(dead_code)] // not every test file reads records
pub fn jsonl(output: Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}
