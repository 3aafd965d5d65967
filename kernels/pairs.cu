// Training pairs: row gathering and the flow-matching interpolation.
// Element-wise launch shape: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1); kernels loop grid-stride.
#include "common.cuh"

// Mirrors `CpuBackend::gather_rows` (the row draw of `CoupledPairs::fill` / `IndependentPairs::fill`,
// src/train/pairs.rs): row b of dst (b < dst_rows) is row r = index_below(bits(key, b), src_rows) =
// ⌊bits(key, b)·src_rows / 2⁶⁴⌋ of src; rows are d floats, row-major. One thread per destination entry,
// n = dst_rows·d. key = rng::stream_key(seed, rng::stream(PairRows, step)) from the host; src_rows ≥ 1.
extern "C" __global__ void fc_gather_rows(const float* src, long long src_rows, long long d, float* dst,
                                          long long dst_rows, unsigned long long key) {
    const long long n = dst_rows * d;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long b = i / d;
        const long long col = i - b * d;
        const long long r = (long long)index_below(bits(key, (unsigned long long)b), (unsigned long long)src_rows);
        dst[i] = src[r * d + col];
    }
}

// Mirrors `CpuBackend::flow_pairs`: for row r < rows with s = t[r] and every column j < d,
// xt = s·x1 + (1 − s)·x0 and u = x1 − x0 (in f32, in this order of operations).
extern "C" __global__ void fc_flow_pairs(long long rows, long long d, const float* x0, const float* x1,
                                         const float* t, float* xt, float* u) {
    const long long n = rows * d;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float s = t[i / d];
        const float a = x0[i];
        const float b = x1[i];
        xt[i] = s * b + (1.0f - s) * a;
        u[i] = b - a;
    }
}
