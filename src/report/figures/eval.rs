//! The `eval` figures: what a trained model's samples lose as the solver takes fewer steps.

use crate::experiment::eval::{EvalRecord, Evaluation, Reference};
use crate::report::plot::{Chart, Scale, Series};

fn caption(records: &[EvalRecord], step: u64) -> String {
    let r = &records[0];
    format!(
        "{} samples against {} held-out real ones; {} solver; checkpoint at step {step}",
        r.n_generated, r.n_reference, r.solver
    )
}

/// Total variance ratio, precision and recall against the number of solver steps K.
pub fn few_step_quality(records: &[EvalRecord], step: u64) -> Chart {
    let series = |label: &str, f: fn(&EvalRecord) -> f64| Series {
        label: label.into(),
        line: records.iter().map(|r| (r.euler_steps as f64, f(r))).collect(),
        points: records.iter().map(|r| (r.euler_steps as f64, f(r))).collect(),
        ..Series::default()
    };
    Chart {
        title: "Trained flow: sample quality against solver steps".into(),
        x_label: "solver steps K".into(),
        y_label: "ratio / fraction".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Linear,
        series: vec![
            series("total variance / real total variance", |r| r.total_variance_ratio),
            series(&format!("precision (k = {})", records[0].pr_k), |r| r.precision),
            series(&format!("recall (k = {})", records[0].pr_k), |r| r.recall),
        ],
        caption: Some(caption(records, step)),
    }
}

/// The Fréchet distance in the real pixels' PCA space against K.
pub fn few_step_fd(records: &[EvalRecord], step: u64) -> Chart {
    let points: Vec<(f64, f64)> = records.iter().map(|r| (r.euler_steps as f64, r.fd)).collect();
    Chart {
        title: format!("Trained flow: {} against solver steps", records[0].fd_metric),
        x_label: "solver steps K".into(),
        y_label: format!(
            "{} ({} principal components of the real pixels)",
            records[0].fd_metric, records[0].fd_feature_dim
        ),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series: vec![Series { label: records[0].fd_metric.into(), line: points.clone(), points, ..Series::default() }],
        caption: Some(caption(records, step)),
    }
}

/// Covariance spectra (largest `shown` eigenvalues) of the real set and of each K's samples.
pub fn spectrum(reference: &Reference, evaluations: &[Evaluation], step: u64, shown: usize) -> Chart {
    let line = |values: &[f64]| -> Vec<(f64, f64)> {
        values.iter().take(shown).enumerate().filter(|(_, v)| **v > 0.0).map(|(i, v)| ((i + 1) as f64, *v)).collect()
    };
    let mut series = vec![Series {
        label: "real (held out)".into(),
        line: line(&reference.spectrum),
        dashed: true,
        ..Series::default()
    }];
    series.extend(evaluations.iter().map(|e| Series {
        label: format!("generated, K = {}", e.record.euler_steps),
        line: line(&e.spectrum),
        ..Series::default()
    }));
    let records: Vec<EvalRecord> = evaluations.iter().map(|e| e.record.clone()).collect();
    Chart {
        title: "Covariance spectrum of the samples".into(),
        x_label: "eigenvalue rank".into(),
        y_label: "eigenvalue of the pixel covariance".into(),
        x_scale: Scale::Log,
        y_scale: Scale::Log,
        series,
        caption: Some(caption(&records, step)),
    }
}
