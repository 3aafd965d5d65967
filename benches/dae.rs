//! Speed of the DAE closed form and Monte Carlo (issue: foundation). Peer: benches/peers/dae_numpy.py,
//! compared side by side by benches/peers/compare_dae.sh.

use criterion::{criterion_group, criterion_main, Criterion};
use flowcollapse::sim::dae::{run, DaeSetup, MonteCarlo};
use flowcollapse::theory::dae::summaries;
use flowcollapse::theory::{Covariance, Rule, Strategy};
use std::hint::black_box;
use std::time::Duration;

/// λ_i = 2·0.9^i, the spectrum the numpy peer uses too.
fn peer_spectrum(d: usize) -> Vec<f64> {
    (0..d).map(|i| 2.0 * 0.9f64.powi(i as i32)).collect()
}

fn closed_form(c: &mut Criterion) {
    let lambda: Vec<f64> = (0..1000).map(|i| 1.0 / (1.0 + i as f64)).collect();
    c.bench_function("closed_form_d1000_g10000", |b| {
        b.iter(|| summaries(black_box(&lambda), 0.1, Strategy::Replace, Rule::Noisy, 10_000))
    });
}

fn monte_carlo(c: &mut Criterion) {
    let cov = Covariance::from_spectrum(&peer_spectrum(32)).unwrap();
    let setup = DaeSetup { covariance: &cov, s: 0.1, strategy: Strategy::Replace, rule: Rule::Noisy, generations: 30 };
    let mc = MonteCarlo { samples: 4096, replicates: 64, seed: 0 };
    let mut group = c.benchmark_group("monte_carlo_d32_n4096_r64_g30");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| pool.install(|| run(black_box(&setup), &mc, 0, 0.95).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, closed_form, monte_carlo);
criterion_main!(benches);
