//! The `dae` figures, built from the outcomes as [`Chart`]s; each says in its caption what it measured.

use crate::experiment::dae::{DaeConfig, SeriesOutcome, CONFIDENCE_LEVEL};
use crate::report::plot::{Chart, Scale, Series};
use crate::sim::dae::McGeneration;
use crate::sim::stats::Interval;
use crate::theory::dae::GenerationSummary;

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

/// A per-generation chart: per series, the closed form as a line and the Monte Carlo as points with a band.
fn per_generation(
    config: &DaeConfig,
    outcomes: &[SeriesOutcome],
    (title, y_label): (&str, &str),
    closed: impl Fn(&GenerationSummary) -> f64,
    mc: impl Fn(&McGeneration) -> Interval,
) -> Chart {
    let series = outcomes
        .iter()
        .map(|o| {
            let x = |g: usize| g as f64;
            let line = o.closed_form.iter().map(|g| (x(g.generation), closed(g))).collect();
            let (points, band) = match &o.monte_carlo {
                Some(m) => m
                    .iter()
                    .map(|g| {
                        let iv = mc(g);
                        ((x(g.generation), iv.mean), (x(g.generation), iv.lo, iv.hi))
                    })
                    .unzip(),
                None => (Vec::new(), Vec::new()),
            };
            Series { label: o.label.clone(), line, points, band, dashed: false }
        })
        .collect();
    Chart {
        title: title.into(),
        x_label: "generation k".into(),
        y_label: y_label.into(),
        y_scale: if config.log_y { Scale::Log } else { Scale::Linear },
        x_scale: Scale::Linear,
        series,
        caption: Some(caption(config)),
    }
}

/// tr(S_k)/tr(Σ) per generation.
pub fn variance_decay(config: &DaeConfig, outcomes: &[SeriesOutcome]) -> Chart {
    let text = ("Linear DAE retrained on its own outputs: variance per generation", "trace ratio tr(S_k) / tr(Σ)");
    per_generation(config, outcomes, text, |g| g.trace_ratio, |g| g.trace_ratio)
}

/// ‖Φ_k‖ = ‖W_k ⋯ W_1‖₂ per generation.
pub fn end_to_end_norm(config: &DaeConfig, outcomes: &[SeriesOutcome]) -> Chart {
    let text = ("End-to-end map of k retrained denoisers", "‖Φ_k‖₂ = ‖W_k ⋯ W_1‖₂");
    per_generation(config, outcomes, text, |g| g.phi_norm, |g| g.phi_norm)
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
