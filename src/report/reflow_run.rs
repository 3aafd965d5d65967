//! What a `reflow` run directory shows at the end: every arm's records (CSV, JSON), the figures (PNG + SVG),
//! one sample strip per arm and `index.html`, the report page that ties them together.

use super::atomic::write_atomic;
use super::figures::reflow as figures;
use super::grid::write_tiles;
use super::page::{self, Block, Page, Section};
use super::plot::{render, Chart};
use super::records::to_csv;
use crate::experiment::eval::Reference;
use crate::experiment::reflow::gaussian::{self, GaussianComparison};
use crate::experiment::reflow::{Arm, GenerationEval, GenerationRecord, ReflowConfig, STRIP_SAMPLES};
use serde_json::Value;
use std::fmt::Write;
use std::io;
use std::path::{Path, PathBuf};

/// Eigenvalues shown in the spectrum figure.
const SPECTRUM_SHOWN: usize = 100;

/// `manifest.json`, with the crate version, replaced atomically.
pub fn write_manifest(dir: &Path, manifest: &Value) -> io::Result<()> {
    let mut manifest = manifest.clone();
    manifest["crate"] = env!("CARGO_PKG_NAME").into();
    manifest["version"] = env!("CARGO_PKG_VERSION").into();
    write_atomic(&dir.join("manifest.json"), &serde_json::to_vec_pretty(&manifest).expect("a JSON value"))
}

fn chart(dir: &Path, stem: &str, chart: &Chart) -> io::Result<()> {
    render(chart, &dir.join(stem)).map(|_| ()).map_err(io::Error::other)
}

/// Every record of every arm, arm by arm, generation by generation, K by K.
pub fn all_records(arms: &[(Arm, Vec<GenerationEval>)]) -> Vec<GenerationRecord> {
    arms.iter().flat_map(|(_, evals)| evals.iter().flat_map(|e| e.records.iter().cloned())).collect()
}

/// Write records, figures, strips and the page; return the page's path.
pub fn write_outputs(
    dir: &Path,
    config: &ReflowConfig,
    arms: &[(Arm, Vec<GenerationEval>)],
    reference: &Reference,
    manifest: &Value,
) -> io::Result<PathBuf> {
    let records = all_records(arms);
    write_atomic(&dir.join("records.json"), &serde_json::to_vec_pretty(&records).expect("records serialise"))?;
    write_atomic(&dir.join("records.csv"), to_csv(&records).as_bytes())?;
    let k = config.sampler_steps;
    let k1 = config.eval_steps[0];
    let classifier = records.iter().any(|r| r.fd_classifier.is_some());
    let real = &reference.spectrum;
    let mut figures: Vec<(String, String)> = Vec::new();
    let mut add = |stem: &str, c: Chart| -> io::Result<()> {
        chart(dir, stem, &c)?;
        figures.push((format!("{stem}.png"), format!("{}. {}", c.title, c.caption.clone().unwrap_or_default())));
        Ok(())
    };
    let fd_name = if classifier { "FD-classifier" } else { "FD-pixelPCA" };
    let fd = move |r: &GenerationRecord| if classifier { r.fd_classifier } else { Some(r.fd_pixel_pca) };
    add(
        "fd_generations",
        figures::metric_per_generation(config, arms, k, &format!("{fd_name} per generation"), fd_name, fd),
    )?;
    add(
        "recall_generations",
        figures::metric_per_generation(config, arms, k, "Recall per generation", "k-NN recall (k = 3)", |r| {
            Some(r.recall)
        }),
    )?;
    add("variance_decay", figures::variance_decay(config, arms, real))?;
    // The DAE overlay's fit, kept with the records.
    let fit = figures::dae_fit(config, arms, real);
    let dae = serde_json::json!({
        "rule": "noisy",
        "fitted_on": format!("the variance ratio of generation 1 at K = {k}"),
        "s": fit,
        "predicted_variance_ratio": fit.map(|s| {
            figures::dae_prediction(config, arms, real, s)
                .into_iter()
                .map(|(label, ratios)| serde_json::json!({ "model": label, "by_generation": ratios }))
                .collect::<Vec<_>>()
        }),
    });
    write_atomic(&dir.join("dae_fit.json"), &serde_json::to_vec_pretty(&dae).expect("JSON"))?;
    add(
        "fd_few_step_generations",
        figures::metric_per_generation(
            config,
            arms,
            k1,
            &format!("{fd_name} at K = {k1} per generation (the few-step gain of reflow)"),
            fd_name,
            fd,
        ),
    )?;
    if classifier {
        add(
            "fd_pixel_pca_generations",
            figures::metric_per_generation(config, arms, k, "FD-pixelPCA per generation", "FD-pixelPCA", |r| {
                Some(r.fd_pixel_pca)
            }),
        )?;
    }
    add("spectrum_last", figures::spectrum_last(config, arms, real, SPECTRUM_SHOWN))?;
    add(
        "precision_generations",
        figures::metric_per_generation(config, arms, k, "Precision per generation", "k-NN precision (k = 3)", |r| {
            Some(r.precision)
        }),
    )?;
    let mut nfe_figures = Vec::new();
    for (arm, evals) in arms {
        let stem = format!("fd_vs_nfe_{}", arm.name());
        let c = figures::fd_vs_nfe(arm, evals, classifier);
        chart(dir, &stem, &c)?;
        nfe_figures.push((format!("{stem}.png"), format!("{}. {}", c.title, c.caption.unwrap_or_default())));
    }
    if let crate::experiment::train::DataChoice::Gaussian { spectrum } = &config.run.data {
        let rows: Vec<GaussianComparison> =
            arms.iter().flat_map(|(arm, evals)| gaussian::compare(arm, evals, config, spectrum)).collect();
        write_atomic(&dir.join("gaussian_comparison.json"), &serde_json::to_vec_pretty(&rows).expect("records"))?;
        write_atomic(&dir.join("gaussian_comparison.csv"), to_csv(&rows).as_bytes())?;
        let c = figures::gaussian_closed_form(config, &rows);
        chart(dir, "gaussian_closed_form", &c)?;
        figures.push(("gaussian_closed_form.png".into(), format!("{}. {}", c.title, c.caption.unwrap_or_default())));
    }
    let strips = write_strips(dir, arms, reference)?;
    let page = page(config, arms, manifest, &figures, &nfe_figures, &strips);
    page::write(dir, &page)
}

