//! The example configurations in examples/configs/: each reads into its command's parameters and validates,
//! the keys its comments show (commented out) are real keys too, every file there is covered by a check, and
//! the fast one runs end to end through the binary.

mod common;

use common::flowcollapse;
use flowcollapse::experiment::dae::DaeParams;
use flowcollapse::experiment::flow::FlowParams;
use flowcollapse::experiment::gaussian::GaussianParams;
use flowcollapse::experiment::input::read_toml;
use flowcollapse::experiment::linear_reflow::LinearReflowParams;
use flowcollapse::experiment::reflow::ReflowParams;
use flowcollapse::experiment::train::TrainParams;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs")
}

/// One example: its file, how to read it, and how to read and validate it.
struct Example {
    file: &'static str,
    read: fn(&Path) -> Result<(), String>,
    validate: fn(&Path) -> Result<(), String>,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn read<P: DeserializeOwned>(path: &Path) -> Result<(), String> {
    read_toml::<P>(path).map(drop).map_err(text)
}

/// Every command that takes `--config`, with its example. A new file in examples/configs needs a line here.
const EXAMPLES: [Example; 6] = [
    Example {
        file: "dae.toml",
        read: read::<DaeParams>,
        validate: |p| read_toml::<DaeParams>(p).map_err(text)?.validate().map(drop).map_err(text),
    },
    Example {
        file: "flow.toml",
        read: read::<FlowParams>,
        validate: |p| read_toml::<FlowParams>(p).map_err(text)?.validate().map(drop).map_err(text),
    },
    Example {
        file: "gaussian.toml",
        read: read::<GaussianParams>,
        validate: |p| read_toml::<GaussianParams>(p).map_err(text)?.validate().map(drop).map_err(text),
    },
    Example {
        file: "linear-reflow.toml",
        read: read::<LinearReflowParams>,
        validate: |p| read_toml::<LinearReflowParams>(p).map_err(text)?.validate().map(drop).map_err(text),
    },
    Example {
        file: "train.toml",
        read: read::<TrainParams>,
        validate: |p| read_toml::<TrainParams>(p).map_err(text)?.validate().map(drop).map_err(text),
    },
    Example {
        file: "reflow.toml",
        read: read::<ReflowParams>,
        // Without --from: model 1 is trained by the run itself.
        validate: |p| read_toml::<ReflowParams>(p).map_err(text)?.validate(None).map(drop).map_err(text),
    },
];

#[test]
fn every_example_reads_and_validates() {
    for example in &EXAMPLES {
        let path = configs().join(example.file);
        if let Err(e) = (example.validate)(&path) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn every_toml_file_in_the_directory_has_a_check() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(configs())
        .expect("examples/configs exists")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    let checked: BTreeSet<String> = EXAMPLES.iter().map(|e| e.file.to_string()).collect();
    assert_eq!(on_disk, checked, "examples/configs and the EXAMPLES of this test must name the same files");
}

/// The comments show optional keys as `# key = value` lines (left out because they conflict with the file's
/// choices, or need a file or directory). Each must still be a key of its command: read alone, in the table
/// it sits under.
#[test]
fn commented_out_keys_are_real_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    for example in &EXAMPLES {
        let text = std::fs::read_to_string(configs().join(example.file)).unwrap();
        let mut table = String::new();
        for line in text.lines() {
            if line.starts_with('[') {
                table = line.to_string();
            }
            let Some(rest) = line.strip_prefix("# ") else { continue };
            let Some((key, _)) = rest.split_once(" = ") else { continue };
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()) {
                continue; // prose that happens to hold " = "
            }
            let single = tmp.path().join("single.toml");
            std::fs::write(&single, format!("{table}\n{rest}\n")).unwrap();
            if let Err(e) = (example.read)(&single) {
                panic!("{}: commented-out `{rest}` is not a key: {e}", example.file);
            }
            seen.insert(format!("{} {key}", example.file));
        }
    }
    // What the files show now: the parser above must find at least these.
    for shown in [
        "gaussian.toml alpha",
        "gaussian.toml fresh_real",
        "linear-reflow.toml strategy",
        "train.toml data_dir",
        "train.toml spectrum",
        "reflow.toml from",
    ] {
        assert!(seen.contains(shown), "`# {shown} = …` not found among {seen:?}");
    }
}

/// A key the file does not have is refused, so the check above does test something.
#[test]
fn an_unknown_key_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("typo.toml");
    std::fs::write(&path, "generation = 3\n").unwrap();
    let message = (EXAMPLES[0].read)(&path).expect_err("a misspelt key");
    assert!(message.contains("generation") && message.contains("typo.toml"), "{message}");
}

#[test]
fn the_dae_example_runs_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let config = configs().join("dae.toml");
    let result =
        flowcollapse(&["dae", "--config", config.to_str().unwrap(), "--format", "jsonl", "--out", "run"], tmp.path());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    // The file's settings reached the run: 2 series (α = 0 and 0.5) × generations 0…30, Monte Carlo on.
    let records = common::jsonl(result);
    assert_eq!(records.len(), 2 * 31);
    let alphas: BTreeSet<String> = records.iter().map(|r| r["alpha"].to_string()).collect();
    assert_eq!(alphas, BTreeSet::from(["0.0".to_string(), "0.5".to_string()]));
    assert!(records.iter().all(|r| r["s"] == 0.1 && r["mc_trace_ratio_mean"].is_number()));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("run/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["params"]["spectrum"], serde_json::json!([3.0, 1.0, 0.2]));
    assert_eq!(manifest["params"]["samples"], 500);
}
