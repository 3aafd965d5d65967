//! Writing a run: records, figures and the manifest, into a staged [`RunDir`].

use super::figures;
use super::plot::{render, Chart, PlotError};
use super::records::{dae_records, to_csv, DaeRecord};
use super::rundir::RunDir;
use crate::experiment::dae::{DaeConfig, DaeParams, SeriesOutcome, CONFIDENCE_LEVEL};
use crate::experiment::flow::{FlowConfig, FlowParams, FlowRecord};
use crate::experiment::gaussian::{GaussianConfig, GaussianOutcome, GaussianParams, GaussianRecord};
use crate::experiment::linear_reflow::{
    LinearReflowConfig, LinearReflowOutcome, LinearReflowParams, LinearReflowRecord,
};
use serde::Serialize;
use serde_json::{json, Value};
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

/// The files every run has: `records.csv`, `records.json`, each chart as PNG + SVG, and `manifest.json`
/// (the given manifest with the list of files added), written last.
pub fn write_outputs<T: Serialize>(
    run: &RunDir,
    records: &[T],
    charts: &[(&str, Chart)],
    mut manifest: Value,
) -> Result<(), ReportError> {
    let write = |name: &str, bytes: &[u8]| {
        run.write(name, bytes).map(|_| ()).map_err(|source| ReportError::Io { path: run.target().join(name), source })
    };
    write("records.csv", to_csv(records).as_bytes())?;
    write("records.json", &serde_json::to_vec_pretty(records).expect("records serialise"))?;
    let mut files = vec!["manifest.json".to_string(), "records.csv".into(), "records.json".into()];
    for (stem, chart) in charts {
        render(chart, &run.path().join(stem))?;
        files.push(format!("{stem}.png"));
        files.push(format!("{stem}.svg"));
    }
    manifest["crate"] = json!(env!("CARGO_PKG_NAME"));
    manifest["version"] = json!(env!("CARGO_PKG_VERSION"));
    manifest["files"] = json!(files);
    write("manifest.json", &serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
}

/// A `dae` run: records per series and generation, the three figures, and a manifest with the parameters
/// as given and as resolved, threshold crossings and Mix fixed points. Returns the records.
pub fn write_dae_run(
    run: &RunDir,
    params: &DaeParams,
    config: &DaeConfig,
    outcomes: &[SeriesOutcome],
) -> Result<Vec<DaeRecord>, ReportError> {
    let records = dae_records(outcomes, config.rule.name());
    let charts = [
        ("variance_decay", figures::dae::variance_decay(config, outcomes)),
        ("spectrum", figures::dae::spectrum(config, outcomes)),
        ("phi_norm", figures::dae::end_to_end_norm(config, outcomes)),
    ];
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
    });
    write_outputs(run, &records, &charts, manifest)?;
    Ok(records)
}

/// A `flow` run: one record per Euler step count, the three figures, and the manifest.
pub fn write_flow_run(
    run: &RunDir,
    params: &FlowParams,
    config: &FlowConfig,
    records: &[FlowRecord],
) -> Result<(), ReportError> {
    let charts = [
        ("euler_variance", figures::flow::euler_variance(config)),
        ("straightness", figures::flow::straightness(config)),
        ("trajectories", figures::flow::trajectories(config)),
    ];
    let manifest = json!({
        "command": "flow",
        "params": params,
        "resolved": {
            "eigenvalues": config.covariance.eigenvalues(),
            "mean": config.mean.as_slice(),
            "euler_steps": config.euler_steps,
        },
    });
    write_outputs(run, records, &charts, manifest)
}

/// A `gaussian` run: one record per series and generation, two figures, and the manifest.
pub fn write_gaussian_run(
    run: &RunDir,
    params: &GaussianParams,
    config: &GaussianConfig,
    outcomes: &[GaussianOutcome],
    records: &[GaussianRecord],
) -> Result<(), ReportError> {
    let charts = [
        ("variance", figures::gaussian::variance(config, outcomes, records)),
        ("mean_error", figures::gaussian::mean_error(config, outcomes, records)),
    ];
    let manifest = json!({
        "command": "gaussian",
        "params": params,
        "resolved": {
            "samples": config.samples,
            "dim": config.dim(),
            "estimator": config.estimator.name(),
            "generations": config.generations,
            "paths": config.monte_carlo.map(|m| m.paths),
            "seed": config.monte_carlo.map(|m| m.seed),
            "series": outcomes.iter().map(|o| o.label.clone()).collect::<Vec<_>>(),
        },
    });
    write_outputs(run, records, &charts, manifest)
}

/// A `reflow` run: one record per series, direction and generation, two figures, and the manifest.
pub fn write_linear_reflow_run(
    run: &RunDir,
    params: &LinearReflowParams,
    config: &LinearReflowConfig,
    outcomes: &[LinearReflowOutcome],
    records: &[LinearReflowRecord],
) -> Result<(), ReportError> {
    let charts = [
        ("variance", figures::linear_reflow::variance(config, outcomes, records)),
        ("trace", figures::linear_reflow::trace(config, outcomes, records)),
    ];
    let manifest = json!({
        "command": "linear-reflow",
        "params": params,
        "resolved": {
            "eigenvalues": config.spectrum,
            "euler_steps": config.steps,
            "bins": config.bins,
            "ridge": config.ridge,
            "generations": config.generations,
            "pairs": config.monte_carlo.map(|m| m.pairs),
            "replicates": config.monte_carlo.map(|m| m.replicates),
            "seed": config.monte_carlo.map(|m| m.seed),
            "series": outcomes.iter().map(|o| o.label.clone()).collect::<Vec<_>>(),
        },
    });
    write_outputs(run, records, &charts, manifest)
}
