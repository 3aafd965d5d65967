// The project's CUDA kernels (kernels/*.cu, unchanged) compiled for the CPU through cuda_on_cpu.h, with one
// C entry per kernel for the Rust side (src/train/shim_ffi.rs, feature `kernel-shim`; built by build.rs):
//
//   extern "C" void shim_fc_<name>(const ShimLaunch* cfg, <exactly the kernel's arguments>)
//
// runs fc_<name> on grid cfg->grid and block cfg->block and returns when the launch is complete. Launches are
// serialised (one at a time per process). An invalid configuration (empty grid, block over 1024 threads, …)
// aborts the process with a message, where CUDA would fail the launch.
//
// Kernels with __syncthreads or __shared__ memory (reduce.cu, gemm.cu) are launched block-synchronously
// (fc_shim::launch); the element-wise ones with fc_shim::launch_independent, which runs the blocks without a
// barrier between them (and aborts with a message if the kernel ever calls __syncthreads or a shuffle).
// Whoever adds __shared__ memory to one of them must move its entry to fc_shim::launch.
#include "cuda_on_cpu.h"

// Include path: -I kernels (the .cu files include "common.cuh").
#include "../fill.cu"
#include "../pairs.cu"
#include "../activation.cu"
#include "../column_sum.cu"
#include "../time_embed.cu"
#include "../reduce.cu"
#include "../adam.cu"
#include "../solver.cu"
#include "../gemm.cu"

extern "C" {
// Mirrors the Rust `shim_ffi::ShimLaunch`.
struct ShimLaunch {
    unsigned grid[3];
    unsigned block[3];
};
}

static dim3 grid_of(const ShimLaunch* cfg) { return dim3(cfg->grid[0], cfg->grid[1], cfg->grid[2]); }
static dim3 block_of(const ShimLaunch* cfg) { return dim3(cfg->block[0], cfg->block[1], cfg->block[2]); }

// ---- fill.cu, pairs.cu, activation.cu, column_sum.cu, time_embed.cu: element-wise ----------------------------
extern "C" void shim_fc_fill_const(const ShimLaunch* cfg, float* out, long long n, float value) {
    fc_shim::launch_independent("fc_fill_const", fc_fill_const, grid_of(cfg), block_of(cfg), out, n, value);
}

extern "C" void shim_fc_fill_uniform(const ShimLaunch* cfg, float* out, long long n, unsigned long long key,
                                     unsigned long long first) {
    fc_shim::launch_independent("fc_fill_uniform", fc_fill_uniform, grid_of(cfg), block_of(cfg), out, n, key, first);
}

extern "C" void shim_fc_fill_normal(const ShimLaunch* cfg, float* out, long long n, unsigned long long key,
                                    unsigned long long first) {
    fc_shim::launch_independent("fc_fill_normal", fc_fill_normal, grid_of(cfg), block_of(cfg), out, n, key, first);
}

extern "C" void shim_fc_gather_rows(const ShimLaunch* cfg, const float* src, long long src_rows, long long d,
                                    float* dst, long long dst_rows, unsigned long long key) {
    fc_shim::launch_independent("fc_gather_rows", fc_gather_rows, grid_of(cfg), block_of(cfg), src, src_rows, d, dst,
                                dst_rows, key);
}

extern "C" void shim_fc_flow_pairs(const ShimLaunch* cfg, long long rows, long long d, const float* x0,
                                   const float* x1, const float* t, float* xt, float* u) {
    fc_shim::launch_independent("fc_flow_pairs", fc_flow_pairs, grid_of(cfg), block_of(cfg), rows, d, x0, x1, t, xt,
                                u);
}

extern "C" void shim_fc_bias_silu(const ShimLaunch* cfg, long long rows, long long cols, const float* bias, float* z,
                                  float* h) {
    fc_shim::launch_independent("fc_bias_silu", fc_bias_silu, grid_of(cfg), block_of(cfg), rows, cols, bias, z, h);
}

