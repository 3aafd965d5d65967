//! Speed of the Gaussian refit Monte Carlo: 10⁶ paths × 100 generations, 1-D Replace, n = 20, on 1 and
//! 2 threads, drawing the samples (the reference) or only their sufficient statistics.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowcollapse::sim::gaussian::{run, GaussianSetup, McConfig, Sampling};
use flowcollapse::theory::gaussian::Estimator;
use flowcollapse::theory::Strategy;
use std::hint::black_box;
use std::time::Duration;

const PATHS: usize = 1_000_000;

fn refit(c: &mut Criterion) {
    let setup = GaussianSetup::one_dim(1.0, 20, Estimator::Mle, Strategy::Replace, 100).unwrap();
    let mut group = c.benchmark_group("gaussian_refit_p1e6_g100_n20");
    group.sample_size(10).measurement_time(Duration::from_secs(60)).throughput(Throughput::Elements(PATHS as u64));
    for sampling in [Sampling::Samples, Sampling::Sufficient] {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mc = McConfig { sampling, ..McConfig::new(PATHS, 0) };
            group.bench_function(format!("{}_threads_{threads}", sampling.name()), |b| {
                b.iter(|| pool.install(|| run(black_box(&setup), &mc).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, refit);
criterion_main!(benches);
