//! Settings that validate but cannot fit in memory are refused before anything is allocated: exit 2, the
//! estimate and the limit in the message, nothing written, and at once.

mod common;

use common::assert_rejected;
use std::process::Command;

#[test]
fn runs_larger_than_the_machine_are_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.toml");
    std::fs::write(&big, format!("spectrum = [{}]\n", vec!["1.0"; 100_000].join(","))).unwrap();
    let why = "of memory available here";
    let start = std::time::Instant::now();
    // 4.3·10⁹ parameters (≈ 225 GB with Adam's state), 10¹² Gaussian rows (8 TB), a 10⁵ × 10⁵ eigenbasis.
    assert_rejected("train", &[(&["--downsample", "--hidden", "65536,65536", "--batch", "2"], why)], tmp.path());
    assert_rejected("train", &[(&["--data", "gaussian", "--images", "1000000000000"], why)], tmp.path());
    assert_rejected("dae", &[(&["--config", big.to_str().unwrap()], "invalid spectrum")], tmp.path());
    assert!(start.elapsed().as_secs() < 20, "refused before any allocation");
}

#[test]
fn the_limit_can_be_set_and_the_message_gives_estimate_and_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
        .args(["train", "--data", "gaussian", "--hidden", "512,512", "--out", "run"])
        .env("FLOWCOLLAPSE_MEMORY_LIMIT", "1000000")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // 2 + 16 → 512 → 512 → 2: 273 410 parameters, 13 buffers of them, ≈ 14 MB in all against a 1 MB limit.
    assert!(stderr.contains("invalid hidden/batch/images") && stderr.contains("2.734e5 parameters"), "{stderr}");
    assert!(stderr.contains("at most the 1 MB of memory available here"), "{stderr}");
    assert!(!tmp.path().join("run").exists());
}
