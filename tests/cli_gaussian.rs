//! `flowcollapse gaussian` end to end: proofs/gaussian-*.md's closed forms, equality with the library, bad input.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};

use flowcollapse::sim::gaussian::{self, GaussianSetup, McConfig};
use flowcollapse::theory::{Covariance, Strategy};
use statrs::function::gamma::digamma;

#[test]
fn replace_records_match_theory_and_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "gaussian",
        "--samples",
        "10",
        "--generations",
        "8",
        "--paths",
        "2000",
        "--seed",
        "4",
        "--format",
        "jsonl",
        "--out",
        "g",
    ];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    assert_eq!(records.len(), 9);
    let n = 10.0_f64;
    let drift = digamma((n - 1.0) / 2.0) + (2.0 / n).ln();
    let setup = GaussianSetup {
        covariance: Covariance::from_spectrum(&[1.0]).unwrap(),
        n: 10,
        estimator: flowcollapse::theory::gaussian::Estimator::Mle,
        strategy: Strategy::Replace,
        generations: 8,
    };
    let sim = gaussian::run(&setup, &McConfig::new(2000, 4)).unwrap();
    for (k, r) in records.iter().enumerate() {
        // proofs/gaussian-*.md: E[σ̂²_k] = σ² ((n−1)/n)^k for MLE; log drift ψ((n−1)/2) + ln(2/n).
        assert!((r["expected_variance"].as_f64().unwrap() - (0.9f64).powi(k as i32)).abs() < 1e-12, "{r}");
        assert!((r["log_drift"].as_f64().unwrap() - drift).abs() < 1e-10, "{r}");
        assert!((r["expected_log_variance"].as_f64().unwrap() - k as f64 * drift).abs() < 1e-9, "{r}");
        // In 1-D ln det is ln σ̂²: the same exact mean.
        assert!((r["expected_log_det"].as_f64().unwrap() - k as f64 * drift).abs() < 1e-9, "{r}");
        for key in ["n", "estimator", "strategy", "mc_mean", "mc_median", "mc_q05", "mc_q95"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["mc_mean"].as_f64().unwrap(), sim[k].variance_ratio.mean.mean);
        assert_eq!(r["mc_median"].as_f64().unwrap(), sim[k].variance_ratio.median);
        // Each mean's interval, and which kind it is.
        let log = sim[k].log_variance_ratio.mean;
        assert_eq!(r["mc_log_mean"].as_f64().unwrap(), log.mean);
        assert_eq!((r["mc_log_mean_lo"].as_f64(), r["mc_log_mean_hi"].as_f64()), (Some(log.lo), Some(log.hi)));
        assert_eq!(r["mc_log_det_mean"], r["mc_log_mean"]);
        assert_eq!(
            (r["mc_mean_interval"].as_str(), r["mc_log_interval"].as_str()),
            (Some("student-t"), Some("student-t"))
        );
    }
    for name in ["manifest.json", "records.csv", "variance.png", "mean_error.svg"] {
        assert!(tmp.path().join("g").join(name).is_file(), "{name}");
    }
}

#[test]
fn unbiased_replace_mean_error_grows_like_k_over_n() {
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "gaussian",
        "--samples",
        "25",
        "--estimator",
        "unbiased",
        "--generations",
        "40",
        "--format",
        "jsonl",
        "--out",
        "g",
    ];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    // proofs/gaussian-*.md: E[(μ̂_k − μ)²] = k σ²/n and E[σ̂²_k] = σ² under unbiased Replace.
    for (k, r) in records.iter().enumerate() {
        assert!((r["expected_mean_error"].as_f64().unwrap() - k as f64 / 25.0).abs() < 1e-12, "{r}");
        assert!((r["expected_variance"].as_f64().unwrap() - 1.0).abs() < 1e-12, "{r}");
    }
}

#[test]
fn bad_input_exits_2_without_run_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--samples", "1"], "samples"),
        (&["--dim", "5", "--samples", "5"], "samples"),
        (&["--dim", "0"], "dim"),
        (&["--alpha", "2"], "alpha"),
        (&["--paths", "1"], "paths"),
        (&["--generations", "0"], "generations"),
        (&["--strategy", "accumulate", "--fresh-real"], "fresh-real"),
    ];
    assert_rejected("gaussian", cases, tmp.path());
}
