//! The FD-classifier network (`flowcollapse::classifier`): the shipped weights are what the recipe makes,
//! they classify held-out images well, the backward pass is the derivative of the forward pass, training
//! does not depend on the thread count, and `FD-classifier` separates real images from noise.
//!
//! The independent reference throughout is a plain f64 forward pass written from the documented formulas
//! (`z = W h + b`, ReLU on hidden layers, softmax cross-entropy), reading the weights from the safetensors
//! tensors by name.

mod common;

use common::{assert_rejected, flowcollapse, jsonl};
use flowcollapse::checkpoint::Checkpoint;
use flowcollapse::classifier::loss::softmax_cross_entropy;
use flowcollapse::classifier::net::{init_params, Workspace};
use flowcollapse::classifier::{self, recipe, Classifier, ClassifierConfig, TrainSettings};
use flowcollapse::data::{embedded_fashion_mnist, Dataset, Shape, Split};
use flowcollapse::metrics::{frechet_distance, FeatureFrechet, FeatureSpace, Samples};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// Weights and biases of every layer, input layer first, from a checkpoint's `classifier.layers.*` tensors.
fn layers_of(c: &Checkpoint) -> Vec<(Vec<usize>, Vec<f64>, Vec<f64>)> {
    let get = |name: String| c.tensors.iter().find(|t| t.name == name);
    (0..)
        .map_while(|l| {
            let w = get(format!("classifier.layers.{l}.weight"))?;
            let b = get(format!("classifier.layers.{l}.bias")).expect("bias beside weight");
            let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
            Some((w.shape.clone(), f64s(&w.data), f64s(&b.data)))
        })
        .collect()
}

/// f64 forward pass of one image: (last hidden activations, logits).
fn reference_forward(layers: &[(Vec<usize>, Vec<f64>, Vec<f64>)], x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut h: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let mut features = Vec::new();
    for (l, (shape, w, b)) in layers.iter().enumerate() {
        let (out, inp) = (shape[0], shape[1]);
        assert_eq!(inp, h.len());
        let z: Vec<f64> = (0..out).map(|o| b[o] + (0..inp).map(|i| w[o * inp + i] * h[i]).sum::<f64>()).collect();
        if l + 1 < layers.len() {
            h = z.iter().map(|&v| v.max(0.0)).collect();
            features = h.clone();
        } else {
            h = z;
        }
    }
    (features, h)
}

fn argmax(z: &[f64]) -> usize {
    z.iter().enumerate().fold(0, |best, (j, &v)| if v > z[best] { j } else { best })
}

fn test_split(size: usize) -> Dataset {
    recipe::fashion_mnist_split(Split::Test, size).unwrap()
}

#[test]
fn default_training_reproduces_the_shipped_weights_byte_for_byte() {
    for size in classifier::EMBEDDED_SIZES {
        let trained = classifier::fashion_mnist(size, &TrainSettings::default(), |_| {}).unwrap();
        let bytes = trained.to_checkpoint().to_bytes();
        let on_disk = std::fs::read(format!("data/classifier/fashion-mnist-{size}.safetensors")).unwrap();
        assert!(bytes == on_disk, "{size}×{size}: retrained weights differ from the shipped file");
        assert_eq!(Classifier::embedded_bytes(size), Some(on_disk.as_slice()));
        assert_eq!(Classifier::embedded(size).unwrap(), trained);
    }
    assert!(Classifier::embedded(32).is_none() && Classifier::embedded_bytes(7).is_none());
}

#[test]
fn shipped_classifiers_classify_held_out_images() {
    for (size, floor) in [(28, 0.80), (14, 0.78)] {
        let classifier = Classifier::embedded(size).unwrap();
        let layers = layers_of(&classifier.to_checkpoint());
        assert_eq!(
            layers.iter().map(|l| l.0.clone()).collect::<Vec<_>>(),
            [vec![256, size * size], vec![128, 256], vec![10, 128]]
        );
        let test = test_split(size);
        let labels = test.labels().unwrap();
        let predicted: Vec<usize> =
            (0..test.len()).into_par_iter().map(|i| argmax(&reference_forward(&layers, test.row(i)).1)).collect();
        let correct = predicted.iter().zip(labels).filter(|(p, &y)| **p == y as usize).count();
        let accuracy = correct as f64 / test.len() as f64;
        assert!(accuracy >= floor, "{size}×{size}: test accuracy {accuracy} below {floor}");
        // The library's f32 predictions and the stored score agree with the f64 reference (a near-tie
        // may flip between f32 and f64, hence the slack of a few images).
        let own = classifier.accuracy(&test).unwrap();
        assert!(own.correct.abs_diff(correct) <= 3, "{size}: f32 {} vs f64 {correct}", own.correct);
        let (data, stored) = classifier.provenance().unwrap().test.clone().unwrap();
        assert_eq!((stored, data.as_str()), (own, test.source()));
        assert_eq!(classifier.provenance().unwrap().epochs, TrainSettings::DEFAULT_EPOCHS);
    }
}

