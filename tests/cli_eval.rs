//! `flowcollapse sample` and `eval` on a short training run: their numbers equal the library's, and the
//! trained samples beat pure noise on the Fréchet distance.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};
use flowcollapse::checkpoint::Checkpoint;
use flowcollapse::data::{embedded_fashion_mnist, Split};
use flowcollapse::metrics::{FeatureFrechet, PrecisionRecallParams, Samples};
use flowcollapse::train::sampler::{generate, Sampled, Solver};
use flowcollapse::train::{persist, Backend, CpuBackend, Mlp};
use std::path::Path;

/// A short run: its EMA must forget the initial weights within 300 steps, hence decay 0.9.
const TRAIN: [&str; 18] = [
    "train",
    "--out",
    "run",
    "--downsample",
    "--images",
    "500",
    "--hidden",
    "64",
    "--batch",
    "32",
    "--steps",
    "300",
    "--lr",
    "2e-3",
    "--ema",
    "0.9",
    "--format",
    "jsonl",
];

/// The EMA weights of the run's checkpoint, as the library loads them.
fn ema_model(dir: &Path) -> (Mlp, Vec<f32>) {
    let file = dir.join("run/checkpoint.safetensors");
    let c = Checkpoint::load(&file).unwrap();
    let mlp = Mlp::new(persist::mlp_config(&c, "").unwrap()).unwrap();
    let ema = persist::flat_group(&c, &mlp, "ema", "").unwrap();
    (mlp, ema)
}

#[test]
fn sample_and_eval_equal_the_library_and_beat_noise() {
    let tmp = tempfile::tempdir().unwrap();
    jsonl(flowcollapse(&TRAIN, tmp.path()));
    let (mlp, ema) = ema_model(tmp.path());
    let b = CpuBackend::new();
    let params = b.upload(&ema).unwrap();

    // sample: the stored tensor is the library's generate() with the same seed, bit for bit.
    let args = [
        "sample",
        "--run",
        "run",
        "--samples",
        "9",
        "--euler-steps",
        "6",
        "--seed",
        "4",
        "--out",
        "s",
        "--format",
        "jsonl",
    ];
    let record = &jsonl(flowcollapse(&args, tmp.path()))[0];
    let stored = Checkpoint::load(&tmp.path().join("s/samples.safetensors")).unwrap();
    let samples = stored.tensor("samples", &[9, 1, 14, 14], "").unwrap();
    let want = generate(&b, &mlp, &params, 9, 4, Solver::Euler, 6).unwrap();
    assert_eq!(samples.data, want.x);
    assert_eq!(record["nfe"], 6);
    assert_eq!(record["straightness"].as_f64().unwrap(), want.straightness);
    assert!(tmp.path().join("s/samples.png").is_file());

    // eval: FD-pixelPCA, precision and recall recomputed here from the library's pieces.
    let args = ["eval", "--run", "run", "--samples", "400", "--euler-steps", "1,8", "--out", "e", "--format", "jsonl"];
    let records = jsonl(flowcollapse(&args, tmp.path()));
    assert_eq!(records.len(), 2);
    let real = embedded_fashion_mnist(Split::Test).unwrap();
    let (values, shape, _, _) = real.into_parts();
    let real = flowcollapse::data::Dataset::new(values[..400 * 784].to_vec(), shape, None, "t")
        .unwrap()
        .downsample2()
        .unwrap();
    let real_samples = Samples::new("real", real.values(), 400, 196).unwrap();
    let fd = FeatureFrechet::pixel_pca(real_samples, 64).unwrap();
    let manifold = flowcollapse::metrics::RealManifold::fit(real_samples, PrecisionRecallParams::default()).unwrap();
    let classifier = flowcollapse::classifier::Classifier::embedded(14).unwrap();
    let fd_classifier = FeatureFrechet::new(classifier, real_samples).unwrap();
    for (r, k) in records.iter().zip([1usize, 8]) {
        let Sampled { x, .. } = generate(&b, &mlp, &params, 400, 0, Solver::Euler, k).unwrap();
        let generated = Samples::new("generated", &x, 400, 196).unwrap();
        assert_eq!(r["fd_metric"], "FD-pixelPCA");
        assert_eq!(r["fd"].as_f64().unwrap(), fd.evaluate(generated).unwrap().value);
        let pr = manifold.evaluate(generated).unwrap();
        assert_eq!(r["fd_classifier"].as_f64().unwrap(), fd_classifier.evaluate(generated).unwrap().value);
        let spectrum = flowcollapse::metrics::Moments::from_samples(generated).unwrap().spectrum().unwrap();
        assert_eq!(r["top_eigenvalue"].as_f64().unwrap(), spectrum[0]);
        assert_eq!((r["precision"].as_f64().unwrap(), r["recall"].as_f64().unwrap()), (pr.precision, pr.recall));
    }
    for name in ["few_step_quality.png", "few_step_fd.svg", "spectrum.png", "pixel_variance.png"] {
        assert!(tmp.path().join("e").join(name).is_file(), "{name}");
    }
    // The variance maps are a readable figure (it was a 118-px thumbnail): the PNG's IHDR width.
    let maps = std::fs::read(tmp.path().join("e/pixel_variance.png")).unwrap();
    let width = u32::from_be_bytes(maps[16..20].try_into().unwrap());
    assert!(width >= 480, "pixel_variance.png is {width} px wide");
    // Pure noise N(0, I), the K = 0 "sampler", is far worse than the trained model's samples.
    let mut noise = vec![0.0f32; 400 * 196];
    flowcollapse::train::pairs::fill_normal(9, 0, &mut noise);
    let noise_fd = fd.evaluate(Samples::new("noise", &noise, 400, 196).unwrap()).unwrap().value;
    let trained_fd = records[1]["fd"].as_f64().unwrap();
    assert!(trained_fd < 0.5 * noise_fd, "trained FD {trained_fd} vs noise {noise_fd}");
    // Few steps blur: one Euler step gives the mean-like, low-variance samples.
    assert!(
        records[0]["total_variance_ratio"].as_f64().unwrap() < records[1]["total_variance_ratio"].as_f64().unwrap()
    );
}

