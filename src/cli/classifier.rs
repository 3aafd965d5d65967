//! `flowcollapse classifier`: train the FD-classifier network on the embedded Fashion-MNIST subset and
//! write its weights; with the default settings the file is the shipped one, byte for byte.

use super::{failure, print_stdout, Failure, Format};
use clap::Args;
use flowcollapse::classifier::{self, Classifier, ClassifierError, EpochRecord, TrainSettings};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ClassifierArgs {
    /// Image side: 28 (Fashion-MNIST as stored) or 14 (2×2 mean-pooled)
    #[arg(long, value_name = "28|14")]
    size: usize,
    /// Passes over the 10 000 training images, 1..=1000 [default: 15]
    #[arg(long, value_name = "E")]
    epochs: Option<usize>,
    /// Seed of the initialisation and of the batch order [default: 0]
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Where to write the weights (safetensors); the directory must exist
    #[arg(long, value_name = "FILE.safetensors")]
    out: PathBuf,
    /// What to print on stdout
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

fn to_failure(e: ClassifierError) -> Failure {
    let code = match e {
        ClassifierError::Invalid(_) | ClassifierError::Data(_) => 2,
        ClassifierError::Checkpoint(_) | ClassifierError::Diverged { .. } => 1,
    };
    failure(code, e)
}

/// An error unless `out` can be a file: its directory exists and takes files, and it is not itself a
/// directory.
fn check_out(out: &Path) -> Result<(), Failure> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if out.is_dir() || !dir.is_dir() {
        return Err(failure(
            2,
            format!("invalid out = {}: allowed a file path in an existing directory", out.display()),
        ));
    }
    // Training takes minutes: find out now, not after it, whether the file can be written there.
    let probe = flowcollapse::report::atomic::temp_sibling(out);
    std::fs::write(&probe, b"")
        .map_err(|e| failure(2, format!("invalid out = {}: cannot write in {}: {e}", out.display(), dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub fn run_classifier(args: &ClassifierArgs) -> Result<(), Failure> {
    if !classifier::EMBEDDED_SIZES.contains(&args.size) {
        return Err(failure(2, format!("invalid size = {}: allowed 28 or 14", args.size)));
    }
    let defaults = TrainSettings::default();
    let settings = TrainSettings {
        epochs: args.epochs.unwrap_or(defaults.epochs),
        seed: args.seed.unwrap_or(defaults.seed),
        ..defaults
    };
    settings.validate().map_err(to_failure)?;
    check_out(&args.out)?;
    let jsonl = matches!(args.format, Format::Jsonl);
    let epochs = settings.epochs;
    let on_epoch = |r: &EpochRecord| {
        if jsonl {
            let _ = print_stdout(&format!("{}\n", json!({ "epoch": r.epoch, "loss": r.loss })));
        } else {
            eprintln!("epoch {}/{epochs}: training loss {:.4}", r.epoch, r.loss);
        }
    };
    let trained = classifier::fashion_mnist(args.size, &settings, on_epoch).map_err(to_failure)?;
    let bytes = trained.to_checkpoint().to_bytes();
    flowcollapse::report::atomic::write_atomic(&args.out, &bytes)
        .map_err(|e| failure(1, format!("cannot write {}: {e}", args.out.display())))?;
    let (data, accuracy) = trained.provenance().and_then(|p| p.test.clone()).expect("the recipe scores the classifier");
    let shipped = Classifier::embedded_bytes(args.size) == Some(bytes.as_slice());
    let text = if jsonl {
        let done = json!({
            "test_accuracy": accuracy.value(),
            "test_correct": accuracy.correct,
            "test_total": accuracy.total,
            "out": args.out,
            "bytes": bytes.len(),
            "matches_shipped": shipped,
        });
        format!("{done}\n")
    } else {
        format!(
            "test accuracy {:.4} ({}/{}) on the {data}\nwrote {} ({} bytes){}\n",
            accuracy.value(),
            accuracy.correct,
            accuracy.total,
            args.out.display(),
            bytes.len(),
            if shipped { "; identical to the shipped file" } else { "" },
        )
    };
    print_stdout(&text)
}
