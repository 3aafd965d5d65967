//! Records: one row per series and generation, as CSV, JSON and JSON lines (the scripting contract).

use crate::experiment::dae::SeriesOutcome;
use crate::sim::stats::Interval;
use serde::Serialize;

/// One series at one generation. Field names are the `--format jsonl` contract; do not rename.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DaeRecord {
    pub series: String,
    pub strategy: &'static str,
    /// Real-data fraction: 0 for Replace, α for Mix, null for Accumulate.
    pub alpha: Option<f64>,
    /// Mix only: whether real samples are fresh each generation (else one fixed pool).
    pub fresh_real: Option<bool>,
    /// The strategy this series is a special case of (Mix with α = 0 is Replace).
    pub same_as: Option<&'static str>,
    pub s: f64,
    pub rule: &'static str,
    pub generation: usize,
    pub trace_ratio: f64,
    pub top_eigenvalue: f64,
    pub w_norm: f64,
    pub phi_norm: f64,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub mc: Option<McColumns>,
}

/// Monte Carlo means and 95% confidence bounds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct McColumns {
    pub mc_trace_ratio_mean: f64,
    pub mc_trace_ratio_lo: f64,
    pub mc_trace_ratio_hi: f64,
    pub mc_top_eigenvalue_mean: f64,
    pub mc_top_eigenvalue_lo: f64,
    pub mc_top_eigenvalue_hi: f64,
    pub mc_w_norm_mean: f64,
    pub mc_w_norm_lo: f64,
    pub mc_w_norm_hi: f64,
    pub mc_phi_norm_mean: f64,
    pub mc_phi_norm_lo: f64,
    pub mc_phi_norm_hi: f64,
}

/// Flatten the outcomes into records, series by series, generation 0 first.
pub fn dae_records(outcomes: &[SeriesOutcome], rule: &'static str) -> Vec<DaeRecord> {
    let mut records = Vec::new();
    for o in outcomes {
        let fresh_real = match o.spec.strategy {
            crate::theory::Strategy::Mix { pool, .. } => Some(pool == crate::theory::RealPool::Fresh),
            _ => None,
        };
        for (k, c) in o.closed_form.iter().enumerate() {
            let mc = o.monte_carlo.as_ref().map(|m| {
                let g = &m[k];
                let [tr, top, w, phi]: [Interval; 4] = [g.trace_ratio, g.top_eigenvalue, g.w_norm, g.phi_norm];
                McColumns {
                    mc_trace_ratio_mean: tr.mean,
                    mc_trace_ratio_lo: tr.lo,
                    mc_trace_ratio_hi: tr.hi,
                    mc_top_eigenvalue_mean: top.mean,
                    mc_top_eigenvalue_lo: top.lo,
                    mc_top_eigenvalue_hi: top.hi,
                    mc_w_norm_mean: w.mean,
                    mc_w_norm_lo: w.lo,
                    mc_w_norm_hi: w.hi,
                    mc_phi_norm_mean: phi.mean,
                    mc_phi_norm_lo: phi.lo,
                    mc_phi_norm_hi: phi.hi,
                }
            });
            records.push(DaeRecord {
                series: o.label.clone(),
                strategy: o.spec.strategy.name(),
                alpha: o.spec.strategy.alpha(),
                fresh_real,
                same_as: o.spec.strategy.same_as(),
                s: o.spec.s,
                rule,
                generation: c.generation,
                trace_ratio: c.trace_ratio,
                top_eigenvalue: c.top_eigenvalue,
                w_norm: c.w_norm,
                phi_norm: c.phi_norm,
                mc,
            });
        }
    }
    records
}

/// CSV with a header taken from the records' JSON field names; absent values are empty cells.
pub fn to_csv<T: Serialize>(records: &[T]) -> String {
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = records
        .iter()
        .map(|r| match serde_json::to_value(r).expect("records serialise") {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("records are structs"),
        })
        .collect();
    // Union of the columns, in first-seen order (rows without Monte Carlo lack its columns).
    let mut header: Vec<String> = Vec::new();
    for row in &rows {
        for key in row.keys() {
            if !header.contains(key) {
                header.push(key.clone());
            }
        }
    }
    let mut out = header.join(",");
    out.push('\n');
    for row in &rows {
        let cells: Vec<String> = header.iter().map(|key| cell(row.get(key))).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.clone()
            }
        }
        Some(other) => other.to_string(),
    }
}

/// One JSON object per line.
pub fn to_jsonl<T: Serialize>(records: &[T]) -> String {
    records.iter().map(|r| serde_json::to_string(r).expect("records serialise") + "\n").collect()
}
