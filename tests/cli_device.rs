//! `--device`: without a GPU, `--device cuda` is a clear exit 2 on every command that trains or samples,
//! and nothing is written; `--device cpu` is the default and changes nothing.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};

/// Whether this machine can run the CUDA backend (then the rejection tests do not apply).
fn gpu_present() -> bool {
    #[cfg(feature = "cuda")]
    return flowcollapse::train::CudaBackend::new(0).is_ok();
    #[cfg(not(feature = "cuda"))]
    false
}

const TINY: [&str; 6] = ["--data", "gaussian", "--hidden", "8", "--steps", "5"];

#[test]
fn cuda_without_a_gpu_exits_2_and_writes_nothing() {
    if gpu_present() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    jsonl(flowcollapse(&[&["train", "--out", "run", "--format", "jsonl"], &TINY[..]].concat(), tmp.path()));
    let why = "invalid device = cuda";
    let mut train = TINY.to_vec();
    train.extend(["--device", "cuda"]);
    assert_rejected("train", &[(&train, why)], tmp.path());
    let mut reflow = vec!["--data", "gaussian", "--hidden", "8", "--model1-steps", "5", "--steps", "5"];
    reflow.extend(["--device", "cuda"]);
    assert_rejected("reflow", &[(&reflow, why)], tmp.path());
    assert_rejected("sample", &[(&["--run", "run", "--device", "cuda"], why)], tmp.path());
    assert_rejected("eval", &[(&["--run", "run", "--device", "cuda"], why)], tmp.path());
    // The message says what to do.
    let out = flowcollapse(&[&["train", "--out", "x"], &train[..]].concat(), tmp.path());
    assert!(String::from_utf8_lossy(&out.stderr).contains("use --device cpu"));
}

#[test]
fn cpu_is_the_default_device() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let args = [&["train", "--out", out, "--format", "jsonl"], &TINY[..], extra].concat();
        let records = jsonl(flowcollapse(&args, tmp.path()));
        records.iter().map(|r| r["loss"].as_f64()).collect::<Vec<_>>()
    };
    assert_eq!(run("a", &[]), run("b", &["--device", "cpu"]));
}
