//! What the command-line tests share: running the binary and reading its JSON lines.

#[macro_use]
#[allow(unused_macros)]
pub mod backends;

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

/// Each case `(extra flags, text)`: `flowcollapse COMMAND --out bad EXTRA…` in `cwd` exits with code 2, says
/// `text` on stderr, does not panic, and leaves no run directory.
#[allow(dead_code)] // not every test file checks bad input
pub fn assert_rejected(command: &str, cases: &[(&[&str], &str)], cwd: &Path) {
    for (extra, needle) in cases {
        let mut args = vec![command, "--out", "bad"];
        args.extend_from_slice(extra);
        let result = flowcollapse(&args, cwd);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(needle), "{extra:?}: '{needle}' not in: {stderr}");
        assert!(!stderr.contains("panicked"), "{extra:?}: {stderr}");
        assert!(!cwd.join("bad").exists() && !cwd.join("runs").exists(), "{extra:?} left a run directory");
    }
}
