//! The kernel backends: the CUDA kernels of `kernels/*.cu` behind the [`Backend`] trait, written once over
//! a [`Device`] that owns memory and launches kernels.
//!
//! Two devices implement it: [`cuda::CudaDevice`] (a GPU through cudarc, kernels compiled by NVRTC) and
//! [`shim::ShimDevice`] (the same kernel sources compiled by g++ through `kernels/host/cuda_on_cpu.h` and
//! run on CPU threads). Every op below picks the same kernel, launch shape and arguments for both, so
//! what the tests run through the shim on any machine is what a GPU runs. Each op mirrors the
//! [`super::CpuBackend`] op of the same name and is tested against it (`tests/train_ops.rs`,
//! `tests/kernel_parity.rs`).
//!
//! Reductions run in two launches with shapes that depend only on the length: per-block partial sums in
//! f64 over fixed blocks of [`REDUCE_ITEMS`] entries (a shared-memory tree inside each block), then one
//! block adds the partials in a fixed order. No float atomics anywhere, so a run is bit-identical to
//! itself on the same device.

#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "kernel-shim")]
pub mod shim;
#[cfg(feature = "kernel-shim")]
pub mod shim_ffi;

use super::backend::{AdamStep, BResult, Backend, DevView, DevViewMut, Gemm};
use super::model::embed_frequency;
use super::rng;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// Threads per block of every one-dimensional launch.
pub const BLOCK: u32 = 256;
/// Entries per block of the reduction partials (16 per thread).
pub const REDUCE_ITEMS: usize = 4096;
/// Most blocks of an element-wise launch (the kernels loop grid-stride beyond it).
pub const MAX_GRID: usize = 4096;
/// Rows and columns of C one GEMM block computes; the block is 16 × 16 threads.
pub const GEMM_TILE: usize = 64;

/// A launch shape: blocks per grid and threads per block, (x, y, z).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub grid: [u32; 3],
    pub block: [u32; 3],
}

impl Shape {
    /// One thread per entry up to [`MAX_GRID`] blocks of [`BLOCK`].
    pub fn elementwise(n: usize) -> Shape {
        let blocks = n.div_ceil(BLOCK as usize).clamp(1, MAX_GRID);
        Shape { grid: [blocks as u32, 1, 1], block: [BLOCK, 1, 1] }
    }

    /// One thread per column.
    pub fn columns(cols: usize) -> Shape {
        Shape { grid: [cols.div_ceil(BLOCK as usize).max(1) as u32, 1, 1], block: [BLOCK, 1, 1] }
    }

    /// One block per [`REDUCE_ITEMS`] entries.
    pub fn partials(n: usize) -> Shape {
        Shape { grid: [n.div_ceil(REDUCE_ITEMS).max(1) as u32, 1, 1], block: [BLOCK, 1, 1] }
    }

    /// The single block that adds the partials.
    pub fn finish() -> Shape {
        Shape { grid: [1, 1, 1], block: [BLOCK, 1, 1] }
    }

    /// One 16 × 16 block per 64 × 64 tile of the m × n output.
    pub fn gemm(m: usize, n: usize) -> Shape {
        let tiles = |x: usize| x.div_ceil(GEMM_TILE).max(1) as u32;
        Shape { grid: [tiles(n), tiles(m), 1], block: [16, 16, 1] }
    }
}

/// The kernels of `kernels/*.cu`, by their `extern "C"` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    FillConst,
    FillUniform,
    FillNormal,
    GatherRows,
    FlowPairs,
    BiasSilu,
    SiluBackward,
    AddBias,
    ColumnSum,
    TimeEmbed,
    SumSquaresPartials,
    MsePartials,
    FinishSum,
    AdamEma,
    Euler,
    EulerTo,
    Heun,
    Sgemm,
}

impl Kernel {
    pub const ALL: [Kernel; 18] = [
        Kernel::FillConst,
        Kernel::FillUniform,
        Kernel::FillNormal,
        Kernel::GatherRows,
        Kernel::FlowPairs,
        Kernel::BiasSilu,
        Kernel::SiluBackward,
        Kernel::AddBias,
        Kernel::ColumnSum,
        Kernel::TimeEmbed,
        Kernel::SumSquaresPartials,
        Kernel::MsePartials,
        Kernel::FinishSum,
        Kernel::AdamEma,
        Kernel::Euler,
        Kernel::EulerTo,
        Kernel::Heun,
        Kernel::Sgemm,
    ];

