//! The project's bad-input suite: bad values for every command, each run in an empty directory under a
//! 4 GiB address-space limit. Every one must exit with code 2, say `invalid FLAG = VALUE` and what is
//! allowed (or name the file and what is wrong with it), never panic, and leave nothing behind.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One bad input: the arguments, then what the message must contain (the flag and value, then the range).
struct Case {
    args: &'static [&'static str],
    needles: &'static [&'static str],
    /// FLOWCOLLAPSE_MEMORY_LIMIT for the memory estimates, in bytes.
    memory_limit: Option<&'static str>,
}

const fn case(args: &'static [&'static str], needles: &'static [&'static str]) -> Case {
    Case { args, needles, memory_limit: None }
}

const fn with_limit(args: &'static [&'static str], needles: &'static [&'static str], limit: &'static str) -> Case {
    Case { args, needles, memory_limit: Some(limit) }
}

/// `FIXTURE/` in an argument is replaced by the fixtures directory (outside the working directory).
const CASES: &[Case] = &[
    // Negative numbers reach their flag (they were "unexpected argument '-5'").
    case(&["dae", "--generations", "-5"], &["invalid generations = -5", "allowed a whole number ≥ 0"]),
    case(&["gaussian", "--seed", "-1"], &["invalid seed = -1", "allowed a whole number ≥ 0"]),
    case(&["train", "--steps", "-1"], &["invalid steps = -1", "allowed a whole number ≥ 0"]),
    case(&["train", "--clip", "-1"], &["invalid clip = -1", "allowed a finite number > 0"]),
    case(&["train", "--ema", "-0.5"], &["invalid ema = -0.5", "allowed [0, 1)"]),
    case(&["dae", "--spectrum", "-1,2"], &["spectrum", "is -1", "finite and ≥ 0"]),
    case(&["train", "--hidden", "-3,4"], &["invalid hidden = -3", "whole numbers ≥ 0"]),
    case(&["flow", "--euler-steps", "-2"], &["invalid euler-steps = -2", "whole numbers ≥ 0"]),
    case(&["gaussian", "--alpha", "-0.1"], &["invalid alpha = -0.1", "allowed values in [0, 1]"]),
    case(&["linear-reflow", "--ridge", "-1"], &["invalid ridge = -1", "allowed a finite γ ≥ 0"]),
    case(&["dae", "--s", "-1"], &["invalid s = -1", "allowed finite values > 0"]),
    case(&["dae", "--samples", "1e3"], &["invalid samples = 1e3", "digits only"]),
    case(
        &["dae", "--seed", "18446744073709551615"],
        &["invalid seed = 18446744073709551615", "up to 9223372036854775807"],
    ),
    // dae
    case(&["dae", "--generations", "0"], &["invalid generations = 0", "allowed 1 to"]),
    case(&["dae", "--s", "0"], &["invalid s = 0", "allowed finite values > 0"]),
    case(&["dae", "--alpha", "1.5"], &["invalid alpha = 1.5", "allowed values in [0, 1]"]),
    case(&["dae", "--samples", "2"], &["invalid samples = 2", "allowed 10 to"]),
    case(&["dae", "--samples", "100", "--replicates", "1"], &["invalid replicates = 1", "allowed 2 to"]),
    case(&["dae", "--threshold", "2"], &["invalid threshold = 2", "allowed a trace ratio in (0, 1)"]),
    case(&["dae", "--spectrum-generation", "99"], &["invalid spectrum-generation = 99", "allowed 0 to 30"]),
    case(&["dae", "--rule", "sideways"], &["invalid rule = sideways", "allowed noisy, clean"]),
    case(&["dae", "--cov", "FIXTURE/ragged.csv"], &["ragged.csv, line 2", "1 columns, but the first row has 2"]),
    case(&["dae", "--cov", "FIXTURE/"], &["FIXTURE", "Is a directory"]),
    case(&["dae", "--config", "FIXTURE/unknown.toml"], &["config file", "unknown.toml", "unknown field"]),
    case(&["dae", "--config", "FIXTURE/wrong-type.toml"], &["config file", "wrong-type.toml", "invalid type"]),
    with_limit(
        &["dae", "--config", "FIXTURE/wide.toml", "--samples", "3002"],
        &["invalid samples = settings needing about", "allowed at most the 1.0 GB of memory"],
        "1e9",
    ),
    // gaussian
    case(&["gaussian", "--samples", "1"], &["invalid samples = 1", "allowed 2 to"]),
    case(&["gaussian", "--dim", "0"], &["invalid dim = 0", "allowed 1 to 256"]),
    case(&["gaussian", "--paths", "1"], &["invalid paths = 1", "allowed 2 to"]),
    case(&["gaussian", "--generations", "0"], &["invalid generations = 0", "allowed 1 to"]),
    case(&["gaussian", "--estimator", "median"], &["invalid estimator = median", "allowed mle, unbiased"]),
    // flow
    case(&["flow", "--spectrum", "0,1"], &["invalid spectrum", "eigenvalue 0", "every eigenvalue > 0"]),
    case(&["flow", "--euler-steps", "0"], &["invalid euler-steps = 0", "allowed 1 to"]),
    case(&["flow", "--mean", "1,2,3"], &["invalid mean = 3 values", "allowed 2 values"]),
    case(&["flow", "--cov", "FIXTURE/missing.csv"], &["missing.csv", "No such file"]),
    // linear-reflow
    case(&["linear-reflow", "--euler-steps", "0"], &["invalid euler-steps = 0", "allowed 1 to"]),
    case(&["linear-reflow", "--bins", "0"], &["invalid bins = 0", "allowed 1 to"]),
    case(&["linear-reflow", "--pairs", "3"], &["invalid pairs = 3", "allowed 8 to"]),
    case(
        &["linear-reflow", "--euler-steps", "64", "--pairs", "100", "--alpha", "0.5"],
        &["invalid pairs = 100", "allowed at least 128"],
    ),
    case(
        &["linear-reflow", "--alpha", "0.01", "--pairs", "40"],
        &["invalid pairs = 40", "its 0 real and 40 synthetic"],
    ),
    case(&["linear-reflow", "--pairs", "100", "--replicates", "1"], &["invalid replicates = 1", "allowed 2 to"]),
    case(
        &["linear-reflow", "--euler-steps", "100000", "--generations", "10000"],
        &["invalid generations = settings needing about 48.0 GB", "allowed at most"],
    ),
    // train
    case(&["train", "--steps", "0"], &["invalid steps = 0", "allowed 1 to"]),
    case(&["train", "--ema", "1"], &["invalid ema = 1", "allowed [0, 1)"]),
    case(&["train", "--lr", "0"], &["invalid lr = 0", "allowed (0, 1]"]),
    case(&["train", "--hidden", "0"], &["invalid hidden = [0]", "allowed widths in 1..=65536"]),
    case(&["train", "--batch", "0"], &["invalid batch = 0", "allowed 1..="]),
    case(&["train", "--embed", "3"], &["invalid embed = 3", "allowed an even number"]),
    case(&["train", "--log-every", "0"], &["invalid log-every = 0", "allowed ≥ 1"]),
    case(&["train", "--checkpoint-every", "0"], &["invalid checkpoint-every = 0", "allowed ≥ 1"]),
    case(&["train", "--max-loss-ratio", "0.5"], &["invalid max-loss-ratio = 0.5", "allowed a finite ratio > 1"]),
    case(&["train", "--device", "gpu"], &["invalid device = gpu", "allowed cpu, cuda"]),
    case(&["train", "--data", "idx"], &["invalid data-dir = nothing", "allowed a directory of IDX files"]),
    case(&["train", "--data", "idx", "--data-dir", "FIXTURE/ragged.csv"], &["ragged.csv is a file, not a directory"]),
    case(
        &["train", "--data", "idx", "--data-dir", "FIXTURE/idx-as-dirs"],
        &["train-images-idx3-ubyte is a directory, not a file"],
    ),
    case(
        &["train", "--downsample", "--hidden", "65536,65536", "--batch", "2"],
        &["invalid hidden/batch/images = settings needing about", "allowed at most"],
    ),
    case(
        &["train", "--data", "gaussian", "--images", "1000000000000"],
        &["invalid hidden/batch/images = settings needing about", "allowed at most"],
    ),
    case(&["--threads", "0", "train"], &["invalid threads = 0", "allowed 1 to 1024"]),
    // reflow
    case(&["reflow", "--pairs", "1"], &["invalid pairs = 1", "allowed 128 (one batch"]),
    case(&["reflow", "--generations", "0"], &["invalid generations = 0", "allowed 1 to 1000"]),
    case(&["reflow", "--sampler-steps", "0"], &["invalid sampler-steps = 0", "allowed 1 to"]),
    case(&["reflow", "--real-ratio", "2"], &["invalid real-ratio = 2", "allowed [0, 1]"]),
    case(&["reflow", "--inversion-noise", "0"], &["invalid inversion-noise = 0", "allowed (0, 10]"]),
    case(&["reflow", "--eval-samples", "5"], &["invalid eval-samples = 5", "allowed 10 to 100000"]),
    case(&["reflow", "--eval-steps", "0"], &["invalid eval-steps = 0", "allowed 1 to"]),
    case(&["reflow", "--strategy", "foo"], &["invalid strategy = foo", "allowed reflow, ra, ora"]),
    case(&["reflow", "--clip-pairs", "maybe"], &["invalid clip-pairs = maybe", "allowed on, off"]),
    case(&["reflow", "--from", "FIXTURE/not-a-run"], &["invalid from = ", "allowed: a `train` run directory"]),
    with_limit(
        &["reflow", "--pairs", "1000000"],
        &["invalid pairs = settings needing about 12.5 GB", "allowed at most the 1.0 GB"],
        "1e9",
    ),
    // sample, eval, classifier, demo
    case(&["sample", "--run", "FIXTURE/not-a-run"], &["invalid run = ", "allowed: a `train` run directory"]),
    case(&["eval", "--run", "FIXTURE/not-a-run"], &["invalid run = ", "allowed: a `train` run directory"]),
    case(&["sample", "--config", "FIXTURE/unknown.toml"], &["config file", "unknown.toml", "unknown field"]),
    case(&["eval", "--samples", "10"], &["invalid run = nothing", "allowed a `train` run directory"]),
    case(&["classifier", "--size", "20"], &["invalid size = 20", "allowed 28 or 14"]),
    case(&["demo", "--threads", "0"], &["invalid threads = 0", "allowed 1 to 1024"]),
];

