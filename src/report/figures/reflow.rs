//! Figures of `reflow`: what each strategy does to variance and quality, generation by generation.

use crate::experiment::reflow::gaussian::GaussianComparison;
use crate::experiment::reflow::{fit_dae_noise, Arm, GenerationEval, GenerationRecord, ReflowConfig};
use crate::report::plot::{Chart, Scale, Series};
use crate::theory::{dae, RealPool, Rule, Strategy as DaeStrategy};

/// The arms' records at solver steps `k`, one list per arm (generation order).
fn at_k(arms: &[(Arm, Vec<GenerationEval>)], k: usize) -> Vec<(String, Vec<&GenerationRecord>)> {
    arms.iter()
        .map(|(arm, evals)| {
            (arm.title(), evals.iter().filter_map(|e| e.records.iter().find(|r| r.euler_steps == k)).collect())
        })
        .collect()
}

fn per_generation(
    arms: &[(Arm, Vec<GenerationEval>)],
    k: usize,
    value: impl Fn(&GenerationRecord) -> Option<f64>,
) -> Vec<Series> {
    at_k(arms, k)
        .into_iter()
        .map(|(label, records)| {
            let pts: Vec<(f64, f64)> =
                records.iter().filter_map(|r| value(r).map(|v| (r.generation as f64, v))).collect();
            Series { label, line: pts.clone(), points: pts, ..Series::default() }
        })
        .collect()
}

fn clip_note(arms: &[(Arm, Vec<GenerationEval>)]) -> &'static str {
    let clipped = arms.iter().filter(|(a, _)| a.strategy.uses_synthetic()).map(|(a, _)| a.clip_pairs);
    let (mut on, mut off) = (false, false);
    for c in clipped {
        on |= c;
        off |= !c;
    }
    match (on, off) {
        (true, true) => "pairs clipped to [-1, 1] except the arms marked unclipped",
        (true, false) => "generated pairs clipped to [-1, 1]",
        (false, true) => "generated pairs not clipped",
        (false, false) => "no generated pairs",
    }
}

/// The DAE overlay's fitted noise level, if generation 1 lost variance.
pub fn dae_fit(config: &ReflowConfig, arms: &[(Arm, Vec<GenerationEval>)], real_spectrum: &[f64]) -> Option<f64> {
    let first = arms.first()?.1.first()?;
    let r1 = first.records.iter().find(|r| r.euler_steps == config.sampler_steps)?.variance_ratio;
    fit_dae_noise(real_spectrum, r1)
}

/// The linear-DAE predictions with noise level `s`: (label, trace ratio of generations 0 … G + 1) for
/// Replace and, when an arm mixes real pairs in, Mix α = ρ.
pub fn dae_prediction(
    config: &ReflowConfig,
    arms: &[(Arm, Vec<GenerationEval>)],
    real_spectrum: &[f64],
    s: f64,
) -> Vec<(String, Vec<f64>)> {
    let lambda: Vec<f64> = real_spectrum.iter().map(|&l| l.max(0.0)).collect();
    let last = config.last_generation();
    let run =
        |strategy| dae::summaries(&lambda, s, strategy, Rule::Noisy, last).iter().map(|g| g.trace_ratio).collect();
    let mut out = vec![("linear DAE, Replace".to_string(), run(DaeStrategy::Replace))];
    if arms.iter().any(|(a, _)| a.strategy.mixes_real()) {
        let alpha = config.real_ratio;
        out.push((format!("linear DAE, Mix α = {alpha}"), run(DaeStrategy::Mix { alpha, pool: RealPool::Fixed })));
    }
    out
}

/// Variance ratio per generation at the sampler's K, every arm, with the linear-DAE prediction.
pub fn variance_decay(config: &ReflowConfig, arms: &[(Arm, Vec<GenerationEval>)], real_spectrum: &[f64]) -> Chart {
    let k = config.sampler_steps;
    let mut series = per_generation(arms, k, |r| Some(r.variance_ratio));
    // Generation 0 is the real data itself: ratio 1.
    for s in &mut series {
        s.line.insert(0, (0.0, 1.0));
    }
    let fit = dae_fit(config, arms, real_spectrum);
    if let Some(s) = fit {
        for (label, ratios) in dae_prediction(config, arms, real_spectrum, s) {
            let line = ratios.iter().enumerate().map(|(g, &r)| (g as f64, r)).collect();
            series.push(Series { label, line, dashed: true, ..Series::default() });
        }
    }
    let fit_note = match fit {
        Some(s) => format!("dashed: linear DAE from the real spectrum, noise s = {s:.4e} fitted on generation 1 only"),
        None => "no DAE overlay: generation 1 did not lose variance, so no noise level fits".into(),
    };
    Chart {
        title: "Variance per generation".into(),
        x_label: "generation (1 = the 1-rectified flow; 0 = real data)".into(),
        y_label: "total pixel variance / real".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        series,
        caption: Some(format!("{} samples, K = {k} Euler steps; {}; {fit_note}", config.eval_samples, clip_note(arms))),
    }
}

