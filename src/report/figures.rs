//! The `dae` figures, built from the outcomes as [`Chart`]s; each says in its caption what it measured.

use super::plot::{Chart, Scale, Series};
use crate::experiment::dae::{DaeConfig, SeriesOutcome, CONFIDENCE_LEVEL};

fn generation_axis(x: usize) -> f64 {
    x as f64
}

/// Caption shared by the per-generation charts.
fn caption(config: &DaeConfig) -> String {
    let d = config.covariance.dim();
    let mc = match config.monte_carlo {
        Some(m) => format!(
            "; points: Monte Carlo mean of {} replicates, n = {}, band: {:.0}% CI",
            m.replicates,
            m.samples,
            CONFIDENCE_LEVEL * 100.0
        ),
        None => String::new(),
    };
    format!("lines: closed form (d = {d}, {} rule){mc}", config.rule.name())
}

/// Closed form as a line, Monte Carlo as points with a band, per series.
fn per_generation(
    outcomes: &[SeriesOutcome],
    closed: impl Fn(&crate::theory::dae::GenerationSummary) -> f64,
    mc: impl Fn(&crate::sim::dae::McGeneration) -> crate::sim::stats::Interval,
) -> Vec<Series> {
    outcomes
        .iter()
        .map(|o| {
            let line = o.closed_form.iter().map(|g| (generation_axis(g.generation), closed(g))).collect();
            let (points, band) = match &o.monte_carlo {
                Some(m) => m
                    .iter()
                    .map(|g| {
                        let iv = mc(g);
                        let x = generation_axis(g.generation);
                        ((x, iv.mean), (x, iv.lo, iv.hi))
                    })
                    .unzip(),
                None => (Vec::new(), Vec::new()),
            };
            Series { label: o.label.clone(), line, points, band, dashed: false }
        })
        .collect()
}

/// tr(S_k)/tr(Σ) per generation.
pub fn variance_decay(config: &DaeConfig, outcomes: &[SeriesOutcome]) -> Chart {
    Chart {
        title: "Linear DAE retrained on its own outputs: variance per generation".into(),
        x_label: "generation k".into(),
        y_label: "trace ratio tr(S_k) / tr(Σ)".into(),
        y_scale: if config.log_y { Scale::Log } else { Scale::Linear },
        x_scale: Scale::Linear,
        series: per_generation(outcomes, |g| g.trace_ratio, |g| g.trace_ratio),
        caption: Some(caption(config)),
    }
}

/// ‖Φ_k‖ = ‖W_k ⋯ W_1‖₂ per generation.
pub fn end_to_end_norm(config: &DaeConfig, outcomes: &[SeriesOutcome]) -> Chart {
    Chart {
        title: "End-to-end map of k retrained denoisers".into(),
        x_label: "generation k".into(),
        y_label: "‖Φ_k‖₂ = ‖W_k ⋯ W_1‖₂".into(),
        y_scale: if config.log_y { Scale::Log } else { Scale::Linear },
        x_scale: Scale::Linear,
        series: per_generation(outcomes, |g| g.phi_norm, |g| g.phi_norm),
        caption: Some(caption(config)),
    }
}

/// Spectra below this fraction of the smallest positive real eigenvalue are drawn at it: a collapsed
/// direction would otherwise stretch a log axis over hundreds of decades.
pub const SPECTRUM_FLOOR: f64 = 1e-6;

/// The generated spectrum at generation K against the real one (log scale: spectra span decades).
pub fn spectrum(config: &DaeConfig, outcomes: &[SeriesOutcome]) -> Chart {
    let k = config.spectrum_generation;
    let lambda = config.covariance.eigenvalues();
    let floor = SPECTRUM_FLOOR * lambda.iter().copied().filter(|&l| l > 0.0).fold(f64::INFINITY, f64::min);
    let curve = |values: &[f64]| -> Vec<(f64, f64)> {
        values.iter().enumerate().map(|(i, &v)| ((i + 1) as f64, v.max(floor))).collect()
    };
    let real =
        Series { label: "real data (generation 0)".into(), line: curve(lambda), dashed: true, ..Series::default() };
    let mut series = vec![real];
    series.extend(outcomes.iter().map(|o| Series {
        label: format!("{} (generation {k})", o.label),
        line: curve(&o.spectrum),
        points: o.monte_carlo.as_ref().map(|m| curve(&m[k].spectrum)).unwrap_or_default(),
        ..Series::default()
    }));
    Chart {
        title: format!("Covariance spectrum after {k} generations"),
        x_label: "eigen-direction i (largest real variance first)".into(),
        y_label: "variance along direction i".into(),
        y_scale: Scale::Log,
        x_scale: Scale::Linear,
        series,
        caption: Some(format!(
            "lines: closed form; points: Monte Carlo mean of sorted sample eigenvalues ({} rule); \
             values below {floor:.1e} drawn at {floor:.1e}",
            config.rule.name()
        )),
    }
}