/// One PNG per arm: a column per generation (the real data first), the same noise in every column.
fn write_strips(
    dir: &Path,
    arms: &[(Arm, Vec<GenerationEval>)],
    reference: &Reference,
) -> io::Result<Vec<(String, String)>> {
    let shape = reference.data.shape();
    if !matches!(shape, crate::data::Shape::Image { .. }) {
        return Ok(Vec::new());
    }
    let d = shape.dim();
    let rows = STRIP_SAMPLES.min(reference.data.len());
    let mut out = Vec::new();
    for (arm, evals) in arms {
        let columns: Vec<&[f32]> =
            std::iter::once(reference.data.rows(0..rows)).chain(evals.iter().map(|e| e.strip.as_slice())).collect();
        let cols = columns.len();
        let mut tiles = Vec::with_capacity(rows * cols * d);
        for r in 0..rows {
            for c in &columns {
                match c.get(r * d..(r + 1) * d) {
                    Some(img) => tiles.extend_from_slice(img),
                    None => tiles.extend(std::iter::repeat_n(0.0, d)),
                }
            }
        }
        let name = format!("samples_{}.png", arm.name());
        write_tiles(&tiles, shape, rows * cols, cols, 3, &dir.join(&name))?;
        out.push((arm.title(), name));
    }
    Ok(out)
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.4}"))
}

/// The key table: generation 1 (shared by every arm) once, then the last generation of every arm, at the
/// smallest evaluated K and at the sampler's K.
fn key_table(config: &ReflowConfig, arms: &[(Arm, Vec<GenerationEval>)]) -> Block {
    let header = [
        "arm",
        "gen.",
        "K",
        "variance ratio",
        "FD-classifier",
        "FD-pixelPCA",
        "recall",
        "straightness",
        "pairs var. ratio",
        "inverted σ",
    ];
    let row = |name: String, r: &GenerationRecord| {
        vec![
            name,
            r.generation.to_string(),
            r.euler_steps.to_string(),
            format!("{:.3}", r.variance_ratio),
            r.fd_classifier.map_or("—".into(), |v| format!("{v:.2}")),
            format!("{:.2}", r.fd_pixel_pca),
            format!("{:.3}", r.recall),
            format!("{:.3}", r.straightness),
            r.pairs_variance_ratio.map_or("—".into(), |v| format!("{v:.3}")),
            r.inverted_noise_std.map_or("—".into(), |v| format!("{v:.3}")),
        ]
    };
    let ks = [config.eval_steps[0], config.sampler_steps];
    let mut rows = Vec::new();
    if let Some(first) = arms.first().and_then(|(_, e)| e.first()) {
        rows.extend(first.records.iter().filter(|r| ks.contains(&r.euler_steps)).map(|r| row("model 1".into(), r)));
    }
    for (arm, evals) in arms {
        if let Some(last) = evals.last().filter(|_| evals.len() > 1) {
            rows.extend(last.records.iter().filter(|r| ks.contains(&r.euler_steps)).map(|r| row(arm.name(), r)));
        }
    }
    Block::Table {
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
        caption: format!(
            "Model 1 (the 1-rectified flow, generation 1 of every arm) and the last generation of each arm, at K = {} \
             and K = {} Euler steps. Variance ratio: total pixel variance over the held-out real data's. Pairs var. \
             ratio: the same for the x̂ model k trained on. Inverted σ: standard deviation of the noise model k \
             inverts held-out images to (N(0, I) has 1). Precision is in records.csv and its figure.",
            ks[0], ks[1]
        ),
    }
}