/// The fixtures the cases name, in `dir`.
fn write_fixtures(dir: &Path) {
    std::fs::write(dir.join("ragged.csv"), "1,2\n3\n").unwrap();
    std::fs::write(dir.join("unknown.toml"), "a = 1\n").unwrap();
    std::fs::write(dir.join("wrong-type.toml"), "s = \"x\"\n").unwrap();
    std::fs::write(dir.join("wide.toml"), format!("spectrum = [{}]\n", vec!["1.0"; 3000].join(","))).unwrap();
    std::fs::create_dir_all(dir.join("idx-as-dirs/train-images-idx3-ubyte")).unwrap();
    std::fs::create_dir_all(dir.join("not-a-run")).unwrap();
}

/// Run one case in the empty directory `cwd` under a 4 GiB address-space limit; (exit code, stderr).
fn run(args: &[String], cwd: &Path, memory_limit: Option<&str>) -> (Option<i32>, String) {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -v 4194304 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_flowcollapse"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(limit) = memory_limit {
        command.env("FLOWCOLLAPSE_MEMORY_LIMIT", limit);
    }
    let mut child = command.spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("{args:?} still running after 60 s: bad input must be refused up front");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_bad_input_is_refused_by_name_with_nothing_left() {
    let fixtures = tempfile::tempdir().unwrap();
    write_fixtures(fixtures.path());
    let fixture_dir = fixtures.path().to_str().unwrap();
    let mut failures = Vec::new();
    for case in CASES {
        let cwd = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = case.args.iter().map(|a| a.replace("FIXTURE", fixture_dir)).collect();
        // Every command that writes gets an --out that must not appear.
        if !["sample", "eval"].contains(&case.args[0]) && case.args[0] != "--threads" {
            args.extend(["--out".to_string(), "out".to_string()]);
        }
        let (code, stderr) = run(&args, cwd.path(), case.memory_limit);
        let missing: Vec<String> =
            case.needles.iter().map(|n| n.replace("FIXTURE", fixture_dir)).filter(|n| !stderr.contains(n)).collect();
        let left: Vec<_> = std::fs::read_dir(cwd.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        if code != Some(2) || !missing.is_empty() || stderr.contains("panicked") || !left.is_empty() {
            failures.push(format!("{args:?}: exit {code:?}, missing {missing:?}, left {left:?}: {stderr}"));
        }
    }
    println!("bad-input suite: {} cases, {} refused as required", CASES.len(), CASES.len() - failures.len());
    assert!(CASES.len() >= 40);
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
}
