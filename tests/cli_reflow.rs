//! `flowcollapse reflow` end to end: records and the report page, the control arm equals continued
//! `train`, a SIGKILL in the middle of a generation resumes to the same bytes, bad input exits 2.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};
use flowcollapse::checkpoint::Checkpoint;
use flowcollapse::report::page::missing_files;
use std::path::Path;
use std::process::Command;

/// A small, fast model on the embedded data: 14×14 images, 300 of them, a 32-wide MLP.
const TRAIN: [&str; 15] = [
    "--downsample",
    "--images",
    "300",
    "--hidden",
    "32",
    "--batch",
    "16",
    "--lr",
    "2e-3",
    "--seed",
    "3",
    "--log-every",
    "10",
    "--checkpoint-every",
    "10",
];

/// Short generations of it.
const REFLOW: [&str; 12] = [
    "--model1-steps",
    "60",
    "--steps",
    "40",
    "--pairs",
    "64",
    "--sampler-steps",
    "4",
    "--eval-steps",
    "1,2",
    "--eval-samples",
    "50",
];

fn reflow_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["reflow"];
    args.extend_from_slice(&TRAIN);
    args.extend_from_slice(&REFLOW);
    args.extend_from_slice(extra);
    args
}

fn reflow(cwd: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flowcollapse")).args(reflow_args(extra)).current_dir(cwd).output().unwrap()
}

/// Start a reflow run in the background and return once `marker` exists (or after two minutes).
fn spawn_until(cwd: &Path, extra: &[&str], marker: &Path) -> std::process::Child {
    let child = Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
        .args(reflow_args(extra))
        .current_dir(cwd)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !marker.exists() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child
}

fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let c = Checkpoint::load(path).unwrap();
    let mut t: Vec<_> = c.tensors.into_iter().map(|t| (t.name, t.data)).collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t
}

#[test]
fn records_follow_the_contract_and_the_page_references_only_files_that_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let arms = "reflow,ra,ora,oras,accumulate,independent,reflow:unclipped";
    let mut records =
        jsonl(reflow(tmp.path(), &["--strategy", arms, "--generations", "2", "--format", "jsonl", "--out", "run"]));
    let done = records.pop().unwrap();
    assert!(done["report"].as_str().unwrap().ends_with("index.html"), "the last object names the page: {done}");
    // 7 arms × 3 generations × K ∈ {1, 2, 4}.
    assert_eq!(records.len(), 7 * 3 * 3);
    for r in &records {
        for key in [
            "strategy",
            "generation",
            "euler_steps",
            "nfe",
            "total_variance",
            "variance_ratio",
            "fd_pixel_pca",
            "fd_classifier",
            "precision",
            "recall",
            "straightness",
            "train_loss",
            "clip_pairs",
            "pairs_variance_ratio",
            "inverted_noise_std",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        let (strategy, generation) = (r["strategy"].as_str().unwrap(), r["generation"].as_u64().unwrap());
        assert_eq!(r["clip_pairs"], strategy != "reflow-unclipped", "{r}");
        assert_eq!(r["euler_steps"], r["nfe"], "Euler: one evaluation per step");
        // The embedded data has a classifier; pair diagnostics exist exactly where pairs were made or inverted.
        assert!(r["fd_classifier"].as_f64().unwrap() > 0.0);
        let stored = ["reflow", "ra", "accumulate", "reflow-unclipped"].contains(&strategy);
        assert_eq!(r["pairs_variance_ratio"].is_number(), generation > 1 && stored, "{r}");
        let inverts = ["ra", "ora", "oras"].contains(&strategy);
        assert_eq!(r["inverted_noise_std"].is_number(), generation > 1 && inverts, "{r}");
        let vr = r["variance_ratio"].as_f64().unwrap();
        assert!(vr > 0.0 && vr.is_finite());
    }
    // Generation 1 is model 1 for every arm: identical numbers.
    let gen1: Vec<_> = records.iter().filter(|r| r["generation"] == 1 && r["euler_steps"] == 4).collect();
    assert!(gen1.windows(2).all(|w| w[0]["fd_pixel_pca"] == w[1]["fd_pixel_pca"]));
    let run = tmp.path().join("run");
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert_eq!(missing_files(&run, &html), Vec::<String>::new());
    for name in
        ["variance_decay.png", "fd_generations.png", "recall_generations.png", "spectrum_last.png", "samples_ra.png"]
    {
        assert!(html.contains(name), "{name} not on the page");
    }
    let csv = std::fs::read_to_string(run.join("records.csv")).unwrap();
    assert_eq!(csv.lines().count(), records.len() + 1);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    // Pairs are on disk as safetensors [N, d].
    let pairs = Checkpoint::load(&run.join("reflow/gen-02/pairs.safetensors")).unwrap();
    assert_eq!(pairs.tensor("x1", &[64, 196], "").unwrap().data.len(), 64 * 196);
    assert!(pairs.tensor("x1", &[64, 196], "").unwrap().data.iter().all(|v| v.abs() <= 1.0), "clipped");
}