/// A tiny network, a batch with every class, weights scaled up so that the ReLUs matter.
fn tiny() -> (ClassifierConfig, Vec<f32>, Vec<f32>, Vec<u8>) {
    let config =
        ClassifierConfig { input: Shape::Image { channels: 1, height: 2, width: 3 }, hidden: vec![5, 4], classes: 3 };
    let params: Vec<f32> = init_params(&config.layout(), 3).iter().map(|p| 2.5 * p).collect();
    let rows = 7;
    let x: Vec<f32> = (0..rows * 6).map(|i| ((i as f64 * 1.37 + 0.2).sin()) as f32).collect();
    let labels: Vec<u8> = (0..rows).map(|r| (r % 3) as u8).collect();
    (config, params, x, labels)
}

/// Mean cross-entropy in f64 from the formulas, and the smallest |pre-activation| of the hidden layers.
fn reference_loss(config: &ClassifierConfig, theta: &[f64], x: &[f32], labels: &[u8]) -> (f64, f64) {
    let layout = config.layout();
    let (mut total, mut closest) = (0.0, f64::INFINITY);
    for (r, &y) in labels.iter().enumerate() {
        let d = config.input_dim();
        let mut h: Vec<f64> = x[r * d..(r + 1) * d].iter().map(|&v| v as f64).collect();
        for (l, slot) in layout.layers().iter().enumerate() {
            let (w, b) = (&theta[slot.weight.clone()], &theta[slot.bias.clone()]);
            let z: Vec<f64> = (0..slot.output)
                .map(|o| b[o] + (0..slot.input).map(|i| w[o * slot.input + i] * h[i]).sum::<f64>())
                .collect();
            if l + 1 < layout.layers().len() {
                closest = z.iter().fold(closest, |c, v| c.min(v.abs()));
                h = z.iter().map(|&v| v.max(0.0)).collect();
            } else {
                h = z;
            }
        }
        let norm: f64 = h.iter().map(|v| v.exp()).sum();
        total += norm.ln() - h[y as usize];
    }
    (total / labels.len() as f64, closest)
}

#[test]
fn backward_pass_matches_finite_differences() {
    // Central differences in f64 with step 1e-5 have error ~1e-10 (h² times third derivatives of order
    // one), far below f32 resolution; the pre-activations are kept at least 1e-2 from the ReLU kink, so no
    // perturbation (which moves them by ≲ 1e-4) crosses it. The f32 gradient has rounding error ~1e-6
    // relative to the largest entry of a tensor; tolerance 2e-5 of it.
    let (config, params, x, labels) = tiny();
    let layout = config.layout();
    let rows = labels.len();
    let mut ws = Workspace::new(&layout, rows);
    let logits = ws.forward(&layout, &params, &x, rows).to_vec();
    let mut dlogits = vec![0.0f32; rows * config.classes];
    let loss = softmax_cross_entropy(&logits, &labels, config.classes, &mut dlogits);
    let mut grads = vec![f32::NAN; layout.num_params()];
    ws.backward(&layout, &params, &x, rows, &dlogits, &mut grads);

    let theta: Vec<f64> = params.iter().map(|&p| p as f64).collect();
    let (l_ref, closest) = reference_loss(&config, &theta, &x, &labels);
    assert!(closest > 1e-2, "a pre-activation sits {closest} from the ReLU kink; pick other weights");
    assert!((loss - l_ref).abs() <= 1e-5 * l_ref, "loss {loss} vs reference {l_ref}");
    let h = 1e-5;
    for tensor in layout.tensors() {
        let fd: Vec<f64> = tensor
            .range()
            .map(|j| {
                let mut plus = theta.clone();
                plus[j] += h;
                let mut minus = theta.clone();
                minus[j] -= h;
                let f = |t: &[f64]| reference_loss(&config, t, &x, &labels).0;
                (f(&plus) - f(&minus)) / (2.0 * h)
            })
            .collect();
        let scale = fd.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 1e-4, "{}: gradient vanishes, the check would be empty", tensor.name);
        for (j, (&g, &want)) in grads[tensor.range()].iter().zip(&fd).enumerate() {
            assert!(
                (g as f64 - want).abs() <= 2e-5 * scale,
                "{}[{j}]: backward {g} vs finite difference {want}",
                tensor.name
            );
        }
    }
}

