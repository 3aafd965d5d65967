//! A `train` run killed between any two of its writes resumes to the run it would have been: the same
//! checkpoint bytes, the same logged steps and losses, a manifest that agrees with its checkpoint. And a
//! resume follows the settings recorded when the run started, or refuses.

mod common;

use common::flowcollapse;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Gaussian data and a tiny MLP: 60 steps, a checkpoint every 20, a record every 10.
fn args<'a>(out: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--data",
        "gaussian",
        "--images",
        "200",
        "--hidden",
        "16",
        "--batch",
        "8",
        "--lr",
        "2e-3",
        "--steps",
        steps,
        "--checkpoint-every",
        "20",
        "--log-every",
        "10",
        "--out",
        out,
        "--format",
        "jsonl",
    ]
}

/// (step, loss) of every record in `dir`'s records.json.
fn logged(dir: &Path) -> Vec<(u64, f64)> {
    let records: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.join("records.json")).unwrap()).unwrap();
    records.iter().map(|r| (r["step"].as_u64().unwrap(), r["loss"].as_f64().unwrap())).collect()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn a_kill_between_any_two_writes_resumes_to_the_same_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = flowcollapse(&args("whole", "60"), tmp.path());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let reference = tmp.path().join("whole");
    let mut trials = 0;
    for write in ["records", "checkpoint"] {
        for step in [20, 40] {
            let out = format!("{write}-{step}");
            let killed = Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
                .args(args(&out, "60"))
                .env("FLOWCOLLAPSE_ABORT_AFTER", format!("{write}:{step}"))
                .current_dir(tmp.path())
                .output()
                .unwrap();
            assert!(!killed.status.success(), "{write}:{step}: the fault point must stop the process");
            let dir = tmp.path().join(&out);
            let resumed = flowcollapse(&["train", "--resume", dir.to_str().unwrap(), "--format", "jsonl"], tmp.path());
            assert!(resumed.status.success(), "{write}:{step}: {}", String::from_utf8_lossy(&resumed.stderr));
            assert_eq!(
                std::fs::read(dir.join("checkpoint.safetensors")).unwrap(),
                std::fs::read(reference.join("checkpoint.safetensors")).unwrap(),
                "{write}:{step}: checkpoint bytes"
            );
            assert_eq!(logged(&dir), logged(&reference), "{write}:{step}: every logged step, once, same loss");
            let m = manifest(&dir);
            assert_eq!((m["status"].as_str(), m["checkpoint_step"].as_u64()), (Some("complete"), Some(60)));
            trials += 1;
        }
    }
    println!("kill-and-resume trials at the write boundaries: {trials}, all resumed exactly");
}

#[test]
fn a_resume_follows_the_recorded_settings_or_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = flowcollapse(&args("whole", "40"), tmp.path());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let part = flowcollapse(&args("part", "20"), tmp.path());
    assert!(part.status.success(), "{}", String::from_utf8_lossy(&part.stderr));
    let dir = tmp.path().join("part");
    // The settings as the user gave them lose --lr: as if this binary's default had changed since. The run
    // continues with the recorded, resolved learning rate.
    let mut m = manifest(&dir);
    m["params"].as_object_mut().unwrap().remove("lr");
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let resumed = flowcollapse(&["train", "--resume", dir.to_str().unwrap(), "--steps", "40"], tmp.path());
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(
        std::fs::read(dir.join("checkpoint.safetensors")).unwrap(),
        std::fs::read(tmp.path().join("whole/checkpoint.safetensors")).unwrap(),
        "resumed with the recorded lr = 2e-3, not the default"
    );
    // A run this version would resolve differently (here: Adam's β₂) cannot be continued exactly.
    let part = flowcollapse(&args("part2", "20"), tmp.path());
    assert!(part.status.success());
    let dir = tmp.path().join("part2");
    let mut m = manifest(&dir);
    m["resolved"]["optim"]["beta2"] = serde_json::json!(0.95);
    std::fs::write(dir.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let before = std::fs::read(dir.join("checkpoint.safetensors")).unwrap();
    let refused = flowcollapse(&["train", "--resume", dir.to_str().unwrap(), "--steps", "40"], tmp.path());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot continue the run exactly") && stderr.contains("optim.beta2"), "{stderr}");
    assert!(stderr.contains("0.95"), "{stderr}");
    assert_eq!(std::fs::read(dir.join("checkpoint.safetensors")).unwrap(), before, "nothing written");
}
