//! Writing a `dae` run: manifest, records and figures, into a staged [`RunDir`].

use super::figures;
use super::plot::{render, PlotError};
use super::records::{dae_records, to_csv, DaeRecord};
use super::rundir::RunDir;
use crate::experiment::dae::{DaeConfig, DaeParams, SeriesOutcome, CONFIDENCE_LEVEL};
use serde_json::json;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Write `manifest.json`, `records.csv`, `records.json` and the figures (PNG + SVG); return the records.
pub fn write_dae_run(
    run: &RunDir,
    params: &DaeParams,
    config: &DaeConfig,
    outcomes: &[SeriesOutcome],
) -> Result<Vec<DaeRecord>, ReportError> {
    let io = |name: &str| {
        let path = run.target().join(name);
        move |source| ReportError::Io { path, source }
    };
    let records = dae_records(outcomes, config.rule.name());
    run.write("records.csv", to_csv(&records).as_bytes()).map_err(io("records.csv"))?;
    let json = serde_json::to_vec_pretty(&records).expect("records serialise");
    run.write("records.json", &json).map_err(io("records.json"))?;

    let charts = [
        ("variance_decay", figures::variance_decay(config, outcomes)),
        ("spectrum", figures::spectrum(config, outcomes)),
        ("phi_norm", figures::end_to_end_norm(config, outcomes)),
    ];
    let mut files = vec!["manifest.json".to_string(), "records.csv".into(), "records.json".into()];
    for (stem, chart) in &charts {
        render(chart, &run.path().join(stem))?;
        files.push(format!("{stem}.png"));
        files.push(format!("{stem}.svg"));
    }

    let series: Vec<_> = outcomes
        .iter()
        .map(|o| {
            json!({
                "series": o.label,
                "strategy": o.spec.strategy.name(),
                "alpha": o.spec.strategy.alpha(),
                "same_as": o.spec.strategy.same_as(),
                "s": o.spec.s,
                "generations_to_threshold": o.generations_to_threshold,
                "fixed_point_spectrum": o.fixed_points.as_ref().map(|f| f.iter().map(|p| p.generated).collect::<Vec<_>>()),
                "fixed_point_local_rate": o.fixed_points.as_ref().map(|f| f.iter().map(|p| p.local_rate).fold(0.0, f64::max)),
            })
        })
        .collect();
    let manifest = json!({
        "command": "dae",
        "crate": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "params": params,
        "resolved": {
            "eigenvalues": config.covariance.eigenvalues(),
            "rule": config.rule.name(),
            "generations": config.generations,
            "seed": config.seed,
            "threshold": config.threshold,
            "samples": config.monte_carlo.map(|m| m.samples),
            "replicates": config.monte_carlo.map(|m| m.replicates),
            "confidence_level": CONFIDENCE_LEVEL,
            "spectrum_generation": config.spectrum_generation,
        },
        "series": series,
        "files": files,
    });
    let bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    run.write("manifest.json", &bytes).map_err(io("manifest.json"))?;
    Ok(records)
}
