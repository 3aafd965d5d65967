//! `flowcollapse dae` end to end: files, the jsonl contract, equality with the library, bad input.

mod common;

use common::{assert_rejected, flowcollapse};

use flowcollapse::sim::dae::{run, DaeSetup, MonteCarlo};
use flowcollapse::theory::dae::summaries;
use flowcollapse::theory::{Covariance, RealPool, Rule, Strategy};
use serde_json::Value;

const SPECTRUM: [f64; 3] = [3.0, 1.0, 0.2];

#[test]
fn sweep_writes_parsable_records_equal_to_library() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let args = [
        "dae",
        "--spectrum",
        "3,1,0.2",
        "--s",
        "0.1,0.2",
        "--alpha",
        "0,0.5",
        "--samples",
        "200",
        "--replicates",
        "4",
        "--generations",
        "5",
        "--seed",
        "9",
        "--format",
        "jsonl",
        "--out",
    ];
    let mut args: Vec<&str> = args.to_vec();
    args.push(out.to_str().unwrap());
    let result = flowcollapse(&args, tmp.path());
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));

    let lines: Vec<Value> =
        String::from_utf8(result.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2 * 2 * 6, "2 noise levels × 2 alphas × generations 0…5");

    let cov = Covariance::from_spectrum(&SPECTRUM).unwrap();
    let mc = MonteCarlo { samples: 200, replicates: 4, seed: 9 };
    // Series order: s outer, alpha inner.
    for (index, (s, alpha)) in [(0.1, 0.0), (0.1, 0.5), (0.2, 0.0), (0.2, 0.5)].into_iter().enumerate() {
        let strategy = Strategy::Mix { alpha, pool: RealPool::Fixed };
        let closed = summaries(&SPECTRUM, s, strategy, Rule::Noisy, 5);
        let setup = DaeSetup { covariance: &cov, s, strategy, rule: Rule::Noisy, generations: 5 };
        let sim = run(&setup, &mc, index as u64, 0.95).unwrap();
        for k in 0..=5 {
            let r = &lines[index * 6 + k];
            assert_eq!(r["generation"], k);
            assert_eq!(r["strategy"], "mix");
            assert_eq!(r["alpha"], alpha);
            assert_eq!(r["s"], s);
            assert_eq!(r["rule"], "noisy");
            assert_eq!(r["same_as"], if alpha == 0.0 { Value::from("replace") } else { Value::Null });
            assert!(r["series"].as_str().unwrap().contains(&format!("s={s}")));
            assert_eq!(r["trace_ratio"].as_f64().unwrap(), closed[k].trace_ratio);
            assert_eq!(r["top_eigenvalue"].as_f64().unwrap(), closed[k].top_eigenvalue);
            assert_eq!(r["w_norm"].as_f64().unwrap(), closed[k].w_norm);
            assert_eq!(r["phi_norm"].as_f64().unwrap(), closed[k].phi_norm);
            assert_eq!(r["mc_trace_ratio_mean"].as_f64().unwrap(), sim[k].trace_ratio.mean);
            assert_eq!(r["mc_trace_ratio_lo"].as_f64().unwrap(), sim[k].trace_ratio.lo);
            assert_eq!(r["mc_trace_ratio_hi"].as_f64().unwrap(), sim[k].trace_ratio.hi);
        }
    }

    // The run directory: records.json holds the same objects, records.csv one row each, the manifest the seed.
    let json: Vec<Value> = serde_json::from_slice(&std::fs::read(out.join("records.json")).unwrap()).unwrap();
    assert_eq!(json, lines);
    let csv = std::fs::read_to_string(out.join("records.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert_eq!(csv.lines().count(), 1 + lines.len());
    let col = header.iter().position(|h| *h == "trace_ratio").unwrap();
    let last_row: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    assert_eq!(last_row[col].parse::<f64>().unwrap(), lines.last().unwrap()["trace_ratio"].as_f64().unwrap());
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["resolved"]["seed"], 9);
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    for stem in ["variance_decay", "spectrum", "phi_norm"] {
        let png = std::fs::read(out.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is a PNG");
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.contains("mix α=0.5 at s=0.2"), "{stem}.svg names the series");
    }
    // Nothing else was left in the parent: no staging directory, no temporary files.
    let names: Vec<String> =
        std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, vec!["run".to_string()]);
}

#[test]
fn without_out_a_fresh_run_directory_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let result = flowcollapse(&["dae", "--strategy", "accumulate", "--generations", "3"], tmp.path());
    assert!(result.status.success());
    let stdout = String::from_utf8(result.stdout).unwrap();
    let dir = stdout.lines().last().unwrap().strip_prefix("run directory: ").unwrap();
    assert!(dir.starts_with("runs/dae-"), "{dir}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join(dir).join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["series"][0]["strategy"], "accumulate");
    assert_eq!(manifest["series"][0]["alpha"], Value::Null);
}

#[test]
fn config_file_is_read_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), "spectrum = [2.0, 0.5]\ns = 0.3\ngenerations = 7\nrule = \"clean\"\n")
        .unwrap();
    let result = flowcollapse(
        &["dae", "--config", "c.toml", "--generations", "4", "--format", "jsonl", "--out", "r"],
        tmp.path(),
    );
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    let lines: Vec<Value> =
        String::from_utf8(result.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let closed = summaries(&[2.0, 0.5], 0.3, Strategy::Replace, Rule::Clean, 4);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["trace_ratio"].as_f64().unwrap(), closed[4].trace_ratio);
    assert_eq!(lines[4]["rule"], "clean");
}

#[test]
fn bad_input_exits_2_without_run_dir() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("asym.csv"), "1,0.5\n0.4,1\n").unwrap();
    std::fs::write(tmp.path().join("indef.csv"), "1,2\n2,1\n").unwrap();
    std::fs::write(tmp.path().join("ragged.csv"), "1,0\n0\n").unwrap();
    std::fs::write(tmp.path().join("text.csv"), "1,x\n0,1\n").unwrap();
    std::fs::write(tmp.path().join("unknown.toml"), "sigma = 0.1\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--s", "0"], "s"),
        (&["--s", "-1"], "s"),
        (&["--s", "NaN"], "s"),
        (&["--alpha", "1.5"], "alpha"),
        (&["--alpha", "-0.1"], "alpha"),
        (&["--strategy", "replace", "--alpha", "0.5"], "alpha"),
        (&["--spectrum", "1,-1"], "spectrum"),
        (&["--cov", "asym.csv"], "symmetric"),
        (&["--cov", "indef.csv"], "positive semi-definite"),
        (&["--cov", "ragged.csv"], "line 2"),
        (&["--cov", "text.csv"], "'x'"),
        (&["--cov", "missing.csv"], "missing.csv"),
        (&["--samples", "5"], "samples"),
        (&["--samples", "100", "--replicates", "1"], "replicates"),
        (&["--generations", "0"], "generations"),
        (&["--threshold", "1.5"], "threshold"),
        (&["--config", "unknown.toml"], "sigma"),
        (&["--strategy", "sometimes"], "strategy"),
    ];
    assert_rejected("dae", cases, tmp.path());
    // Allowed ranges are named for the values the tool itself checks.
    let result = flowcollapse(&["dae", "--s", "0", "--out", "x"], tmp.path());
    assert!(String::from_utf8_lossy(&result.stderr).contains("allowed finite values > 0"));
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
