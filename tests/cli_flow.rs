//! `flowcollapse flow` end to end: proofs/flow-*.md's worked numbers, equality with the library, bad input.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};

use flowcollapse::theory::flow::{self, Solver};
use flowcollapse::theory::Covariance;

#[test]
fn worked_numbers_of_the_euler_blur_and_straightness() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["flow", "--spectrum", "4", "--euler-steps", "1,2,4", "--format", "jsonl", "--out", "run"];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    assert_eq!(records.len(), 3);
    // proofs/flow-*.md, λ = 4: Euler generated variance 0, 0.64, 1.8555 for K = 1, 2, 4; straightness 0.858407.
    for (r, (k, variance)) in records.iter().zip([(1, 0.0), (2, 0.64), (4, 1.8555)]) {
        assert_eq!(r["euler_steps"], k);
        assert_eq!(r["nfe"], k);
        assert!((r["generated_trace"].as_f64().unwrap() - variance).abs() < 5e-5, "{r}");
        assert!((r["exact_straightness"].as_f64().unwrap() - 0.858407).abs() < 1e-6, "{r}");
        assert_eq!(r["target_trace"], 4.0);
    }
    for name in
        ["manifest.json", "records.csv", "records.json", "euler_variance.png", "straightness.svg", "trajectories.png"]
    {
        assert!(tmp.path().join("run").join(name).is_file(), "{name}");
    }
}

#[test]
fn records_equal_the_library_for_a_rotated_covariance() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("sigma.csv"), "2,0.5\n0.5,1\n").unwrap();
    let args =
        ["flow", "--cov", "sigma.csv", "--mean", "1,-2", "--euler-steps", "3,10", "--format", "jsonl", "--out", "r"];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    let cov = Covariance::from_matrix(&nalgebra::DMatrix::from_row_slice(2, 2, &[2.0, 0.5, 0.5, 1.0])).unwrap();
    for (r, k) in records.iter().zip([3usize, 10]) {
        let exact = |key: &str| r[key].as_f64().unwrap();
        assert_eq!(exact("generated_trace"), flow::generated_covariance(&cov, k, Solver::Euler).trace());
        assert_eq!(exact("heun_generated_trace"), flow::generated_covariance(&cov, k, Solver::Heun).trace());
        assert_eq!(exact("inverted_trace"), flow::inverted_covariance(&cov, k, Solver::Euler).trace());
        assert_eq!(exact("straightness"), flow::euler_straightness(&cov, k));
        assert_eq!(exact("exact_straightness"), flow::straightness(&cov));
        // Few steps blur: less variance than the target, and inverted data narrower than N(0, I).
        assert!(exact("generated_trace") < 3.0 && exact("inverted_trace") < 2.0);
    }
}

#[test]
fn bad_input_exits_2_without_run_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--spectrum", "4,0"], "positive definite"),
        (&["--spectrum", "4,-1"], "spectrum"),
        (&["--mean", "1,2,3"], "mean"),
        (&["--euler-steps", "0"], "euler-steps"),
        (&["--euler-steps", "2000000"], "euler-steps"),
    ];
    assert_rejected("flow", cases, tmp.path());
}
