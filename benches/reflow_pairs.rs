//! Pair generation and inversion throughput of the flow sampler: Euler, K = 50 steps, n = 1024 rows
//! integrated `SamplerConfig::DEFAULT_CHUNK` rows at a time (or `REFLOW_CHUNK` rows when that variable is
//! set), CPU backend, 2 threads. Throughput is in criterion's "elem/s", where one element is one image (one
//! row integrated through all K steps).
//!
//! Groups:
//! - `reflow_forward/{mlp}`: noise → data (`Direction::Forward`) from N(0, I) starting points.
//! - `reflow_reverse/{mlp}`: data → noise (`Direction::Reverse`) from fixed values in [−1, 1].
//! - `reflow_parts/{mlp}_forward_chunk`: one `net::forward` of one chunk (its row count is the group's
//!   throughput), the sampler's only heavy op. K = 50 × (n / chunk) of it, compared with the whole
//!   integration, is the sampler's overhead (per-step upload of t, the straightness sums, copies, the
//!   download of each chunk).
//!
//! MLPs: `demo196` is the demo's 196 + 16 → 512 → 512 → 196 (14×14 Fashion-MNIST); `mnist784` is the
//! 28×28 default 784 + 16 → 1024 → 1024 → 784. Both with `mlp.init(1)` parameters.
//!
//! With `REFLOW_DUMP=<dir>` set, the bench first writes the demo MLP's parameters, its start points and the
//! end points of both directions there (raw little-endian f32, plus `meta.json`), so that
//! `benches/peers/reflow_pairs_torch.py --check <dir>` can confirm that the PyTorch peer runs the same loop.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use flowcollapse::train::net::{self, Workspace};
use flowcollapse::train::sampler::{self, Direction, SamplerConfig, Solver};
use flowcollapse::train::{Backend, CpuBackend, Mlp, MlpConfig};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const ROWS: usize = 1024;
const STEPS: usize = 50;
const THREADS: usize = 2;
const SEED: u64 = 1;

/// (name, dim, hidden, embed) of the measured MLPs.
const MLPS: [(&str, usize, [usize; 2], usize); 2] =
    [("demo196", 196, [512, 512], 16), ("mnist784", 784, [1024, 1024], 16)];

/// Rows integrated at once: `REFLOW_CHUNK` if set, else the sampler's default.
fn chunk() -> usize {
    match std::env::var("REFLOW_CHUNK") {
        Ok(v) => v.parse().expect("REFLOW_CHUNK: a row count ≥ 1"),
        Err(_) => SamplerConfig::DEFAULT_CHUNK,
    }
}

/// Euler, K = `STEPS`, in `direction`, `chunk()` rows at a time.
fn sampler_config(direction: Direction) -> SamplerConfig {
    SamplerConfig { chunk: chunk(), ..SamplerConfig::new(Solver::Euler, STEPS, direction) }
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build().unwrap()
}

fn mlp(dim: usize, hidden: [usize; 2], embed: usize) -> Mlp {
    Mlp::new(MlpConfig { dim, hidden: hidden.to_vec(), embed }).unwrap()
}

/// N(0, I) starting noise for the forward direction.
fn noise(dim: usize) -> Vec<f32> {
    let mut z = vec![0.0f32; ROWS * dim];
    flowcollapse::train::pairs::fill_normal(SEED, 7, &mut z);
    z
}

/// Fixed "images" in [−1, 1] for the reverse direction.
fn images(dim: usize) -> Vec<f32> {
    (0..ROWS * dim).map(|i| (i as f32 * 0.37).sin()).collect()
}

fn start(direction: Direction, dim: usize) -> Vec<f32> {
    match direction {
        Direction::Forward => noise(dim),
        Direction::Reverse => images(dim),
    }
}

fn write_f32(dir: &Path, name: &str, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The demo MLP's parameters, start and end points of both directions, for the peer's `--check`.
fn dump(dir: &Path) {
    let pool = pool();
    let (_, dim, hidden, embed) = MLPS[0];
    let mlp = mlp(dim, hidden, embed);
    let b = CpuBackend::new();
    let host = mlp.init(SEED);
    let params = b.upload(&host).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    write_f32(dir, "params.f32", &host);
    for (name, direction) in [("forward", Direction::Forward), ("reverse", Direction::Reverse)] {
        let x = start(direction, dim);
        let config = sampler_config(direction);
        let out = pool.install(|| sampler::integrate(&b, &mlp, &params, &x, &config).unwrap());
        write_f32(dir, &format!("{name}_start.f32"), &x);
        write_f32(dir, &format!("{name}_end.f32"), &out.x);
    }
    let meta = serde_json::json!({
        "dim": dim, "hidden": hidden, "embed": embed, "rows": ROWS, "steps": STEPS,
        "layout": "layers.{l}.weight [out, in] row-major, then layers.{l}.bias, l = 0, 1, 2",
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    eprintln!("reflow_pairs: wrote the check files to {}", dir.display());
}

fn integrate_group(c: &mut Criterion, group_name: &str, direction: Direction) {
    let pool = pool();
    let b = CpuBackend::new();
    let mut group = c.benchmark_group(group_name);
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, dim, hidden, embed) in MLPS {
        let mlp = mlp(dim, hidden, embed);
        let params = b.upload(&mlp.init(SEED)).unwrap();
        let x = start(direction, dim);
        let config = sampler_config(direction);
        group.measurement_time(Duration::from_secs(if dim > 512 { 12 } else { 4 }));
        group.bench_function(BenchmarkId::from_parameter(name), |bch| {
            bch.iter(|| pool.install(|| black_box(sampler::integrate(&b, &mlp, &params, &x, &config).unwrap())))
        });
    }
    group.finish();
}

fn reflow_forward(c: &mut Criterion) {
    if let Some(dir) = std::env::var_os("REFLOW_DUMP") {
        dump(Path::new(&dir));
    }
    integrate_group(c, "reflow_forward", Direction::Forward);
}

fn reflow_reverse(c: &mut Criterion) {
    integrate_group(c, "reflow_reverse", Direction::Reverse);
}

fn reflow_parts(c: &mut Criterion) {
    let pool = pool();
    let b = CpuBackend::new();
    let rows = chunk().min(ROWS);
    let mut group = c.benchmark_group("reflow_parts");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(rows as u64));
    for (name, dim, hidden, embed) in MLPS {
        let mlp = mlp(dim, hidden, embed);
        let params = b.upload(&mlp.init(SEED)).unwrap();
        let x = b.upload(&noise(dim)[..rows * dim]).unwrap();
        let t = b.upload(&vec![0.5f32; rows]).unwrap();
        let mut ws = Workspace::new(&b, &mlp, rows).unwrap();
        group.bench_function(format!("{name}_forward_chunk"), |bch| {
            bch.iter(|| pool.install(|| net::forward(&b, &mlp, &params, black_box(&x), &t, &mut ws)))
        });
    }
    group.finish();
}

criterion_group!(benches, reflow_forward, reflow_reverse, reflow_parts);
criterion_main!(benches);
