//! Speed of one training step of the 784 + 16 → 1024 → 1024 → 784 MLP on the CUDA backend, and of the
//! hand-written GEMM on the products of that step.
//!
//! Without a GPU (no driver, no NVRTC, no device 0) it prints `skipped: <reason>` and exits 0, so that
//! `cargo bench` stays green everywhere. `benches/peers/gpu_check.sh` runs it next to the PyTorch peer
//! (`benches/peers/cuda_step_torch.py`) and prints the ratios.
//!
//! Throughput is criterion's "elem/s" with one element per floating-point operation (`Gelem/s` reads as
//! GFLOP/s), counted as in `benches/train_step.rs`: the 8 large products and the 2 small time-embedding
//! products of a step, `2·m·n·k` each; element-wise work and Adam are not counted.
//!
//! Groups:
//! - `cuda_train_step/batch/{128,256,1024}`: `Trainer::step` as training runs it on the GPU: the 1000 × 784
//!   data matrix is uploaded once (first step), then each step draws its rows and noise on the device,
//!   runs forward, loss, backward and the gradient norm, reads loss and norm back (which synchronises the
//!   stream), and launches the fused clip + Adam + EMA. The Adam launch of step s completes before the
//!   read-back of step s + 1, so each iteration costs one complete step.
//! - `cuda_sgemm/{name}/{batch}`: each product of one step at batch 128, 256 and 1024 (`step_products`,
//!   the same shapes, transposes and leading dimensions as `train_step.rs`) through `backend.matmul` on
//!   device buffers, and `cuda_sgemm/square/4096` (4096³) as the kernel's peak. Timing: the stream is
//!   synchronised after every [`SYNC_EVERY`] launches and at the end of each sample, and criterion
//!   divides by the launches, so a figure is the time of one launch with the host's synchronisation
//!   cost spread over 20 launches (the GPU's work queue stays full; `torch.mm` timed with CUDA events
//!   around a loop of launches measures the same).
//!
//! Short on purpose (`sample_size(20)`, 2–3 s per benchmark): about 100 s on an H100/H200.

mod common;

use common::{config, data, step_flops, step_products, DIM};
use criterion::{BenchmarkId, Criterion, Throughput};
use flowcollapse::train::{Backend, CudaBackend, Gemm, IndependentPairs, Trainer};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCHES: [usize; 3] = [128, 256, 1024];
/// Launches between two synchronisations in `cuda_sgemm`.
const SYNC_EVERY: u64 = 20;

fn train_step(c: &mut Criterion, backend: &CudaBackend) {
    let data = data();
    let mut group = c.benchmark_group("cuda_train_step");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for batch in BATCHES {
        let mut trainer = Trainer::new(backend.clone(), config(batch)).expect("trainer on the GPU");
        let mut pairs = IndependentPairs::new(&data, DIM, 2).expect("pairs");
        eprintln!("batch {batch}: {:.3} GFLOP per step counted", step_flops(batch) as f64 * 1e-9);
        group.throughput(Throughput::Elements(step_flops(batch)));
        group.bench_function(BenchmarkId::new("batch", batch), |bch| {
            bch.iter(|| black_box(trainer.step(&mut pairs).expect("training step")))
        });
    }
    group.finish();
}

fn sgemm(c: &mut Criterion, backend: &CudaBackend) {
    let b = backend;
    let mut group = c.benchmark_group("cuda_sgemm");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let mut shapes: Vec<(&str, usize, Gemm)> =
        BATCHES.iter().flat_map(|&batch| step_products(batch).into_iter().map(move |(n, g)| (n, batch, g))).collect();
    shapes.push(("square", 4096, Gemm::new(4096, 4096, 4096, false, false)));
    for (name, param, g) in shapes {
        let (la, lb, lc) = g.min_lens();
        let (mut a, mut bm, mut out) = (b.zeros(la).unwrap(), b.zeros(lb).unwrap(), b.zeros(lc).unwrap());
        b.fill(0.5, b.view_mut(&mut a)).unwrap();
        b.fill(0.25, b.view_mut(&mut bm)).unwrap();
        b.device().synchronize().unwrap();
        group.throughput(Throughput::Elements(g.flops() as u64));
        group.bench_function(BenchmarkId::new(name, param), |bch| {
            bch.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    b.matmul(&g, b.view(&a), b.view(&bm), b.view_mut(&mut out)).unwrap();
                    if (i + 1) % SYNC_EVERY == 0 {
                        b.device().synchronize().unwrap();
                    }
                }
                b.device().synchronize().unwrap();
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn main() {
    let backend = match CudaBackend::new(0) {
        Ok(backend) => backend,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    eprintln!("device: {}", backend.name());
    let mut c = Criterion::default().configure_from_args();
    train_step(&mut c, &backend);
    sgemm(&mut c, &backend);
    c.final_summary();
}