#[test]
fn training_is_independent_of_the_thread_count() {
    // 1 500 images, batch 64 (the last batch of each epoch holds 28), two epochs.
    let full = embedded_fashion_mnist(Split::Train).unwrap().downsample2().unwrap();
    let n = 1500;
    let d = full.dim();
    let data =
        Dataset::new(full.rows(0..n).to_vec(), full.shape(), Some(full.labels().unwrap()[..n].to_vec()), "subset")
            .unwrap();
    let config = ClassifierConfig::new(data.shape());
    let settings = TrainSettings { epochs: 2, batch: 64, lr: 2e-3, seed: 9 };
    let train_on = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| classifier::train(&config, &settings, &data, |_| {}).unwrap())
    };
    let one = train_on(1);
    assert!(one.params() == train_on(2).params(), "1 and 2 threads differ");
    assert!(one.params() == train_on(3).params(), "1 and 3 threads differ");
    // The seed does matter.
    let other = classifier::train(&config, &TrainSettings { seed: 10, ..settings }, &data, |_| {}).unwrap();
    assert!(one.params() != other.params());
    assert_eq!(one.params().len(), 256 * (d + 1) + 128 * 257 + 10 * 129);
}

/// Naive mean and covariance (divisor n − 1) of f64 rows.
fn naive_moments(x: &[f64], d: usize) -> (DVector<f64>, DMatrix<f64>) {
    let n = x.len() / d;
    let mean = DVector::from_fn(d, |j, _| (0..n).map(|i| x[i * d + j]).sum::<f64>() / n as f64);
    let cov = DMatrix::from_fn(d, d, |a, b| {
        (0..n).map(|i| (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b])).sum::<f64>() / (n - 1) as f64
    });
    (mean, cov)
}

#[test]
fn fd_classifier_separates_real_images_from_noise() {
    let classifier = Classifier::embedded(28).unwrap();
    let layers = layers_of(&classifier.to_checkpoint());
    let test = test_split(28);
    let (n, d) = (1000, test.dim());
    let real = Samples::new("real", test.rows(0..n), n, d).unwrap();
    let real2 = Samples::new("real'", test.rows(n..2 * n), n, d).unwrap();
    // Uniform noise on [-1, 1] from a fixed hash of the index.
    let noise_values: Vec<f32> = (0..n * d)
        .map(|i| {
            let bits = flowcollapse::train::rng::bits(0x5eed, i as u64);
            (flowcollapse::train::rng::open01(bits) * 2.0 - 1.0) as f32
        })
        .collect();
    let noise = Samples::new("noise", &noise_values, n, d).unwrap();

    // The features are the f64 reference's last hidden layer, to f32 accuracy.
    let features = classifier.embed(real).unwrap();
    assert_eq!((features.rows, features.cols, classifier.dim(), classifier.input_dim()), (n, 128, 128, d));
    for i in (0..n).step_by(97) {
        let (want, _) = reference_forward(&layers, real.row(i));
        for (j, w) in want.iter().enumerate() {
            let got = features.data[i * 128 + j];
            assert!((got - w).abs() <= 1e-4 * (1.0 + w.abs()), "row {i} feature {j}: {got} vs {w}");
        }
    }

    let fd = FeatureFrechet::new(classifier.clone(), real).unwrap();
    let same = fd.evaluate(real2).unwrap();
    let far = fd.evaluate(noise).unwrap();
    assert_eq!((same.metric, far.metric), ("FD-classifier", "FD-classifier"));
    assert_eq!((same.feature_dim, same.n_reference, same.n_generated), (128, n, n));
    // Held-out real images sit far closer to the reference than noise does.
    assert!(far.value > 20.0 * same.value && same.value > 0.0, "real' {} vs noise {}", same.value, far.value);

    // The record is the Fréchet distance of the naive moments of the two feature sets.
    let embed = |s: Samples<'_>| classifier.embed(s).unwrap().data;
    let (m1, c1) = naive_moments(&embed(real), 128);
    for (generated, record) in [(real2, &same), (noise, &far)] {
        let (m2, c2) = naive_moments(&embed(generated), 128);
        let want = frechet_distance(&m1, &c1, &m2, &c2).unwrap().value;
        // Two covariance routes agree to ~1e-15 relative, but the trace term takes √ of the eigenvalues of
        // Σ₁^½ Σ₂ Σ₁^½, and ReLU features have (near-)zero-variance directions where √ turns a rounding
        // error ε·λ_max into √(ε·λ_max) ≈ 1e-7·√λ_max per eigenvalue: agreement to 1e-5 relative.
        assert!((record.value - want).abs() <= 1e-5 * want, "{}: {} vs {want}", generated.name(), record.value);
    }

    // Wrong widths are errors that name the set, not panics.
    let small = Samples::new("generated", &noise_values[..10 * 196], 10, 196).unwrap();
    let err = fd.evaluate(small).unwrap_err().to_string();
    assert!(err.contains("generated") && err.contains("784"), "{err}");
}