#[test]
fn bad_input_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    assert_rejected(
        "eval",
        &[(&["--run", "empty"], "manifest.json"), (&["--run", "empty", "--samples", "3"], "samples")],
        tmp.path(),
    );
    assert_rejected(
        "sample",
        &[(&["--run", "empty"], "manifest.json"), (&["--run", "empty", "--euler-steps", "0"], "euler-steps")],
        tmp.path(),
    );
}

/// A checkpoint holding NaN is rejected when loaded (exit 2, naming the tensor), instead of sampling NaN.
#[test]
fn a_checkpoint_with_a_non_finite_value_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let out =
        flowcollapse(&["train", "--data", "gaussian", "--hidden", "8", "--steps", "5", "--out", "run"], tmp.path());
    assert!(out.status.success());
    let path = tmp.path().join("run/checkpoint.safetensors");
    let mut checkpoint = flowcollapse::checkpoint::Checkpoint::load(&path).unwrap();
    let t = checkpoint.tensors.iter_mut().find(|t| t.name == "ema.layers.0.weight").unwrap();
    t.data[3] = f32::NAN;
    checkpoint.save(&path).unwrap();
    for command in [&["sample", "--run", "run", "--out", "s"][..], &["train", "--resume", "run", "--steps", "9"]] {
        let result = flowcollapse(command, tmp.path());
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(stderr.contains("ema.layers.0.weight") && stderr.contains("non-finite"), "{stderr}");
        assert!(!tmp.path().join("s").exists());
    }
}

/// Asking for more reference images than the held-out split holds is refused, not silently truncated.
#[test]
fn more_reference_images_than_the_split_holds_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowcollapse(&["train", "--downsample", "--hidden", "8", "--steps", "2", "--out", "run"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let held_out = embedded_fashion_mnist(Split::Test).unwrap().len();
    let too_many = (held_out + 1).to_string();
    let why = format!("invalid samples = {too_many}: allowed at most {held_out}");
    assert_rejected("eval", &[(&["--run", "run", "--samples", &too_many], &why)], tmp.path());
    let why = format!("invalid eval-samples = {too_many}: allowed at most {held_out}");
    let reflow = ["--downsample", "--hidden", "8", "--model1-steps", "2", "--eval-samples", &too_many];
    assert_rejected("reflow", &[(&reflow, &why)], tmp.path());
}

/// `sample` and `eval` read a config file like every other command (the model's keys under `[model]`), and
/// flags override it; a config file that cannot be read is bad input.
#[test]
fn sample_and_eval_honour_a_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    jsonl(flowcollapse(&TRAIN, tmp.path()));
    std::fs::write(tmp.path().join("s.toml"), "samples = 9\neuler_steps = 6\n[model]\nrun = \"run\"\nseed = 4\n")
        .unwrap();
    let from_file =
        &jsonl(flowcollapse(&["sample", "--config", "s.toml", "--out", "a", "--format", "jsonl"], tmp.path()))[0];
    assert_eq!((from_file["samples"].as_u64(), from_file["nfe"].as_u64()), (Some(9), Some(6)));
    let overridden = &jsonl(flowcollapse(
        &["sample", "--config", "s.toml", "--samples", "5", "--out", "b", "--format", "jsonl"],
        tmp.path(),
    ))[0];
    assert_eq!(overridden["samples"].as_u64(), Some(5), "the flag wins over the file");
    // Same seed (from the file), same noise: the first 5 samples of both runs agree.
    let read = |dir: &str, n: usize| {
        Checkpoint::load(&tmp.path().join(dir).join("samples.safetensors")).unwrap().tensors[0].data[..n * 196].to_vec()
    };
    assert_eq!(read("b", 5), read("a", 5)[..5 * 196].to_vec());
    std::fs::write(tmp.path().join("e.toml"), "euler_steps = [2]\nsamples = 50\nbogus = 1\n[model]\nrun = \"run\"\n")
        .unwrap();
    for (command, file) in [("sample", "missing.toml"), ("eval", "e.toml")] {
        let result = flowcollapse(&[command, "--config", file, "--out", "c"], tmp.path());
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains(file), "{command}: {stderr}");
        assert!(!tmp.path().join("c").exists());
    }
}
