//! FFI to the CUDA kernels of `kernels/*.cu` compiled for the CPU (feature `kernel-shim`).
//!
//! build.rs compiles `kernels/host/shim.cpp`, which includes the kernel files unchanged through the shim
//! header `kernels/host/cuda_on_cpu.h` and exports one entry per kernel:
//! `shim_fc_<name>(cfg, <the kernel's arguments>)` runs `fc_<name>` on the grid and block of `cfg` (one OS
//! thread per CUDA thread of a block, blocks one after another) and returns when the launch is complete.
//! Launches are serialised process-wide. The argument types follow kernels/README.md: `float*` → `*mut f32` /
//! `*const f32`, `double*` → `*mut f64` / `*const f64`, `long long` → `i64`, `int` → `i32`,
//! `unsigned long long` → `u64`.
//!
//! # Safety
//! Every entry is `unsafe`: the pointers must be valid for every index the kernel touches for the given
//! sizes and launch shape (kernels/README.md), the output buffers must not overlap the inputs unless the
//! kernel updates in place, and no other thread may access the buffers during the call. An invalid launch
//! configuration (an empty grid, a block of more than 1024 threads, …) aborts the process with a message,
//! where CUDA would fail the launch.

/// Launch shape of one kernel call: `grid` in blocks and `block` in threads, (x, y, z) as CUDA's `dim3`.
/// Mirrors `struct ShimLaunch` of kernels/host/shim.cpp.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShimLaunch {
    pub grid: [u32; 3],
    pub block: [u32; 3],
}

unsafe extern "C" {
    // fill.cu
    pub fn shim_fc_fill_const(cfg: *const ShimLaunch, out: *mut f32, n: i64, value: f32);
    pub fn shim_fc_fill_uniform(cfg: *const ShimLaunch, out: *mut f32, n: i64, key: u64, first: u64);
    pub fn shim_fc_fill_normal(cfg: *const ShimLaunch, out: *mut f32, n: i64, key: u64, first: u64);

    // pairs.cu
    pub fn shim_fc_gather_rows(
        cfg: *const ShimLaunch,
        src: *const f32,
        src_rows: i64,
        d: i64,
        dst: *mut f32,
        dst_rows: i64,
        key: u64,
    );
    pub fn shim_fc_flow_pairs(
        cfg: *const ShimLaunch,
        rows: i64,
        d: i64,
        x0: *const f32,
        x1: *const f32,
        t: *const f32,
        xt: *mut f32,
        u: *mut f32,
    );

    // activation.cu
    pub fn shim_fc_bias_silu(cfg: *const ShimLaunch, rows: i64, cols: i64, bias: *const f32, z: *mut f32, h: *mut f32);
    pub fn shim_fc_silu_backward(
        cfg: *const ShimLaunch,
        n: i64,
        s: *const f32,
        h: *const f32,
        dh: *const f32,
        dz: *mut f32,
    );
    pub fn shim_fc_add_bias(cfg: *const ShimLaunch, rows: i64, cols: i64, bias: *const f32, y: *mut f32);

    // column_sum.cu
    pub fn shim_fc_column_sum(cfg: *const ShimLaunch, rows: i64, cols: i64, x: *const f32, out: *mut f32);

    // time_embed.cu
    pub fn shim_fc_time_embed(
        cfg: *const ShimLaunch,
        rows: i64,
        width: i64,
        freq: *const f64,
        t: *const f32,
        out: *mut f32,
    );

    // reduce.cu
    pub fn shim_fc_sum_squares_partials(cfg: *const ShimLaunch, n: i64, g: *const f32, partials: *mut f64);
    pub fn shim_fc_mse_partials(
        cfg: *const ShimLaunch,
        n: i64,
        v: *const f32,
        u: *const f32,
        dv: *mut f32,
        scale: f32,
        partials: *mut f64,
    );
    pub fn shim_fc_finish_sum(
        cfg: *const ShimLaunch,
        partials: *const f64,
        nparts: i64,
        multiplier: f64,
        out: *mut f64,
        accumulate: i32,
    );

    // adam.cu
    pub fn shim_fc_adam_ema(
        cfg: *const ShimLaunch,
        n: i64,
        p: *mut f32,
        g: *const f32,
        m: *mut f32,
        v: *mut f32,
        e: *mut f32,
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        grad_scale: f32,
        bias1: f32,
        bias2: f32,
        ema_decay: f32,
    );

    // solver.cu
    pub fn shim_fc_euler(cfg: *const ShimLaunch, n: i64, h: f32, v: *const f32, x: *mut f32);
    pub fn shim_fc_euler_to(cfg: *const ShimLaunch, n: i64, h: f32, x: *const f32, v: *const f32, out: *mut f32);
    pub fn shim_fc_heun(cfg: *const ShimLaunch, n: i64, h: f32, v1: *const f32, v2: *const f32, x: *mut f32);

    // gemm.cu
    pub fn shim_fc_sgemm(
        cfg: *const ShimLaunch,
        m: i32,
        n: i32,
        k: i32,
        a: *const f32,
        lda: i64,
        trans_a: i32,
        b: *const f32,
        ldb: i64,
        trans_b: i32,
        c: *mut f32,
        ldc: i64,
        accumulate: i32,
    );
}