#[test]
fn saved_classifier_loads_back_identically() {
    let classifier = Classifier::embedded(14).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.safetensors");
    classifier.save(&path).unwrap();
    assert_eq!(Classifier::load(&path).unwrap(), classifier);
    assert!(std::fs::read(&path).unwrap() == Classifier::embedded_bytes(14).unwrap());
    // A flow-training checkpoint is not a classifier: the error names the metadata key.
    let mut other = classifier.to_checkpoint();
    other.metadata.retain(|(k, _)| k != "format");
    let err = Classifier::from_checkpoint(&other, "x.safetensors").unwrap_err().to_string();
    assert!(err.contains("x.safetensors") && err.contains("format"), "{err}");
}

#[test]
fn cli_rejects_bad_input_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--size", "20"], "invalid size = 20: allowed 28 or 14"),
        (&["--size", "x"], "invalid size = x"),
        (&["--epochs", "3"], "--size"),
        (&["--size", "28", "--epochs", "0"], "invalid epochs = 0: allowed 1..=1000"),
        (&["--size", "14", "--epochs", "1001"], "invalid epochs = 1001"),
        (&["--size", "14", "--seed", "-1"], "invalid seed = -1"),
        (&["--size", "14", "--epochs", "-2"], "invalid epochs = -2"),
    ];
    assert_rejected("classifier", cases, tmp.path());
    let out = flowcollapse(&["classifier", "--size", "14", "--out", "missing/c.safetensors"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid out = missing/c.safetensors"), "{stderr}");
    // A directory that takes no files (even for root) is found out before the first epoch, not after it.
    let start = std::time::Instant::now();
    let out = flowcollapse(&["classifier", "--size", "14", "--out", "/proc/c.safetensors"], tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid out = /proc/c.safetensors: cannot write in /proc"), "{stderr}");
    assert!(!stderr.contains("epoch"), "no training before the check: {stderr}");
    assert!(start.elapsed().as_secs() < 10, "refused at once");
}

#[test]
fn cli_writes_a_loadable_classifier() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["classifier", "--size", "14", "--epochs", "1", "--seed", "3", "--out", "c.safetensors", "--format"];
    let records = jsonl(flowcollapse(&[&args[..], &["jsonl"]].concat(), tmp.path()));
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["epoch"], 1);
    assert!(records[0]["loss"].as_f64().unwrap() < 10f64.ln(), "one epoch beats guessing: {}", records[0]);
    let checkpoint = Checkpoint::load(&tmp.path().join("c.safetensors")).unwrap();
    let shapes: Vec<(String, Vec<usize>)> =
        checkpoint.tensors.iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
    let want: Vec<(String, Vec<usize>)> = [
        ("weight", 0, vec![256, 196]),
        ("bias", 0, vec![256]),
        ("weight", 1, vec![128, 256]),
        ("bias", 1, vec![128]),
        ("weight", 2, vec![10, 128]),
        ("bias", 2, vec![10]),
    ]
    .into_iter()
    .map(|(kind, l, shape)| (format!("classifier.layers.{l}.{kind}"), shape))
    .collect();
    assert_eq!(shapes, want);
    let meta = |k: &str| checkpoint.metadata.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(
        (meta("epochs"), meta("seed"), meta("input_shape")),
        (Some("1".into()), Some("3".into()), Some("1,14,14".into()))
    );
    // The printed score is the loaded classifier's accuracy on the 14×14 test split.
    let loaded = Classifier::load(&tmp.path().join("c.safetensors")).unwrap();
    let accuracy = loaded.accuracy(&test_split(14)).unwrap();
    assert_eq!(records[1]["test_correct"], accuracy.correct);
    assert_eq!(records[1]["test_accuracy"].as_f64().unwrap(), accuracy.value());
    assert_eq!(records[1]["matches_shipped"], false);
}

#[test]
fn cli_default_settings_write_the_shipped_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = flowcollapse(&["classifier", "--size", "14", "--out", "c.safetensors"], tmp.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("identical to the shipped file"), "{stdout}");
    let written = std::fs::read(tmp.path().join("c.safetensors")).unwrap();
    assert!(written == std::fs::read("data/classifier/fashion-mnist-14.safetensors").unwrap());
}