    /// The kernel's `extern "C"` name.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::FillConst => "fc_fill_const",
            Kernel::FillUniform => "fc_fill_uniform",
            Kernel::FillNormal => "fc_fill_normal",
            Kernel::GatherRows => "fc_gather_rows",
            Kernel::FlowPairs => "fc_flow_pairs",
            Kernel::BiasSilu => "fc_bias_silu",
            Kernel::SiluBackward => "fc_silu_backward",
            Kernel::AddBias => "fc_add_bias",
            Kernel::ColumnSum => "fc_column_sum",
            Kernel::TimeEmbed => "fc_time_embed",
            Kernel::SumSquaresPartials => "fc_sum_squares_partials",
            Kernel::MsePartials => "fc_mse_partials",
            Kernel::FinishSum => "fc_finish_sum",
            Kernel::AdamEma => "fc_adam_ema",
            Kernel::Euler => "fc_euler",
            Kernel::EulerTo => "fc_euler_to",
            Kernel::Heun => "fc_heun",
            Kernel::Sgemm => "fc_sgemm",
        }
    }
}

/// The kernel sources, `(file name, text)`; `common.cuh` first.
pub const SOURCES: [(&str, &str); 10] = [
    ("common.cuh", include_str!("../../../kernels/common.cuh")),
    ("fill.cu", include_str!("../../../kernels/fill.cu")),
    ("pairs.cu", include_str!("../../../kernels/pairs.cu")),
    ("activation.cu", include_str!("../../../kernels/activation.cu")),
    ("column_sum.cu", include_str!("../../../kernels/column_sum.cu")),
    ("time_embed.cu", include_str!("../../../kernels/time_embed.cu")),
    ("reduce.cu", include_str!("../../../kernels/reduce.cu")),
    ("adam.cu", include_str!("../../../kernels/adam.cu")),
    ("solver.cu", include_str!("../../../kernels/solver.cu")),
    ("gemm.cu", include_str!("../../../kernels/gemm.cu")),
];

/// Every kernel in one translation unit, as NVRTC compiles it: `common.cuh` once, then each `.cu` file
/// with its `#include "common.cuh"` line dropped (NVRTC reads no files).
pub fn translation_unit() -> String {
    let mut unit = String::new();
    for (file, text) in SOURCES {
        unit.push_str(&format!("// ---- {file}\n"));
        for line in text.lines() {
            if line.trim() != "#include \"common.cuh\"" {
                unit.push_str(line);
                unit.push('\n');
            }
        }
    }
    unit
}

/// One kernel argument, as the C signature in kernels/README.md types it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg {
    /// A device address (`float*`, `double*`).
    Ptr(u64),
    /// `long long`.
    I64(i64),
    /// `int`.
    I32(i32),
    /// `unsigned long long`.
    U64(u64),
    F32(f32),
    F64(f64),
}

/// Memory and launches of one device; addresses are plain `u64`s (device pointers on a GPU, host
/// addresses in the shim).
pub trait Device: Clone {
    /// An owned f32 buffer.
    type Buf;
    /// An owned f64 buffer (reduction results and partials, frequency tables).
    type Buf64;
    fn name(&self) -> String;
    /// `len` zeros.
    fn alloc(&self, len: usize) -> BResult<Self::Buf>;
    fn alloc64(&self, len: usize) -> BResult<Self::Buf64>;
    fn len(&self, buf: &Self::Buf) -> usize;
    fn len64(&self, buf: &Self::Buf64) -> usize;
    /// The address of a buffer's first entry, to read.
    fn addr(&self, buf: &Self::Buf) -> u64;
    /// The address of a buffer's first entry, to write.
    fn addr_mut(&self, buf: &mut Self::Buf) -> u64;
    fn addr64(&self, buf: &Self::Buf64) -> u64;
    fn addr64_mut(&self, buf: &mut Self::Buf64) -> u64;
    /// Host → device: `src` to address `dst`.
    fn htod(&self, src: &[f32], dst: u64) -> BResult<()>;
    fn htod64(&self, src: &[f64], dst: u64) -> BResult<()>;
    /// Device → host, after every queued launch has finished.
    fn dtoh(&self, src: u64, dst: &mut [f32]) -> BResult<()>;
    fn dtoh64(&self, src: u64, dst: &mut [f64]) -> BResult<()>;
    /// `len` f32 entries, device to device.
    fn dtod(&self, src: u64, dst: u64, len: usize) -> BResult<()>;
    fn launch(&self, kernel: Kernel, shape: Shape, args: &[Arg]) -> BResult<()>;
}

