//! `--threads N`: every command runs its parallel work on N threads, with the same numbers on any N.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};

#[test]
fn one_and_two_threads_give_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |threads: &str, out: &str, command: &[&str]| {
        let args = [command, &["--threads", threads, "--out", out, "--format", "jsonl"]].concat();
        jsonl(flowcollapse(&args, tmp.path()))
    };
    // A Monte Carlo (replicates in parallel) and a training run (parallel kernels and pair draws).
    let dae = ["dae", "--s", "0.1", "--samples", "300", "--replicates", "8", "--generations", "5"];
    assert_eq!(run("1", "d1", &dae), run("2", "d2", &dae));
    let train = ["train", "--data", "gaussian", "--hidden", "16,16", "--steps", "20", "--log-every", "5"];
    // Times and paths differ; the numbers must not.
    let strip = |records: Vec<serde_json::Value>| {
        records.iter().map(|r| (r["step"].clone(), r["loss"].clone(), r["grad_norm"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(strip(run("1", "t1", &train)), strip(run("2", "t2", &train)));
}

#[test]
fn a_bad_thread_count_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    assert_rejected("dae", &[(&["--threads", "0"], "invalid threads = 0: allowed 1 to 1024")], tmp.path());
}
