//! `flowcollapse train` end to end: the loss falls, checkpoints are bit-identical across thread counts and
//! across an interruption, records follow the contract, bad input exits 2.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};
use flowcollapse::checkpoint::Checkpoint;
use std::path::Path;
use std::process::Command;

/// A small, fast run on the embedded data: 14×14 images, 300 of them, a 32-wide MLP.
const SMALL: [&str; 10] =
    ["--downsample", "--images", "300", "--hidden", "32", "--batch", "16", "--log-every", "10", "--lr"];

fn train(cwd: &Path, out: &str, steps: &str, threads: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["train", "--out", out, "--steps", steps, "--format", "jsonl", "--checkpoint-every", "20"];
    args.extend_from_slice(&SMALL);
    args.push("2e-3");
    if !extra.contains(&"--seed") {
        args.extend_from_slice(&["--seed", "5"]);
    }
    args.extend_from_slice(extra);
    let output = Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
        .args(&args)
        .current_dir(cwd)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    jsonl(output)
}

fn checkpoint_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("checkpoint.safetensors")).unwrap()
}

#[test]
fn loss_falls_and_records_follow_the_contract() {
    let tmp = tempfile::tempdir().unwrap();
    let records = train(tmp.path(), "run", "200", "2", &[]);
    // 20 logged steps, then the final object with the checkpoint path.
    assert_eq!(records.len(), 21);
    let (logged, done) = records.split_at(20);
    for (i, r) in logged.iter().enumerate() {
        assert_eq!(r["step"], 10 * (i as u64 + 1));
        assert!(r["loss"].as_f64().unwrap().is_finite() && r["images_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    // The first window's loss is near the untrained value E‖u‖²/d ≈ 1 + E[x1²]; the last is clearly lower.
    let (first, last) = (logged[0]["loss"].as_f64().unwrap(), logged[19]["loss"].as_f64().unwrap());
    assert!(last < 0.8 * first, "loss {first} → {last}");
    let checkpoint = done[0]["checkpoint"].as_str().unwrap();
    let c = Checkpoint::load(&tmp.path().join(checkpoint)).unwrap();
    assert_eq!(c.meta::<u64>("step", "", "").unwrap(), 200);
    assert_eq!(c.tensor("ema.layers.0.weight", &[32, 196 + 16], "").unwrap().data.len(), 32 * 212);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("run/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    for name in ["records.csv", "records.json", "loss.png", "samples.png", "checkpoint.safetensors"] {
        assert!(tmp.path().join("run").join(name).is_file(), "{name}");
    }
}

#[test]
fn same_seed_gives_the_same_checkpoint_bytes_on_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), "one", "40", "1", &[]);
    train(tmp.path(), "two", "40", "2", &[]);
    assert_eq!(checkpoint_bytes(&tmp.path().join("one")), checkpoint_bytes(&tmp.path().join("two")));
    // A different seed gives different weights: the equality above is not vacuous.
    train(tmp.path(), "other", "40", "2", &["--seed", "6"]);
    assert_ne!(checkpoint_bytes(&tmp.path().join("one")), checkpoint_bytes(&tmp.path().join("other")));
}

#[test]
fn resuming_gives_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    train(tmp.path(), "whole", "60", "2", &[]);
    train(tmp.path(), "parts", "20", "2", &[]);
    let resumed =
        jsonl(flowcollapse(&["train", "--resume", "parts", "--steps", "60", "--format", "jsonl"], tmp.path()));
    assert_eq!(resumed.first().unwrap()["step"], 30, "logging continues after the checkpoint's step");
    assert_eq!(checkpoint_bytes(&tmp.path().join("whole")), checkpoint_bytes(&tmp.path().join("parts")));
    // The records of the resumed run cover every logged step once.
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(tmp.path().join("parts/records.json")).unwrap()).unwrap();
    let steps: Vec<u64> = records.iter().map(|r| r["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (1..=6).map(|i| 10 * i).collect::<Vec<_>>());
}

#[test]
fn bad_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("broken")).unwrap();
    std::fs::write(tmp.path().join("broken/train-images-idx3-ubyte"), [0u8, 0, 8, 3, 0, 0, 0, 9]).unwrap();
    std::fs::write(tmp.path().join("broken/train-labels-idx1-ubyte"), [0u8, 0, 8, 1, 0, 0, 0, 9]).unwrap();
    std::fs::write(tmp.path().join("unknown.toml"), "learning_rate = 0.1\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--lr", "0"], "lr"),
        (&["--lr", "NaN"], "lr"),
        (&["--ema", "1"], "ema"),
        (&["--batch", "0"], "batch"),
        (&["--steps", "0"], "steps"),
        (&["--hidden", "0"], "hidden"),
        (&["--embed", "3"], "embed"),
        (&["--images", "0"], "images"),
        (&["--device", "cuda"], "device"),
        (&["--data", "idx"], "data-dir"),
        (&["--data", "idx", "--data-dir", "missing"], "missing"),
        (&["--data", "idx", "--data-dir", "broken"], "train-images-idx3-ubyte"),
        (&["--data", "gaussian", "--spectrum", "4,-1"], "spectrum"),
        (&["--data", "gaussian", "--downsample"], "downsample"),
        (&["--config", "unknown.toml"], "learning_rate"),
        (&["--max-loss-ratio", "0.5"], "invalid max-loss-ratio = 0.5: allowed a finite ratio > 1"),
    ];
    assert_rejected("train", cases, tmp.path());
    // Resuming: a directory without a run, and flags that would change the run.
    train(tmp.path(), "done", "20", "2", &[]);
    for (args, needle) in [
        (vec!["train", "--resume", "nothing-here"], "manifest.json"),
        (vec!["train", "--resume", "done", "--lr", "0.1"], "only --steps"),
        (vec!["train", "--resume", "done", "--steps", "10"], "at least the checkpoint's step 20"),
    ] {
        let out = flowcollapse(&args, tmp.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

/// Learning rate 1 without clipping blows the loss up to ~10⁵ while staying finite: the divergence guard
/// stops the run (exit 1, status `diverged`, the flag named); with the guard off the same run completes.
#[test]
fn an_exploding_finite_loss_stops_training() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["train", "--data", "gaussian", "--hidden", "64,64", "--steps", "300", "--lr", "1", "--clip", "0"];
    let out = flowcollapse(&[&args[..], &["--out", "guarded"]].concat(), tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("times the zero field's loss") && stderr.contains("--max-loss-ratio"), "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("guarded/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["status"], "diverged");
    let records = jsonl(flowcollapse(
        &[&args[..], &["--max-loss-ratio", "0", "--log-every", "50", "--out", "free", "--format", "jsonl"]].concat(),
        tmp.path(),
    ));
    let worst = records.iter().filter_map(|r| r["loss"].as_f64()).fold(0.0, f64::max);
    assert!(worst > 1e4 && worst.is_finite(), "without the guard the loss explodes finitely: {worst}");
}

/// A bad value in a resumed run's manifest (edited by hand, or written by another version) is reported as
/// coming from the manifest, not as if the user had typed it.
#[test]
fn a_bad_value_in_the_manifest_of_a_resumed_run_names_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let out =
        flowcollapse(&["train", "--data", "gaussian", "--hidden", "8", "--steps", "5", "--out", "run"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = tmp.path().join("run/manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["resolved_params"]["lr"] = serde_json::json!(5.0);
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let out = flowcollapse(&["train", "--resume", "run", "--steps", "10"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("run/manifest.json: the resumed run's settings: invalid lr = 5"), "{stderr}");
}
