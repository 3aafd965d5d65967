//! The `gaussian` figures: mean against median of the refitted variance, and the drift of the mean.

use crate::experiment::gaussian::{GaussianConfig, GaussianOutcome, GaussianRecord};
use crate::report::plot::{Chart, Scale, Series};

fn what_was_run(config: &GaussianConfig) -> String {
    let mc = match config.monte_carlo {
        Some(m) => format!("; points: Monte Carlo over {} paths", m.paths),
        None => String::new(),
    };
    format!("n = {}, d = {}, {} estimator{mc}", config.samples, config.dim(), config.estimator.name())
}

/// σ̂²_k/σ² per generation: the exact mean, the (approximate) median, and the Monte Carlo mean, median and
/// 5–95% band. Under Replace the mean can stay put while the median collapses.
pub fn variance(config: &GaussianConfig, outcomes: &[GaussianOutcome], records: &[GaussianRecord]) -> Chart {
    let mut series = Vec::new();
    for o in outcomes {
        let rows: Vec<&GaussianRecord> = records.iter().filter(|r| r.series == o.label).collect();
        let x = |r: &GaussianRecord| r.generation as f64;
        series.push(Series {
            label: format!("{}: mean", o.label),
            line: rows.iter().map(|r| (x(r), r.expected_variance)).collect(),
            points: rows.iter().filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_mean))).collect(),
            ..Series::default()
        });
        let median_line: Vec<(f64, f64)> =
            rows.iter().filter_map(|r| r.approx_median_variance.map(|v| (x(r), v))).collect();
        if !median_line.is_empty() || o.monte_carlo.is_some() {
            series.push(Series {
                label: format!("{}: median", o.label),
                line: median_line,
                points: rows.iter().filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_median))).collect(),
                band: rows.iter().filter_map(|r| r.mc.as_ref().map(|m| (x(r), m.mc_q05, m.mc_q95))).collect(),
                dashed: true,
            });
        }
    }
    let quantity = if config.dim() == 1 { "σ̂²_k / σ²" } else { "tr Σ̂_k / tr Σ" };
    Chart {
        title: "Refitting a Gaussian to its own samples: mean and median variance".into(),
        x_label: "generation k".into(),
        y_label: format!("fitted variance {quantity}"),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series,
        caption: Some(format!(
            "solid: exact mean; dashed: median (closed form, approximate, Replace in 1-D); band: 5–95% of paths; {}",
            what_was_run(config)
        )),
    }
}

/// The squared error of the fitted mean per generation.
pub fn mean_error(config: &GaussianConfig, outcomes: &[GaussianOutcome], records: &[GaussianRecord]) -> Chart {
    let series = outcomes
        .iter()
        .map(|o| {
            let rows: Vec<&GaussianRecord> = records.iter().filter(|r| r.series == o.label).collect();
            Series {
                label: o.label.clone(),
                line: rows.iter().map(|r| (r.generation as f64, r.expected_mean_error)).collect(),
                points: rows
                    .iter()
                    .filter_map(|r| r.mc.as_ref().map(|m| (r.generation as f64, m.mc_mean_error)))
                    .collect(),
                band: rows
                    .iter()
                    .filter_map(|r| {
                        r.mc.as_ref().map(|m| (r.generation as f64, m.mc_mean_error_lo, m.mc_mean_error_hi))
                    })
                    .collect(),
                ..Series::default()
            }
        })
        .collect();
    let quantity = if config.dim() == 1 { "(μ̂_k − μ)² / σ²" } else { "‖μ̂_k − m‖² / tr Σ" };
    Chart {
        title: "Drift of the fitted mean".into(),
        x_label: "generation k".into(),
        y_label: format!("mean squared error {quantity}"),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        series,
        caption: Some(format!(
            "lines: exact expectation; band: 95% CI of the Monte Carlo mean; {}",
            what_was_run(config)
        )),
    }
}
