//! `flowcollapse demo --quick` (about half a minute): the page and the reflow report are written, the
//! records cover every arm, generation and step count, and they show what the demo is for: reflow
//! straightens the paths and loses quality generation after generation, while the control (the same steps
//! of ordinary training) does neither. The effects are several-fold, far beyond seed-to-seed noise.

mod common;

use common::flowcollapse;
use serde_json::Value;

#[test]
fn the_quick_demo_writes_its_pages_and_shows_reflow_collapse() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowcollapse(&["demo", "--quick", "--out", "demo"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().last(), Some("demo/index.html"), "the page is the last line: {stdout}");
    let dir = tmp.path().join("demo");
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains("reflow/index.html"), "the demo page links the reflow report");
    assert!(dir.join("reflow/index.html").exists());

    let records: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.join("reflow/records.json")).unwrap()).unwrap();
    let arms = ["reflow", "ra", "ora", "independent"];
    let generations = records.iter().filter_map(|r| r["generation"].as_u64()).max().unwrap();
    let steps: Vec<u64> = {
        let mut k: Vec<u64> = records.iter().filter_map(|r| r["euler_steps"].as_u64()).collect();
        k.sort();
        k.dedup();
        k
    };
    // Four strategies plus the unclipped reflow arm, every generation from model 1, every K.
    assert_eq!(records.len(), 5 * generations as usize * steps.len());
    let k = *steps.last().unwrap();
    let at = |strategy: &str, clipped: bool, generation: u64, field: &str| {
        records
            .iter()
            .find(|r| {
                r["strategy"] == strategy
                    && r["clip_pairs"] == clipped
                    && r["generation"] == generation
                    && r["euler_steps"] == k
            })
            .and_then(|r| r[field].as_f64())
            .unwrap_or_else(|| panic!("no {field} for {strategy} generation {generation}"))
    };
    for arm in arms {
        assert!(at(arm, true, 1, "fd_classifier") > 0.0, "{arm} has model 1's record");
    }
    let (first, last) = (1, generations);
    assert!(at("reflow", true, last, "straightness") < 0.7 * at("reflow", true, first, "straightness"));
    assert!(at("independent", true, last, "straightness") > 0.9 * at("independent", true, first, "straightness"));
    assert!(at("reflow", true, last, "fd_classifier") > 2.0 * at("reflow", true, first, "fd_classifier"));
    assert!(at("independent", true, last, "fd_classifier") < 1.5 * at("independent", true, first, "fd_classifier"));
}