#[test]
fn the_control_arm_is_train_continued_on_the_same_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let out = reflow(tmp.path(), &["--strategy", "independent", "--generations", "2", "--out", "run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // 60 steps of model 1, then 40 + 40: the same as one `train` run of 140 steps.
    let mut args = vec!["train", "--steps", "140", "--out", "train"];
    args.extend_from_slice(&TRAIN);
    let train = flowcollapse(&args, tmp.path());
    assert!(train.status.success(), "{}", String::from_utf8_lossy(&train.stderr));
    let continued = tensors(&tmp.path().join("train/checkpoint.safetensors"));
    assert_eq!(tensors(&tmp.path().join("run/independent/gen-03/checkpoint.safetensors")), continued);
}

#[test]
fn sigkill_in_the_middle_of_a_generation_resumes_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let arms = ["--strategy", "reflow,ra,accumulate", "--generations", "2", "--refresh-epochs", "1"];
    let whole = reflow(tmp.path(), &[&arms[..], &["--out", "whole"]].concat());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    // Kill the second run once RA's second generation has a checkpoint in progress.
    let marker = tmp.path().join("killed/ra/gen-03/checkpoint.safetensors");
    let mut child = spawn_until(tmp.path(), &[&arms[..], &["--out", "killed"]].concat(), &marker);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(marker.exists(), "the run never reached RA's third generation");
    let resumed = flowcollapse(&["reflow", "--resume", "killed"], tmp.path());
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let read = |p: &str| std::fs::read(tmp.path().join(p)).unwrap();
    assert!(read("whole/records.json") == read("killed/records.json"), "records differ after the resume");
    for arm in ["reflow", "ra", "accumulate"] {
        for file in ["checkpoint.safetensors", "evaluation.json"] {
            let p = format!("{arm}/gen-03/{file}");
            assert!(read(&format!("whole/{p}")) == read(&format!("killed/{p}")), "{p} differs after the resume");
        }
    }
}

#[test]
fn bad_input_is_rejected_with_exit_2_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("notrain")).unwrap();
    std::fs::write(tmp.path().join("notrain/manifest.json"), br#"{"command": "dae"}"#).unwrap();
    // A train run whose checkpoint is corrupt.
    std::fs::create_dir(tmp.path().join("corrupt")).unwrap();
    std::fs::write(
        tmp.path().join("corrupt/manifest.json"),
        br#"{"command": "train", "params": {"downsample": true, "hidden": [32]}}"#,
    )
    .unwrap();
    std::fs::write(tmp.path().join("corrupt/checkpoint.safetensors"), b"not a checkpoint").unwrap();
    // A train run on 2-D Gaussian vectors: a 2-dimensional model.
    let gauss =
        flowcollapse(&["train", "--data", "gaussian", "--hidden", "8", "--steps", "5", "--out", "gauss"], tmp.path());
    assert!(gauss.status.success());
    let cases: &[(&[&str], &str)] = &[
        (&["--real-ratio", "1.5"], "real-ratio = 1.5"),
        (&["--real-ratio", "-0.1"], "real-ratio = -0.1"),
        (&["--generations", "0"], "generations = 0"),
        (&["--pairs", "10", "--batch", "16"], "pairs = 10"),
        (&["--strategy", "reflow,bogus"], "strategy = bogus"),
        (&["--strategy", "reflow:blurry"], "strategy = reflow:blurry"),
        (&["--from", "notrain"], "not \"train\""),
        (&["--from", "missing"], "invalid from"),
        (&["--from", "corrupt"], "checkpoint"),
        (&["--from", "gauss", "--data", "fashion-mnist"], "dimension"),
        (&["--sampler-steps", "0"], "sampler-steps = 0"),
        (&["--clip-pairs", "maybe"], "clip-pairs"),
        (&["--inversion-noise", "0"], "inversion-noise = 0"),
        (&["--eval-steps", "0"], "eval-steps = 0"),
        (&["--device", "cuda"], "device = cuda"),
    ];
    assert_rejected("reflow", cases, tmp.path());
}