/// A metric per generation at solver steps `k`, every arm.
pub fn metric_per_generation(
    config: &ReflowConfig,
    arms: &[(Arm, Vec<GenerationEval>)],
    k: usize,
    title: &str,
    y_label: &str,
    value: impl Fn(&GenerationRecord) -> Option<f64>,
) -> Chart {
    Chart {
        title: title.into(),
        x_label: "generation (1 = the 1-rectified flow)".into(),
        y_label: y_label.into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        series: per_generation(arms, k, value),
        caption: Some(format!(
            "{} samples against {} held-out real images, K = {k} Euler steps; {}",
            config.eval_samples,
            config.eval_samples,
            clip_note(arms)
        )),
    }
}

/// One arm's Fréchet distance against NFE, one curve per generation.
pub fn fd_vs_nfe(arm: &Arm, evals: &[GenerationEval], classifier: bool) -> Chart {
    let name = if classifier { "FD-classifier" } else { "FD-pixelPCA" };
    let series = evals
        .iter()
        .map(|e| {
            let pts: Vec<(f64, f64)> = e
                .records
                .iter()
                .map(|r| (r.nfe as f64, if classifier { r.fd_classifier.unwrap_or(f64::NAN) } else { r.fd_pixel_pca }))
                .collect();
            let generation = e.records.first().map_or(0, |r| r.generation);
            Series { label: format!("generation {generation}"), line: pts.clone(), points: pts, ..Series::default() }
        })
        .collect();
    Chart {
        title: format!("{name} against NFE: {}", arm.title()),
        x_label: "NFE (Euler steps K)".into(),
        y_label: name.into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series,
        caption: Some(format!(
            "one curve per generation; a flow that got straighter keeps its quality at fewer steps; pairs {}",
            if arm.clip_pairs { "clipped" } else { "unclipped" }
        )),
    }
}

/// Covariance spectrum of each arm's last generation against the real data's.
pub fn spectrum_last(
    config: &ReflowConfig,
    arms: &[(Arm, Vec<GenerationEval>)],
    real_spectrum: &[f64],
    shown: usize,
) -> Chart {
    let line = |v: &[f64]| v.iter().take(shown).enumerate().map(|(i, &l)| ((i + 1) as f64, l)).collect::<Vec<_>>();
    let mut series =
        vec![Series { label: "real (held out)".into(), line: line(real_spectrum), dashed: true, ..Series::default() }];
    for (arm, evals) in arms {
        if let Some(last) = evals.last() {
            let generation = last.records.first().map_or(0, |r| r.generation);
            series.push(Series {
                label: format!("{}, generation {generation}", arm.title()),
                line: line(&last.spectrum),
                ..Series::default()
            });
        }
    }
    Chart {
        title: "Covariance spectrum of the last generation".into(),
        x_label: "eigenvalue rank".into(),
        y_label: "eigenvalue of the pixel covariance".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series,
        caption: Some(format!(
            "{} samples, K = {} Euler steps; the first {shown} eigenvalues; {}",
            config.eval_samples,
            config.sampler_steps,
            clip_note(arms)
        )),
    }
}

/// Gaussian data: the network's variance ratio per direction and generation (markers) against the
/// linear-Gaussian model's closed form for the same K (dashed), per arm that has one.
pub fn gaussian_closed_form(config: &ReflowConfig, rows: &[GaussianComparison]) -> Chart {
    let mut keys: Vec<(String, usize)> = rows.iter().map(|r| (r.strategy.clone(), r.direction)).collect();
    keys.dedup();
    let mut series = Vec::new();
    for (strategy, direction) in keys {
        let mine: Vec<&GaussianComparison> =
            rows.iter().filter(|r| r.strategy == strategy && r.direction == direction).collect();
        let lambda = mine.first().map_or(0.0, |r| r.lambda);
        let points: Vec<(f64, f64)> = mine.iter().map(|r| (r.generation as f64, r.variance_ratio)).collect();
        series.push(Series { label: format!("{strategy}, λ = {lambda}"), points, ..Series::default() });
        let line: Vec<(f64, f64)> =
            mine.iter().filter_map(|r| r.closed_form_variance_ratio.map(|c| (r.generation as f64, c))).collect();
        if !line.is_empty() {
            series.push(Series {
                label: format!("{strategy}, λ = {lambda}: closed form"),
                line,
                dashed: true,
                ..Series::default()
            });
        }
    }
    Chart {
        title: "Gaussian data: the trained network against the linear-Gaussian closed form".into(),
        x_label: "generation".into(),
        y_label: "generated variance / λ along the direction".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Linear,
        series,
        caption: Some(format!(
            "K = {} Euler steps for pairs and samples; markers: eigenvalues of {} generated samples' covariance; \
             dashed: theory::reflow with {} bins per step, no ridge",
            config.sampler_steps,
            config.eval_samples,
            crate::experiment::reflow::gaussian::BINS_PER_STEP
        )),
    }
}
