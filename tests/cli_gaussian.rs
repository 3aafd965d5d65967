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

/// The records a `--format jsonl` run printed, whatever its exit status.
fn printed(output: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn a_monte_carlo_that_stops_keeps_the_closed_forms() {
    // d = 2, n = 3 = d + 1, Mix α = 0.34 on a fixed pool of r = 1 real point: each model fits that point and
    // two samples of the last model, a nearly singular 2 × 2 covariance, and after a few generations some
    // path's pooled covariance no longer factors (SingularFit). The α = 0 series (Replace, which carries its
    // Cholesky factor) runs to the end. Before, the command exited 1 with neither records nor run directory.
    let tmp = tempfile::tempdir().unwrap();
    let base = ["gaussian", "--dim", "2", "--samples", "3", "--alpha", "0,0.34", "--generations", "30"];
    let with_mc: Vec<&str> =
        base.iter().copied().chain(["--paths", "2000", "--format", "jsonl", "--out", "mc"]).collect();
    let output = flowcollapse(&with_mc, tmp.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("mix α=0.34 (fixed pool)") && stderr.contains("singular"), "{stderr}");
    assert!(!stderr.contains("mix α=0 (fixed pool)"), "the α = 0 series did not fail: {stderr}");
    let records = printed(&output);
    assert_eq!(records.len(), 2 * 31, "every series and generation is printed");
    for name in ["manifest.json", "records.csv", "records.json", "variance.png", "mean_error.svg"] {
        assert!(tmp.path().join("mc").join(name).is_file(), "{name}");
    }

    // The closed forms are those of a run without Monte Carlo, record for record.
    let closed_only: Vec<&str> = base.iter().copied().chain(["--format", "jsonl", "--out", "closed"]).collect();
    let closed = jsonl(flowcollapse(&closed_only, tmp.path()));
    assert_eq!(closed.len(), records.len());
    for (r, c) in records.iter().zip(&closed) {
        for key in ["series", "generation", "expected_variance", "expected_mean_error", "expected_log_det"] {
            assert_eq!(r[key], c[key], "{key}: {r} vs {c}");
        }
    }

    // Independently of the library: α = 0 is Replace, E[tr Σ̂_k]/tr Σ = (2/3)^k and E‖μ̂_k − m‖²/tr Σ =
    // 1 − (2/3)^k (proofs/gaussian-expected-variance.md, gaussian-mean-error.md). α = 0.34 is r = 1 real
    // point of n = 3 (a = 1/3, D = 3), the fixed-pool recursion of proofs/gaussian-mix.md:
    // v_k = [(r − 1) + (n − r)(n − 1)/n · v + r(n − r)/n · d] / D, d_k = (1 − a)² d + (1 − a) v/n, d_0 = 1/r,
    // m_k = d_k + (1 − 2(1 − a)^k)/r.
    let (n, r, a) = (3.0, 1.0, 1.0 / 3.0);
    let (mut v, mut d) = (1.0f64, 1.0 / r);
    let (replace, mix): (Vec<_>, Vec<_>) = records.iter().partition(|x| x["alpha"].as_f64() == Some(0.0));
    for k in 0..=30usize {
        let f = |x: &serde_json::Value, key: &str| x[key].as_f64().unwrap();
        let (vr, mr) = ((2.0f64 / 3.0).powi(k as i32), 1.0 - (2.0f64 / 3.0).powi(k as i32));
        assert!((f(replace[k], "expected_variance") / vr - 1.0).abs() < 1e-12, "{}", replace[k]);
        assert!((f(replace[k], "expected_mean_error") - mr).abs() < 1e-12, "{}", replace[k]);
        if k > 0 {
            let v_next = ((r - 1.0) + (n - r) * (n - 1.0) / n * v + r * (n - r) / n * d) / n;
            d = (1.0 - a) * (1.0 - a) * d + (1.0 - a) * v / n;
            v = v_next;
        }
        let m = d + (1.0 - 2.0 * (1.0 - a).powi(k as i32)) / r;
        assert!((f(mix[k], "expected_variance") / v - 1.0).abs() < 1e-12, "k={k}: {} vs {v}", mix[k]);
        assert!((f(mix[k], "expected_mean_error") - m).abs() < 1e-12, "k={k}: {} vs {m}", mix[k]);
        // Replace's Monte Carlo ran to the end.
        assert!(replace[k].get("mc_mean").is_some(), "{}", replace[k]);
    }

    // The failed series keeps its Monte Carlo columns up to the generation before the failure, none after;
    // the error names that generation.
    let failed_at = mix.iter().position(|x| x.get("mc_mean").is_none()).expect("the Monte Carlo stopped");
    assert!(failed_at >= 2 && mix[failed_at..].iter().all(|x| x.get("mc_mean").is_none()));
    assert!(stderr.contains(&format!("generation {failed_at} ")), "{stderr}");
    assert!(stderr.contains(&format!("up to generation {}", failed_at - 1)), "{stderr}");

    // The human summary names both series before the error.
    let human: Vec<&str> = base.iter().copied().chain(["--paths", "2000", "--out", "human"]).collect();
    let output = flowcollapse(&human, tmp.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout.contains("mix α=0 (fixed pool)") && stdout.contains("mix α=0.34 (fixed pool)"), "{stdout}");
    assert!(stdout.contains("stopped early"), "{stdout}");
}