/// Gaussian data: the trained network against `theory::reflow`'s closed form for the same K (the
/// linear-Gaussian model with fine time bins, i.e. the exact field at the solver's nodes).
///
/// Tolerance per direction and generation: the network's bias budget 0.06 (model 1 measured +0.045 along
/// λ = 4 at K = 8: the field's slope changes fastest near t = 0, where a small MLP smooths it), plus 4
/// standard deviations of a sample variance over n evaluation samples, `r·√(2/(n − 1))`.
#[test]
fn gaussian_generations_track_the_linear_gaussian_closed_form() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 4000usize;
    let out = flowcollapse(
        &[
            "reflow",
            "--data",
            "gaussian",
            "--spectrum",
            "4,0.25",
            "--hidden",
            "64,64",
            "--lr",
            "2e-3",
            "--model1-steps",
            "2000",
            "--steps",
            "1000",
            "--generations",
            "2",
            "--pairs",
            "4000",
            "--sampler-steps",
            "8",
            "--eval-steps",
            "1",
            "--eval-samples",
            &n.to_string(),
            "--strategy",
            "reflow,ra",
            "--refresh-epochs",
            "0",
            "--ema",
            "0.99",
            "--out",
            "run",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(tmp.path().join("run/gaussian_comparison.json")).unwrap()).unwrap();
    assert_eq!(rows.len(), 2 * 3 * 2, "two arms × three generations × two directions");
    let ratio = |s: &str, g: u64, lambda: f64| {
        rows.iter()
            .find(|r| r["strategy"] == s && r["generation"] == g && r["lambda"] == lambda)
            .map(|r| (r["variance_ratio"].as_f64().unwrap(), r["closed_form_variance_ratio"].as_f64().unwrap()))
            .unwrap()
    };
    for r in &rows {
        let (measured, closed) =
            (r["variance_ratio"].as_f64().unwrap(), r["closed_form_variance_ratio"].as_f64().unwrap());
        let tolerance = 0.06 + 4.0 * closed * (2.0 / (n as f64 - 1.0)).sqrt();
        assert!((measured - closed).abs() <= tolerance, "{r}: off by more than {tolerance:.3}");
    }
    // What the closed form predicts and the network reproduces: 8-step reflow keeps the few-step loss
    // (ratio ≈ 0.69), while RA's inverted real pairs restore the variance (≈ 1).
    for lambda in [4.0, 0.25] {
        let (reflow, _) = ratio("reflow", 3, lambda);
        let (ra, ra_closed) = ratio("ra", 3, lambda);
        assert!(ra_closed > 0.95 && ra > reflow + 0.2, "λ = {lambda}: RA {ra} against Reflow {reflow}");
    }
}

#[test]
fn sigterm_checkpoints_marks_the_run_interrupted_and_resumes_to_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let arms = ["--strategy", "reflow,ora", "--generations", "2"];
    let whole = reflow(tmp.path(), &[&arms[..], &["--out", "whole"]].concat());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let marker = tmp.path().join("stopped/ora/gen-02/checkpoint.safetensors");
    let child = spawn_until(tmp.path(), &[&arms[..], &["--out", "stopped"]].concat(), &marker);
    let term = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("stopped/manifest.json")).unwrap()).unwrap();
    if out.status.success() {
        // The signal came after the last step: nothing to interrupt.
        assert_eq!(manifest["status"], "complete");
    } else {
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("--resume"), "{stderr}");
        assert_eq!(manifest["status"], "interrupted");
        let resumed = flowcollapse(&["reflow", "--resume", "stopped"], tmp.path());
        assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    }
    let read = |p: &str| std::fs::read(tmp.path().join(p)).unwrap();
    assert!(read("whole/records.json") == read("stopped/records.json"), "records differ after the interruption");
}

/// A reflow run that this version would resolve differently (here a recorded Adam β₂ that differs) is not
/// resumed under other settings: exit 2 naming the setting, nothing written.
#[test]
fn a_resume_this_version_cannot_continue_exactly_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("run/model-1/checkpoint.safetensors");
    let mut child = spawn_until(tmp.path(), &["--strategy", "reflow", "--generations", "1", "--out", "run"], &marker);
    child.kill().unwrap();
    child.wait().unwrap();
    let path = tmp.path().join("run/manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["resolved"]["train"]["optim"]["beta2"] = serde_json::json!(0.95);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let before = std::fs::read(&path).unwrap();
    let out = flowcollapse(&["reflow", "--resume", "run"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot continue the run exactly") && stderr.contains("train.optim.beta2"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "the manifest is left as it was");
}
