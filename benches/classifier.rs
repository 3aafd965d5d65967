//! Speed of the FD-classifier network at 28 × 28, on 1 and 2 threads: its portable fixed-order product next
//! to the gemm-crate product the trainer uses (the forward product of the first layer, 100 × 784 · 784 × 256),
//! one training epoch over 1 000 embedded images (10 Adam steps of 100), and the features of 10 000 images
//! (what FD-classifier costs per generation).

use criterion::{criterion_group, criterion_main, Criterion};
use flowcollapse::classifier::kernels::{matmul, ALayout};
use flowcollapse::classifier::{self, Classifier, ClassifierConfig, TrainSettings};
use flowcollapse::data::{embedded_fashion_mnist, Dataset, Split};
use flowcollapse::metrics::{FeatureSpace, Samples};
use flowcollapse::train::{Backend, CpuBackend, Gemm};
use std::hint::black_box;
use std::time::Duration;

fn classifier(c: &mut Criterion) {
    let train = embedded_fashion_mnist(Split::Train).unwrap();
    let n = 1000;
    let subset =
        Dataset::new(train.rows(0..n).to_vec(), train.shape(), Some(train.labels().unwrap()[..n].to_vec()), "subset")
            .unwrap();
    let settings = TrainSettings { epochs: 1, ..TrainSettings::default() };
    let config = ClassifierConfig::new(train.shape());
    let shipped = Classifier::embedded(28).unwrap();
    let images = Samples::new("images", train.values(), train.len(), train.dim()).unwrap();
    let (m, n_out, k) = (100, 256, 784);
    let a: Vec<f32> = train.rows(0..m).to_vec();
    let w: Vec<f32> = shipped.params()[..n_out * k].to_vec();
    let mut out = vec![0.0f32; m * n_out];

    let mut group = c.benchmark_group("classifier_28x28");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        group.bench_function(format!("portable_matmul_100x784x256_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| matmul(m, n_out, k, black_box(&a), ALayout::RowMajor, &w, &mut out)))
        });
        // The same product through the trainer's backend (W stored out × in, read transposed).
        let g = Gemm::new(m, n_out, k, false, true);
        group.bench_function(format!("gemm_crate_matmul_100x784x256_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| CpuBackend::new().matmul(&g, black_box(&a), &w, &mut out)))
        });
        group.bench_function(format!("train_epoch_1000_images_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| classifier::train(&config, &settings, black_box(&subset), |_| {}).unwrap()))
        });
        group.bench_function(format!("features_10000_images_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| shipped.embed(black_box(images)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, classifier);
criterion_main!(benches);
