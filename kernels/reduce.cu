// Reductions in f64 with a fixed order (deterministic for a given n, independent of the GPU):
// partial kernels: block (256, 1, 1), grid (⌈n/4096⌉, 1, 1), block b owns entries [4096·b, min(n, 4096·(b+1)));
// thread t accumulates entries 4096·b + t + 256·j for j = 0…15 in increasing j, then a shared-memory tree
// (s = 128, 64, …, 1: sh[t] += sh[t + s]) gives the block's sum, written to partials[b].
// `fc_finish_sum`: block (256, 1, 1), grid (1, 1, 1).
// The order differs from the CPU's (8 lanes per 4096-entry block), so sums agree to f64 rounding, not bit for bit;
// the element-wise part of `fc_mse_partials` (dv) is bit-identical.
// Every thread reaches every barrier (out-of-range threads contribute 0); no atomics.
#include "common.cuh"

// The block's 256 values `acc` added by a shared-memory tree (s = 128, 64, …, 1: sh[t] += sh[t + s]) into
// sh[0]. Every thread of the block must call it (it holds barriers).
__device__ __forceinline__ void block_sum(double* sh, int t, double acc) {
    sh[t] = acc;
    __syncthreads();
    for (int s = 128; s > 0; s >>= 1) {
        if (t < s) sh[t] += sh[t + s];
        __syncthreads();
    }
}

// Mirrors the block sums of `CpuBackend::sum_squares`: partials[b] = Σ_{i in block b} (double)g[i]·(double)g[i].
extern "C" __global__ void fc_sum_squares_partials(long long n, const float* g, double* partials) {
    __shared__ double sh[256];
    const int t = threadIdx.x;
    const long long base = (long long)blockIdx.x * FC_REDUCE_BLOCK + t;
    double acc = 0.0;
    for (int j = 0; j < 16; ++j) {
        const long long i = base + 256LL * j;
        if (i < n) {
            const double x = (double)g[i];
            acc += x * x;
        }
    }
    block_sum(sh, t, acc);
    if (t == 0) partials[blockIdx.x] = sh[0];
}

// Mirrors the block part of `CpuBackend::mse_loss`: diff = v − u (f32); partials[b] = Σ (double)diff²;
// dv = diff·scale (f32, scale = 2/n from the host). The loss is `fc_finish_sum` with multiplier 1/n.
extern "C" __global__ void fc_mse_partials(long long n, const float* v, const float* u, float* dv, float scale,
                                           double* partials) {
    __shared__ double sh[256];
    const int t = threadIdx.x;
    const long long base = (long long)blockIdx.x * FC_REDUCE_BLOCK + t;
    double acc = 0.0;
    for (int j = 0; j < 16; ++j) {
        const long long i = base + 256LL * j;
        if (i < n) {
            const float diff = v[i] - u[i];
            acc += (double)diff * (double)diff;
            dv[i] = diff * scale;
        }
    }
    block_sum(sh, t, acc);
    if (t == 0) partials[blockIdx.x] = sh[0];
}

// Mirrors the final `blocks.iter().sum()` of `CpuBackend::sum_squares` / `mse_loss`: one block of 256;
// thread t sums partials t, t + 256, t + 512, … in order, then the same tree;
// out[0] = sum·multiplier, or out[0] + sum·multiplier when accumulate ≠ 0.
extern "C" __global__ void fc_finish_sum(const double* partials, long long nparts, double multiplier, double* out,
                                         int accumulate) {
    __shared__ double sh[256];
    const int t = threadIdx.x;
    double acc = 0.0;
    for (long long i = t; i < nparts; i += 256) {
        acc += partials[i];
    }
    block_sum(sh, t, acc);
    if (t == 0) {
        const double val = sh[0] * multiplier;
        out[0] = accumulate ? out[0] + val : val;
    }
}
