//! The `reflow` figures: the generated variance per generation, per direction and over the trace.

use crate::experiment::linear_reflow::{LinearReflowConfig, LinearReflowOutcome, LinearReflowRecord};
use crate::report::plot::{Chart, Scale, Series};

fn what_was_run(config: &LinearReflowConfig) -> String {
    let mc = match config.monte_carlo {
        Some(m) => format!("; points: Monte Carlo mean of {} replicates with N = {} pairs", m.replicates, m.pairs),
        None => String::new(),
    };
    format!("K = {} Euler steps, B = {} time bins, ridge γ = {}{mc}", config.steps, config.bins, config.ridge)
}

/// β_k²/λ per generation for every strategy and direction: the closed form as a line, the Monte Carlo mean
/// as points over the 5–95% band of its replicates (the spread of single runs, not the mean's interval).
pub fn variance(
    config: &LinearReflowConfig,
    outcomes: &[LinearReflowOutcome],
    records: &[LinearReflowRecord],
) -> Chart {
    let mut series = Vec::new();
    for o in outcomes {
        for (direction, &lambda) in config.spectrum.iter().enumerate() {
            let rows: Vec<&LinearReflowRecord> =
                records.iter().filter(|r| r.series == o.label && r.direction == direction).collect();
            let x = |r: &LinearReflowRecord| r.generation as f64;
            series.push(Series {
                label: format!("{}, λ = {lambda}", o.label),
                line: rows.iter().map(|r| (x(r), r.variance_ratio)).collect(),
                points: rows.iter().filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_variance_ratio_mean))).collect(),
                band: rows
                    .iter()
                    .filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_variance_ratio_q05, m.mc_variance_ratio_q95)))
                    .collect(),
                dashed: direction % 2 == 1,
            });
        }
    }
    Chart {
        title: "Linear-Gaussian reflow: generated variance per generation".into(),
        x_label: "generation k (model k trains on pairs built from models 1…k−1)".into(),
        y_label: "generated variance / real variance  (β_k² / λ)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series,
        caption: Some(format!(
            "lines: closed form (population limit); band: 5–95% of replicates; {}",
            what_was_run(config)
        )),
    }
}

/// `Σ β_k² / Σ λ` per generation for every strategy, closed form and Monte Carlo mean with its 95% interval.
pub fn trace(config: &LinearReflowConfig, outcomes: &[LinearReflowOutcome], records: &[LinearReflowRecord]) -> Chart {
    let series = outcomes
        .iter()
        .map(|o| {
            let rows: Vec<&LinearReflowRecord> =
                records.iter().filter(|r| r.series == o.label && r.direction == 0).collect();
            let x = |r: &LinearReflowRecord| r.generation as f64;
            Series {
                label: o.label.clone(),
                line: rows.iter().map(|r| (x(r), r.trace_ratio)).collect(),
                points: rows.iter().filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_trace_ratio_mean))).collect(),
                band: rows
                    .iter()
                    .filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_trace_ratio_lo, m.mc_trace_ratio_hi)))
                    .collect(),
                dashed: false,
            }
        })
        .collect();
    Chart {
        title: "Linear-Gaussian reflow: total generated variance".into(),
        x_label: "generation k".into(),
        y_label: "tr Cov(generated) / tr Σ".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series,
        caption: Some(format!("lines: closed form; band: 95% CI of the Monte Carlo mean; {}", what_was_run(config))),
    }
}
