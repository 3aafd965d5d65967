//! Speed of the per-generation metrics at the trainer's sizes: n = 10 000 samples of d = 784 (28 × 28)
//! pixels, on 1 and 2 threads. Sample covariance, the 784 × 784 symmetric eigendecomposition (the path the
//! build selects), FD-pixelPCA with k = 64 against a prepared real set, and k-NN precision/recall (k = 3)
//! against a prepared real manifold plus the real set's own preparation.

use criterion::{criterion_group, criterion_main, Criterion};
use flowcollapse::metrics::{
    sym_eigen, FeatureFrechet, Moments, PixelPca, PrecisionRecallParams, RealManifold, Samples,
};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::hint::black_box;
use std::time::Duration;

const N: usize = 10_000;
const D: usize = 784;

/// Image-like rows in [-1, 1]: a few smooth random patterns mixed with noise, so the covariance has a
/// decaying spectrum like real pixels.
fn images(seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let patterns: Vec<Vec<f32>> =
        (0..16).map(|p| (0..D).map(|j| ((j as f32 * 0.013 * (p + 1) as f32) + p as f32).sin()).collect()).collect();
    let mut out = Vec::with_capacity(N * D);
    for _ in 0..N {
        let w: Vec<f32> = (0..16).map(|p| rng.random_range(-1.0f32..1.0) / (1.0 + p as f32)).collect();
        for j in 0..D {
            let v: f32 =
                patterns.iter().zip(&w).map(|(pat, w)| pat[j] * w).sum::<f32>() + rng.random_range(-0.1f32..0.1);
            out.push(v.clamp(-1.0, 1.0));
        }
    }
    out
}

fn metrics(c: &mut Criterion) {
    let (real, generated) = (images(1), images(2));
    let real = Samples::new("real", &real, N, D).unwrap();
    let generated = Samples::new("generated", &generated, N, D).unwrap();
    let cov = Moments::from_samples(real).unwrap().covariance().clone();

    let mut group = c.benchmark_group("metrics_n10000_d784");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        group.bench_function(format!("covariance_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| Moments::from_samples(black_box(real)).unwrap()))
        });
        let fd = pool.install(|| FeatureFrechet::new(PixelPca::fit(real, 64).unwrap(), real).unwrap());
        group.bench_function(format!("fd_pixel_pca_k64_evaluate_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| fd.evaluate(black_box(generated)).unwrap()))
        });
        let manifold = pool.install(|| RealManifold::fit(real, PrecisionRecallParams::default()).unwrap());
        group.bench_function(format!("precision_recall_evaluate_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| manifold.evaluate(black_box(generated)).unwrap()))
        });
        group.bench_function(format!("real_manifold_fit_threads_{threads}"), |b| {
            b.iter(|| pool.install(|| RealManifold::fit(black_box(real), PrecisionRecallParams::default()).unwrap()))
        });
    }
    group.bench_function("sym_eigen_784", |b| b.iter(|| sym_eigen("Σ̂", black_box(&cov)).unwrap()));
    group.finish();
}

criterion_group!(benches, metrics);
criterion_main!(benches);