/// Per-backend scratch: the reduction partials and the time-embedding frequencies of each width.
struct Scratch<D: Device> {
    partials: Option<(usize, D::Buf64)>,
    freq: Vec<(usize, D::Buf64)>,
}

/// [`Backend`] over a [`Device`]: every op is one or two kernel launches.
#[derive(Clone)]
pub struct KernelBackend<D: Device> {
    dev: D,
    scratch: Arc<Mutex<Scratch<D>>>,
}

/// The kernels on a GPU.
#[cfg(feature = "cuda")]
pub type CudaBackend = KernelBackend<cuda::CudaDevice>;
/// The kernels on the CPU, through the shim (tests).
#[cfg(feature = "kernel-shim")]
pub type ShimBackend = KernelBackend<shim::ShimDevice>;

fn view(ptr: u64, len: usize) -> DevView<'static> {
    DevView { ptr, len, _buf: PhantomData }
}

impl<D: Device> KernelBackend<D> {
    pub fn on(dev: D) -> Self {
        KernelBackend { dev, scratch: Arc::new(Mutex::new(Scratch { partials: None, freq: Vec::new() })) }
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    fn elementwise(&self, kernel: Kernel, n: usize, args: &[Arg]) -> BResult<()> {
        if n == 0 {
            return Ok(());
        }
        self.dev.launch(kernel, Shape::elementwise(n), args)
    }

    /// `Σ` over `n` entries by `partials` (a kernel writing per-block f64 sums into its last argument),
    /// then `out[slot] (+)= multiplier · Σ`.
    fn reduce(
        &self,
        kernel: Kernel,
        n: usize,
        args: &[Arg],
        multiplier: f64,
        out: u64,
        accumulate: bool,
    ) -> BResult<()> {
        let parts = n.div_ceil(REDUCE_ITEMS);
        let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        if scratch.partials.as_ref().is_none_or(|(len, _)| *len < parts.max(1)) {
            scratch.partials = Some((parts.max(1), self.dev.alloc64(parts.max(1))?));
        }
        let partials = self.dev.addr64_mut(&mut scratch.partials.as_mut().expect("allocated above").1);
        if parts > 0 {
            let mut all = args.to_vec();
            all.push(Arg::Ptr(partials));
            self.dev.launch(kernel, Shape::partials(n), &all)?;
        }
        let finish = [
            Arg::Ptr(partials),
            Arg::I64(parts as i64),
            Arg::F64(multiplier),
            Arg::Ptr(out),
            Arg::I32(accumulate as i32),
        ];
        self.dev.launch(Kernel::FinishSum, Shape::finish(), &finish)
    }
}

fn check_len(what: &str, len: usize, need: usize) {
    assert!(len >= need, "{what}: buffer of {len} entries, the op needs {need}");
}

impl<D: Device> Backend for KernelBackend<D> {
    type Buf = D::Buf;
    type View<'a>
        = DevView<'a>
    where
        D: 'a;
    type ViewMut<'a>
        = DevViewMut<'a>
    where
        D: 'a;
    type Scalars = D::Buf64;

    fn name(&self) -> String {
        self.dev.name()
    }

    fn zeros(&self, len: usize) -> BResult<D::Buf> {
        self.dev.alloc(len)
    }

    fn upload(&self, data: &[f32]) -> BResult<D::Buf> {
        let mut buf = self.dev.alloc(data.len())?;
        self.dev.htod(data, self.dev.addr_mut(&mut buf))?;
        Ok(buf)
    }

    fn upload_into(&self, data: &[f32], dst: DevViewMut<'_>) -> BResult<()> {
        check_len("upload_into", dst.len, data.len());
        self.dev.htod(data, dst.ptr)
    }

