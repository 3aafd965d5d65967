//! One writer per run directory: a second `train` or `reflow` into a directory that a live process writes
//! exits 2 and names it; the lock goes with its process, so a killed run can be resumed.

mod common;

use common::flowcollapse;
use flowcollapse::report::lock::DirLock;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LONG_TRAIN: [&str; 10] =
    ["train", "--data", "gaussian", "--hidden", "256,256", "--steps", "200000", "--out", "run", "--format"];

fn start(args: &[&str], cwd: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Wait until the run in `dir` holds its lock (or panic after a minute).
fn wait_for_lock(dir: &Path) {
    let start = Instant::now();
    while !DirLock::is_held(dir) {
        assert!(start.elapsed() < Duration::from_secs(60), "the run never locked {}", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_writer_is_refused_while_the_first_runs_and_admitted_after_it_dies() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = LONG_TRAIN.to_vec();
    args.push("jsonl");
    let mut first = start(&args, tmp.path());
    let dir = tmp.path().join("run");
    wait_for_lock(&dir);
    let manifest_before = std::fs::read(dir.join("manifest.json")).unwrap();

    // A fresh run into the same directory, and a resume of the live run: both refused, nothing changed.
    let second =
        flowcollapse(&["train", "--data", "gaussian", "--hidden", "8", "--steps", "5", "--out", "run"], tmp.path());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another flowcollapse process is writing") && stderr.contains("run"), "{stderr}");
    let resume = flowcollapse(&["train", "--resume", "run"], tmp.path());
    assert_ne!(resume.status.code(), Some(0), "{}", String::from_utf8_lossy(&resume.stderr));
    assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), manifest_before);

    // Killed, the first run leaves a manifest that still says running, and no holder: a crashed run.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!DirLock::is_held(&dir), "the lock went with its process");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "running");
}

#[test]
fn reflow_refuses_a_directory_that_another_process_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args = LONG_TRAIN.to_vec();
    args.push("jsonl");
    let mut first = start(&args, tmp.path());
    wait_for_lock(&tmp.path().join("run"));
    let out = flowcollapse(
        &["reflow", "--data", "gaussian", "--hidden", "8", "--model1-steps", "5", "--out", "run"],
        tmp.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid out"), "{stderr}");
}

/// Killed before its first checkpoint, a run resumes from step 0 and ends where a run that was never
/// interrupted ends (the same checkpoint bytes).
#[test]
fn a_run_killed_before_its_first_checkpoint_resumes_from_step_0() {
    let tmp = tempfile::tempdir().unwrap();
    let settings = ["--data", "gaussian", "--hidden", "256,256", "--checkpoint-every", "100000", "--log-every", "10"];
    let mut first = start(&[&["train", "--steps", "200000", "--out", "killed"], &settings[..]].concat(), tmp.path());
    let dir = tmp.path().join("killed");
    wait_for_lock(&dir);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!dir.join("checkpoint.safetensors").exists(), "killed before the first checkpoint");
    let resumed = flowcollapse(&["train", "--resume", "killed", "--steps", "20"], tmp.path());
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let whole = flowcollapse(&[&["train", "--steps", "20", "--out", "whole"], &settings[..]].concat(), tmp.path());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let bytes = |d: &str| std::fs::read(tmp.path().join(d).join("checkpoint.safetensors")).unwrap();
    assert!(bytes("killed") == bytes("whole"), "the resumed run differs from the uninterrupted one");
}
