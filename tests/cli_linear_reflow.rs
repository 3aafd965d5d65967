//! `flowcollapse linear-reflow` end to end: records equal the library (theory::reflow, sim::reflow), the default
//! comparison, the config file, determinism and bad input.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};

use flowcollapse::sim::reflow::{run as simulate, ReflowMc, ReflowSetup};
use flowcollapse::theory::reflow::reflow;
use flowcollapse::theory::{RealPool, Strategy};

#[test]
fn default_run_compares_reflow_ra_and_accumulate_in_closed_form() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["linear-reflow", "--euler-steps", "4", "--generations", "5", "--format", "jsonl", "--out", "run"];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    let strategies = [Strategy::Replace, Strategy::Mix { alpha: 0.5, pool: RealPool::Fixed }, Strategy::Accumulate];
    // Series by series, direction by direction (λ = 4 then 0.25), generations 0…5.
    assert_eq!(records.len(), strategies.len() * 2 * 6);
    let mut rows = records.iter();
    for strategy in strategies {
        let paths: Vec<_> = [4.0, 0.25].iter().map(|&l| reflow(l, 4, 4, 0.0, strategy, 5)).collect();
        for (direction, (lambda, path)) in [4.0, 0.25].iter().zip(&paths).enumerate() {
            for g in path {
                let r = rows.next().unwrap();
                assert_eq!(r["strategy"], strategy.name());
                assert_eq!(r["direction"], direction);
                assert_eq!(r["lambda"], *lambda);
                assert_eq!(r["generation"], g.generation);
                assert_eq!((r["euler_steps"].as_u64(), r["bins"].as_u64()), (Some(4), Some(4)), "B defaults to K");
                assert_eq!(r["variance_ratio"].as_f64().unwrap(), g.variance_ratio);
                assert_eq!(r["reverse_gain"].as_f64().unwrap(), g.reverse_gain);
                let trace =
                    (paths[0][g.generation].forward_gain.powi(2) + paths[1][g.generation].forward_gain.powi(2)) / 4.25;
                assert!((r["trace_ratio"].as_f64().unwrap() - trace).abs() < 1e-15, "{r}");
                assert!(r.get("mc_variance_ratio_mean").is_none() && r["pairs"].is_null());
            }
        }
    }
    for name in ["manifest.json", "records.csv", "records.json", "variance.png", "variance.svg", "trace.png"] {
        assert!(tmp.path().join("run").join(name).is_file(), "{name}");
    }
}

#[test]
fn monte_carlo_columns_equal_the_library_and_ignore_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "linear-reflow",
        "--strategy",
        "accumulate",
        "--spectrum",
        "2",
        "--euler-steps",
        "3",
        "--bins",
        "2",
        "--ridge",
        "0.1",
        "--generations",
        "4",
        "--pairs",
        "500",
        "--replicates",
        "5",
        "--seed",
        "7",
        "--format",
        "jsonl",
        "--out",
    ];
    let on = |threads: &str, out: &str| {
        let mut all = args.to_vec();
        all.push(out);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_flowcollapse"))
            .args(&all)
            .current_dir(tmp.path())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        jsonl(output)
    };
    let (one, two) = (on("1", "a"), on("2", "b"));
    assert_eq!(one, two);
    let setup = ReflowSetup {
        spectrum: vec![2.0],
        steps: 3,
        bins: 2,
        ridge: 0.1,
        strategy: Strategy::Accumulate,
        generations: 4,
    };
    // The CLI's only series is series 0, and its intervals are at 95%.
    let library = simulate(&setup, &ReflowMc { pairs: 500, replicates: 5, seed: 7 }, 0, 0.95);
    for (r, m) in one.iter().zip(&library) {
        assert_eq!(r["pairs"], 500);
        assert_eq!(r["mc_variance_ratio_mean"].as_f64().unwrap(), m.variance_ratio[0].mean.mean);
        assert_eq!(r["mc_variance_ratio_q95"].as_f64().unwrap(), m.variance_ratio[0].q95);
        assert_eq!(r["mc_trace_ratio_hi"].as_f64().unwrap(), m.trace_ratio.mean.hi);
    }
}

#[test]
fn config_file_is_read_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("c.toml"), "spectrum = 9\neuler_steps = 2\nridge = 0.5\ngenerations = 8\n").unwrap();
    let args = ["linear-reflow", "--config", "c.toml", "--generations", "3", "--alpha", "0.25", "--format", "jsonl"];
    let records = jsonl(flowcollapse(&[&args[..], &["--out", "r"]].concat(), tmp.path()));
    assert_eq!(records.len(), 4, "one series, one direction, generations 0…3");
    let exact = reflow(9.0, 2, 2, 0.5, Strategy::Mix { alpha: 0.25, pool: RealPool::Fixed }, 3);
    for (r, g) in records.iter().zip(&exact) {
        assert_eq!(r["variance_ratio"].as_f64().unwrap(), g.variance_ratio);
        assert_eq!(r["alpha"], 0.25);
        assert_eq!(r["fresh_real"], false);
    }
}

#[test]
fn bad_input_exits_2_without_run_dir() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("unknown.toml"), "steps = 4\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--spectrum", "4,0"], "positive definite"),
        (&["--euler-steps", "0"], "euler-steps"),
        (&["--bins", "0"], "bins"),
        (&["--ridge", "-0.1"], "γ ≥ 0"),
        (&["--ridge", "NaN"], "ridge"),
        (&["--generations", "0"], "generations"),
        (&["--pairs", "3", "--euler-steps", "8"], "at least one pair per time bin"),
        (&["--pairs", "100", "--replicates", "1"], "replicates"),
        // RA's 50 real and 50 synthetic pairs cannot each fill 64 bins (the Monte Carlo gave NaN).
        (&["--euler-steps", "64", "--pairs", "100", "--alpha", "0.5"], "pairs = 100: allowed at least 128 for RA"),
        (&["--pairs", "10000000", "--generations", "10000"], "replicates × pairs"),
        (&["--alpha", "1.5"], "alpha"),
        (&["--strategy", "accumulate", "--alpha", "0.5"], "only with --strategy mix"),
        (&["--config", "unknown.toml"], "steps"),
    ];
    assert_rejected("linear-reflow", cases, tmp.path());
}