    fn download(&self, src: DevView<'_>) -> BResult<Vec<f32>> {
        let mut out = vec![0.0; src.len];
        self.dev.dtoh(src.ptr, &mut out)?;
        Ok(out)
    }

    fn len(&self, buf: &D::Buf) -> usize {
        self.dev.len(buf)
    }

    fn slice<'a>(&self, buf: &'a D::Buf, range: Range<usize>) -> DevView<'a> {
        assert!(
            range.start <= range.end && range.end <= self.dev.len(buf),
            "slice {range:?} of a buffer of {}",
            self.dev.len(buf)
        );
        DevView { ptr: self.dev.addr(buf) + 4 * range.start as u64, len: range.len(), _buf: PhantomData }
    }

    fn slice_mut<'a>(&self, buf: &'a mut D::Buf, range: Range<usize>) -> DevViewMut<'a> {
        assert!(
            range.start <= range.end && range.end <= self.dev.len(buf),
            "slice {range:?} of a buffer of {}",
            self.dev.len(buf)
        );
        DevViewMut { ptr: self.dev.addr_mut(buf) + 4 * range.start as u64, len: range.len(), _buf: PhantomData }
    }

    fn copy(&self, src: DevView<'_>, dst: DevViewMut<'_>) -> BResult<()> {
        assert_eq!(src.len, dst.len, "copy: lengths differ");
        self.dev.dtod(src.ptr, dst.ptr, src.len)
    }

    fn scalars(&self, n: usize) -> BResult<D::Buf64> {
        self.dev.alloc64(n)
    }

    fn read_scalars(&self, s: &D::Buf64) -> BResult<Vec<f64>> {
        let mut out = vec![0.0; self.dev.len64(s)];
        self.dev.dtoh64(self.dev.addr64(s), &mut out)?;
        Ok(out)
    }

    fn fill(&self, value: f32, out: DevViewMut<'_>) -> BResult<()> {
        self.elementwise(Kernel::FillConst, out.len, &[Arg::Ptr(out.ptr), Arg::I64(out.len as i64), Arg::F32(value)])
    }

    fn fill_uniform(&self, seed: u64, stream: u64, first: u64, out: DevViewMut<'_>) -> BResult<()> {
        let key = rng::stream_key(seed, stream);
        let args = [Arg::Ptr(out.ptr), Arg::I64(out.len as i64), Arg::U64(key), Arg::U64(first)];
        self.elementwise(Kernel::FillUniform, out.len, &args)
    }

    fn fill_normal(&self, seed: u64, stream: u64, first: u64, out: DevViewMut<'_>) -> BResult<()> {
        let key = rng::stream_key(seed, stream);
        let args = [Arg::Ptr(out.ptr), Arg::I64(out.len as i64), Arg::U64(key), Arg::U64(first)];
        self.elementwise(Kernel::FillNormal, out.len, &args)
    }

    fn gather_rows(&self, seed: u64, stream: u64, d: usize, src: DevView<'_>, dst: DevViewMut<'_>) -> BResult<()> {
        assert!(d > 0 && src.len >= d && dst.len.is_multiple_of(d), "gather_rows: rows of {d}");
        let key = rng::stream_key(seed, stream);
        let args = [
            Arg::Ptr(src.ptr),
            Arg::I64((src.len / d) as i64),
            Arg::I64(d as i64),
            Arg::Ptr(dst.ptr),
            Arg::I64((dst.len / d) as i64),
            Arg::U64(key),
        ];
        self.elementwise(Kernel::GatherRows, dst.len, &args)
    }

    fn matmul(&self, g: &Gemm, a: DevView<'_>, b: DevView<'_>, c: DevViewMut<'_>) -> BResult<()> {
        g.check(a.len, b.len, c.len);
        if g.m == 0 || g.n == 0 {
            return Ok(());
        }
        let args = [
            Arg::I32(g.m as i32),
            Arg::I32(g.n as i32),
            Arg::I32(g.k as i32),
            Arg::Ptr(a.ptr),
            Arg::I64(g.lda as i64),
            Arg::I32(g.trans_a as i32),
            Arg::Ptr(b.ptr),
            Arg::I64(g.ldb as i64),
            Arg::I32(g.trans_b as i32),
            Arg::Ptr(c.ptr),
            Arg::I64(g.ldc as i64),
            Arg::I32(g.accumulate as i32),
        ];
        self.dev.launch(Kernel::Sgemm, Shape::gemm(g.m, g.n), &args)
    }

    fn bias_silu(
        &self,
        rows: usize,
        cols: usize,
        bias: DevView<'_>,
        z: DevViewMut<'_>,
        h: DevViewMut<'_>,
    ) -> BResult<()> {
        let n = rows * cols;
        check_len("bias_silu bias", bias.len, cols);
        check_len("bias_silu z", z.len, n);
        check_len("bias_silu h", h.len, n);
        let args = [Arg::I64(rows as i64), Arg::I64(cols as i64), Arg::Ptr(bias.ptr), Arg::Ptr(z.ptr), Arg::Ptr(h.ptr)];
        self.elementwise(Kernel::BiasSilu, n, &args)
    }

    fn bias_silu_backward(
        &self,
        rows: usize,
        cols: usize,
        s: DevView<'_>,
        h: DevView<'_>,
        dh: DevView<'_>,
        dz: DevViewMut<'_>,
        db: DevViewMut<'_>,
    ) -> BResult<()> {
        let n = rows * cols;
        for (what, len) in [("s", s.len), ("h", h.len), ("dh", dh.len), ("dz", dz.len)] {
            check_len(&format!("bias_silu_backward {what}"), len, n);
        }
        let dz_ptr = dz.ptr;
        let args = [Arg::I64(n as i64), Arg::Ptr(s.ptr), Arg::Ptr(h.ptr), Arg::Ptr(dh.ptr), Arg::Ptr(dz_ptr)];
        self.elementwise(Kernel::SiluBackward, n, &args)?;
        self.column_sum(rows, cols, view(dz_ptr, n), db)
    }

    fn add_bias(&self, rows: usize, cols: usize, bias: DevView<'_>, y: DevViewMut<'_>) -> BResult<()> {
        check_len("add_bias bias", bias.len, cols);
        check_len("add_bias y", y.len, rows * cols);
        let args = [Arg::I64(rows as i64), Arg::I64(cols as i64), Arg::Ptr(bias.ptr), Arg::Ptr(y.ptr)];
        self.elementwise(Kernel::AddBias, rows * cols, &args)
    }

    fn column_sum(&self, rows: usize, cols: usize, dy: DevView<'_>, db: DevViewMut<'_>) -> BResult<()> {
        check_len("column_sum dy", dy.len, rows * cols);
        check_len("column_sum db", db.len, cols);
        if cols == 0 {
            return Ok(());
        }
        let args = [Arg::I64(rows as i64), Arg::I64(cols as i64), Arg::Ptr(dy.ptr), Arg::Ptr(db.ptr)];
        self.dev.launch(Kernel::ColumnSum, Shape::columns(cols), &args)
    }

    fn time_embed(&self, width: usize, t: DevView<'_>, out: DevViewMut<'_>) -> BResult<()> {
        check_len("time_embed out", out.len, t.len * width);
        let half = width / 2;
        let freq = {
            let mut scratch = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
            if !scratch.freq.iter().any(|(w, _)| *w == width) {
                let table: Vec<f64> = (0..half).map(|i| embed_frequency(i, width)).collect();
                let mut buf = self.dev.alloc64(half.max(1))?;
                self.dev.htod64(&table, self.dev.addr64_mut(&mut buf))?;
                scratch.freq.push((width, buf));
            }
            let (_, buf) = scratch.freq.iter().find(|(w, _)| *w == width).expect("inserted above");
            self.dev.addr64(buf)
        };
        let args = [Arg::I64(t.len as i64), Arg::I64(width as i64), Arg::Ptr(freq), Arg::Ptr(t.ptr), Arg::Ptr(out.ptr)];
        self.elementwise(Kernel::TimeEmbed, t.len * half, &args)
    }

    fn flow_pairs(
        &self,
        d: usize,
        x0: DevView<'_>,
        x1: DevView<'_>,
        t: DevView<'_>,
        xt: DevViewMut<'_>,
        u: DevViewMut<'_>,
    ) -> BResult<()> {
        let n = t.len * d;
        for (what, len) in [("x0", x0.len), ("x1", x1.len), ("xt", xt.len), ("u", u.len)] {
            check_len(&format!("flow_pairs {what}"), len, n);
        }
        let args = [
            Arg::I64(t.len as i64),
            Arg::I64(d as i64),
            Arg::Ptr(x0.ptr),
            Arg::Ptr(x1.ptr),
            Arg::Ptr(t.ptr),
            Arg::Ptr(xt.ptr),
            Arg::Ptr(u.ptr),
        ];
        self.elementwise(Kernel::FlowPairs, n, &args)
    }

    fn mse_loss(
        &self,
        v: DevView<'_>,
        u: DevView<'_>,
        dv: DevViewMut<'_>,
        out: &mut D::Buf64,
        slot: usize,
    ) -> BResult<()> {
        let n = v.len;
        check_len("mse_loss u", u.len, n);
        check_len("mse_loss dv", dv.len, n);
        let scale = 2.0 / n as f32;
        let args = [Arg::I64(n as i64), Arg::Ptr(v.ptr), Arg::Ptr(u.ptr), Arg::Ptr(dv.ptr), Arg::F32(scale)];
        let out = self.dev.addr64_mut(out) + 8 * slot as u64;
        self.reduce(Kernel::MsePartials, n, &args, 1.0 / n as f64, out, false)
    }

    fn sum_squares(&self, g: DevView<'_>, out: &mut D::Buf64, slot: usize, accumulate: bool) -> BResult<()> {
        let out = self.dev.addr64_mut(out) + 8 * slot as u64;
        self.reduce(Kernel::SumSquaresPartials, g.len, &[Arg::I64(g.len as i64), Arg::Ptr(g.ptr)], 1.0, out, accumulate)
    }

    fn adam_ema(
        &self,
        s: &AdamStep,
        params: DevViewMut<'_>,
        grads: DevView<'_>,
        m: DevViewMut<'_>,
        v: DevViewMut<'_>,
        ema: DevViewMut<'_>,
    ) -> BResult<()> {
        let n = params.len;
        for (what, len) in [("grads", grads.len), ("m", m.len), ("v", v.len), ("ema", ema.len)] {
            check_len(&format!("adam_ema {what}"), len, n);
        }
        let args = [
            Arg::I64(n as i64),
            Arg::Ptr(params.ptr),
            Arg::Ptr(grads.ptr),
            Arg::Ptr(m.ptr),
            Arg::Ptr(v.ptr),
            Arg::Ptr(ema.ptr),
            Arg::F32(s.lr),
            Arg::F32(s.beta1),
            Arg::F32(s.beta2),
            Arg::F32(s.eps),
            Arg::F32(s.grad_scale),
            Arg::F32(s.bias1),
            Arg::F32(s.bias2),
            Arg::F32(s.ema_decay),
        ];
        self.elementwise(Kernel::AdamEma, n, &args)
    }

    fn euler(&self, h: f32, v: DevView<'_>, x: DevViewMut<'_>) -> BResult<()> {
        check_len("euler v", v.len, x.len);
        self.elementwise(Kernel::Euler, x.len, &[Arg::I64(x.len as i64), Arg::F32(h), Arg::Ptr(v.ptr), Arg::Ptr(x.ptr)])
    }

    fn euler_to(&self, h: f32, x: DevView<'_>, v: DevView<'_>, out: DevViewMut<'_>) -> BResult<()> {
        check_len("euler_to x", x.len, out.len);
        check_len("euler_to v", v.len, out.len);
        let args = [Arg::I64(out.len as i64), Arg::F32(h), Arg::Ptr(x.ptr), Arg::Ptr(v.ptr), Arg::Ptr(out.ptr)];
        self.elementwise(Kernel::EulerTo, out.len, &args)
    }

    fn heun(&self, h: f32, v1: DevView<'_>, v2: DevView<'_>, x: DevViewMut<'_>) -> BResult<()> {
        check_len("heun v1", v1.len, x.len);
        check_len("heun v2", v2.len, x.len);
        let args = [Arg::I64(x.len as i64), Arg::F32(h), Arg::Ptr(v1.ptr), Arg::Ptr(v2.ptr), Arg::Ptr(x.ptr)];
        self.elementwise(Kernel::Heun, x.len, &args)
    }
}
