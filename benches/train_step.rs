//! Speed of one training step of the 784 + 16 → 1024 → 1024 → 784 MLP on the CPU backend, 2 threads.
//!
//! Throughput is reported in criterion's "elem/s", where one element is one floating-point operation, so
//! `Gelem/s` reads as GFLOP/s. A step counts the 8 large products (3 forward `X·Wᵀ`, 3 weight gradients
//! `Gᵀ·H`, 2 input gradients `G·W`; layer 0 needs none) and the 2 small products of the time-embedding
//! columns (forward and weight gradient), each as `2·m·n·k`; element-wise work and Adam are not counted.
//!
//! Groups:
//! - `train_step/batch_{128,32}`: `Trainer::step` as training runs it: pairs drawn from a 1000 × 784 data
//!   matrix with fresh noise, t, forward, loss, backward, norm, fused clip + Adam + EMA.
//! - `train_parts/…`: the same step split into pairs + forward + backward (`loss_and_grad`) and the
//!   optimiser alone (`sum_squares` + `adam_ema` on the 2.68 M parameters).
//! - `sgemm/…`: the products of one batch-128 step one by one, and 2048³ as this machine's gemm peak.

mod common;

use common::{config, data, step_flops, step_products, DIM};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowcollapse::train::{Backend, CpuBackend, Gemm, IndependentPairs, OptimConfig, Trainer};
use std::hint::black_box;
use std::time::Duration;

const THREADS: usize = 2;

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build().unwrap()
}

fn train_step(c: &mut Criterion) {
    let pool = pool();
    let data = data();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(30).measurement_time(Duration::from_secs(10));
    for batch in [128, 32] {
        let mut trainer = Trainer::new(CpuBackend::new(), config(batch)).unwrap();
        let mut pairs = IndependentPairs::new(&data, DIM, 2).unwrap();
        eprintln!("batch {batch}: {:.3} GFLOP per step counted", step_flops(batch) as f64 * 1e-9);
        group.throughput(Throughput::Elements(step_flops(batch)));
        group.bench_function(BenchmarkId::new("batch", batch), |bch| {
            bch.iter(|| pool.install(|| black_box(trainer.step(&mut pairs).unwrap())))
        });
    }
    group.finish();
}

fn train_parts(c: &mut Criterion) {
    let pool = pool();
    let data = data();
    let mut group = c.benchmark_group("train_parts");
    group.sample_size(30).measurement_time(Duration::from_secs(8));
    for batch in [128, 32] {
        let mut trainer = Trainer::new(CpuBackend::new(), config(batch)).unwrap();
        let mut pairs = IndependentPairs::new(&data, DIM, 2).unwrap();
        group.throughput(Throughput::Elements(step_flops(batch)));
        group.bench_function(BenchmarkId::new("loss_and_grad", batch), |bch| {
            bch.iter(|| pool.install(|| black_box(trainer.loss_and_grad(&mut pairs).unwrap())))
        });
    }
    let trainer = Trainer::new(CpuBackend::new(), config(32)).unwrap();
    let b = CpuBackend::new();
    let n = trainer.mlp().num_params();
    let grads = vec![1e-3f32; n];
    let (mut p, mut m, mut v, mut e) = (trainer.params().clone(), vec![0.0; n], vec![0.0; n], trainer.params().clone());
    let scalars = OptimConfig::default().step_scalars(10, 1.0);
    let mut norm = vec![0.0f64; 1];
    group.throughput(Throughput::Bytes((9 * 4 * n) as u64));
    group.bench_function("norm_adam_ema", |bch| {
        bch.iter(|| {
            pool.install(|| {
                b.sum_squares(&grads, &mut norm, 0, false).unwrap();
                black_box(norm[0]);
                b.adam_ema(&scalars, &mut p, &grads, &mut m, &mut v, &mut e).unwrap();
            })
        })
    });
    group.finish();
}

fn sgemm(c: &mut Criterion) {
    let pool = pool();
    let b = CpuBackend::new();
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(20).measurement_time(Duration::from_secs(4));
    let mut shapes = step_products(128);
    shapes.push(("square_2048", Gemm::new(2048, 2048, 2048, false, false)));
    for (name, g) in shapes {
        let (la, lb, lc) = g.min_lens();
        let (a, bm) = (vec![0.5f32; la], vec![0.25f32; lb]);
        let mut out = vec![0.0f32; lc];
        group.throughput(Throughput::Elements(g.flops() as u64));
        group.bench_function(name, |bch| {
            bch.iter(|| pool.install(|| b.matmul(&g, black_box(&a), black_box(&bm), &mut out).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, train_step, train_parts, sgemm);
criterion_main!(benches);