/// "1, 2, 4 and 8".
fn list(ks: &[usize]) -> String {
    match ks {
        [] => String::new(),
        [k] => k.to_string(),
        [init @ .., last] => format!("{} and {last}", init.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

fn page(
    config: &ReflowConfig,
    arms: &[(Arm, Vec<GenerationEval>)],
    manifest: &Value,
    figures: &[(String, String)],
    nfe_figures: &[(String, String)],
    strips: &[(String, String)],
) -> Page {
    let run = &config.run;
    let data = manifest["resolved"]["train"]["data_source"].as_str().unwrap_or("").to_string();
    let mut intro = vec![
        format!(
            "Generation 0 is the real data ({data}). Model 1 is the 1-rectified flow ({} optimiser steps on independent \
             (noise, image) pairs). Each model k ≥ 2 starts from model k−1's EMA weights and trains {} steps (batch {}) on \
             pairs its arm builds: {} synthetic pairs per generation from {} Euler steps of model k−1, and for RA, ORA and \
             ORAS ⌊ρB⌋ = {} real pairs per batch, real images with the noise the model inverts them to.",
            run.steps,
            config.steps,
            run.train.batch,
            config.pairs,
            config.sampler_steps,
            config.real_rows()
        ),
        format!(
            "Every generation is evaluated on {} samples from the same noise against {} held-out real images, at K = {} \
             Euler steps. FD-classifier is the Fréchet distance in the penultimate features of the project's own \
             Fashion-MNIST classifier, FD-pixelPCA in the real pixels' top-64 principal components; neither is an FID.",
            config.eval_samples,
            config.eval_samples,
            list(&config.eval_steps)
        ),
    ];
    if let Some(note) = manifest["note"].as_str() {
        intro.push(note.to_string());
    }
    let figure = |(src, caption): &(String, String)| Block::Figure { src: src.clone(), caption: caption.clone() };
    let mut sections =
        vec![Section { heading: "Last generation per arm".into(), blocks: vec![key_table(config, arms)] }];
    sections.push(Section {
        heading: "Quality and variance per generation".into(),
        blocks: figures.iter().map(figure).collect(),
    });
    if !strips.is_empty() {
        sections.push(Section {
            heading: "Samples across generations".into(),
            blocks: vec![Block::Gallery {
                items: strips.to_vec(),
                caption: format!(
                    "Each strip: the first column is real held-out images, then one column per generation (1, 2, …), all \
                     drawn from the same noise with K = {} Euler steps.",
                    config.sampler_steps
                ),
            }],
        });
    }
    sections.push(Section {
        heading: "Few-step quality: Fréchet distance against NFE".into(),
        blocks: nfe_figures.iter().map(figure).collect(),
    });
    let commands: Vec<String> = manifest["commands"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str().map(String::from)).collect())
        .unwrap_or_default();
    sections.push(Section {
        heading: "How this was made".into(),
        blocks: vec![
            Block::Commands(commands),
            Block::Link { href: "records.csv".into(), label: "records.csv (every arm, generation and K)".into() },
            Block::Link { href: "records.json".into(), label: "records.json".into() },
            Block::Link {
                href: "dae_fit.json".into(),
                label: "dae_fit.json (the DAE overlay's fitted s and predictions)".into(),
            },
            Block::Link { href: "manifest.json".into(), label: "manifest.json (every setting, resolved)".into() },
        ],
    });
    Page { title: "Reflow generations: collapse and its cures".into(), intro, sections }
}

/// The human summary: the last generation of every arm at the sampler's K.
pub fn summary_table(arms: &[(Arm, Vec<GenerationEval>)]) -> String {
    let mut out = String::from("arm                   gen     K  variance ratio  FD-classifier  FD-pixelPCA  recall\n");
    for (arm, evals) in arms {
        let Some(last) = evals.last() else { continue };
        let Some(r) = last.records.last() else { continue };
        let _ = writeln!(
            out,
            "{:<20} {:>4} {:>5}  {:>14.4}  {:>13}  {:>11.4}  {:>6.3}",
            arm.name(),
            r.generation,
            r.euler_steps,
            r.variance_ratio,
            fmt(r.fd_classifier),
            r.fd_pixel_pca,
            r.recall
        );
    }
    out
}