extern "C" void shim_fc_silu_backward(const ShimLaunch* cfg, long long n, const float* s, const float* h,
                                      const float* dh, float* dz) {
    fc_shim::launch_independent("fc_silu_backward", fc_silu_backward, grid_of(cfg), block_of(cfg), n, s, h, dh, dz);
}

extern "C" void shim_fc_add_bias(const ShimLaunch* cfg, long long rows, long long cols, const float* bias, float* y) {
    fc_shim::launch_independent("fc_add_bias", fc_add_bias, grid_of(cfg), block_of(cfg), rows, cols, bias, y);
}

extern "C" void shim_fc_column_sum(const ShimLaunch* cfg, long long rows, long long cols, const float* x,
                                   float* out) {
    fc_shim::launch_independent("fc_column_sum", fc_column_sum, grid_of(cfg), block_of(cfg), rows, cols, x, out);
}

extern "C" void shim_fc_time_embed(const ShimLaunch* cfg, long long rows, long long width, const double* freq,
                                   const float* t, float* out) {
    fc_shim::launch_independent("fc_time_embed", fc_time_embed, grid_of(cfg), block_of(cfg), rows, width, freq, t,
                                out);
}

// ---- reduce.cu: shared-memory trees, block-synchronous ----------------------------------------------------------
extern "C" void shim_fc_sum_squares_partials(const ShimLaunch* cfg, long long n, const float* g, double* partials) {
    fc_shim::launch("fc_sum_squares_partials", fc_sum_squares_partials, grid_of(cfg), block_of(cfg), n, g, partials);
}

extern "C" void shim_fc_mse_partials(const ShimLaunch* cfg, long long n, const float* v, const float* u, float* dv,
                                     float scale, double* partials) {
    fc_shim::launch("fc_mse_partials", fc_mse_partials, grid_of(cfg), block_of(cfg), n, v, u, dv, scale, partials);
}

extern "C" void shim_fc_finish_sum(const ShimLaunch* cfg, const double* partials, long long nparts, double multiplier,
                                   double* out, int accumulate) {
    fc_shim::launch("fc_finish_sum", fc_finish_sum, grid_of(cfg), block_of(cfg), partials, nparts, multiplier, out,
                    accumulate);
}

// ---- adam.cu, solver.cu: element-wise --------------------------------------------------------------------------
extern "C" void shim_fc_adam_ema(const ShimLaunch* cfg, long long n, float* p, const float* g, float* m, float* v,
                                 float* e, float lr, float beta1, float beta2, float eps, float grad_scale,
                                 float bias1, float bias2, float ema_decay) {
    fc_shim::launch_independent("fc_adam_ema", fc_adam_ema, grid_of(cfg), block_of(cfg), n, p, g, m, v, e, lr, beta1,
                                beta2, eps, grad_scale, bias1, bias2, ema_decay);
}

extern "C" void shim_fc_euler(const ShimLaunch* cfg, long long n, float h, const float* v, float* x) {
    fc_shim::launch_independent("fc_euler", fc_euler, grid_of(cfg), block_of(cfg), n, h, v, x);
}

extern "C" void shim_fc_euler_to(const ShimLaunch* cfg, long long n, float h, const float* x, const float* v,
                                 float* out) {
    fc_shim::launch_independent("fc_euler_to", fc_euler_to, grid_of(cfg), block_of(cfg), n, h, x, v, out);
}

extern "C" void shim_fc_heun(const ShimLaunch* cfg, long long n, float h, const float* v1, const float* v2,
                             float* x) {
    fc_shim::launch_independent("fc_heun", fc_heun, grid_of(cfg), block_of(cfg), n, h, v1, v2, x);
}

// ---- gemm.cu: shared-memory tiles, block-synchronous -----------------------------------------------------------
extern "C" void shim_fc_sgemm(const ShimLaunch* cfg, int m, int n, int k, const float* a, long long lda, int trans_a,
                              const float* b, long long ldb, int trans_b, float* c, long long ldc, int accumulate) {
    fc_shim::launch("fc_sgemm", fc_sgemm, grid_of(cfg), block_of(cfg), m, n, k, a, lda, trans_a, b, ldb, trans_b, c,
                    ldc, accumulate);
}
