// Bias + SiLU forward, its backward (dz), and the plain bias add.
// Element-wise launch shape over n = rows·cols entries: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1).
#include "common.cuh"

// Mirrors `CpuBackend::bias_silu`: for entry (r, c) of the rows × cols matrix z,
// x = z + bias[c]; s = σ(x) (`cpu::sigmoid`); h = x·s; z ← s (z keeps σ for the backward pass).
extern "C" __global__ void fc_bias_silu(long long rows, long long cols, const float* bias, float* z, float* h) {
    const long long n = rows * cols;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float x = z[i] + bias[i % cols];
        const float s = sigmoid(x);
        h[i] = x * s;
        z[i] = s;
    }
}

// Mirrors the dz part of `CpuBackend::bias_silu_backward` (db is `fc_column_sum` of dz):
// SiLU'(z) = σ + h(1 − σ), dz = dh·(s + h·(1 − s)).
extern "C" __global__ void fc_silu_backward(long long n, const float* s, const float* h, const float* dh, float* dz) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float sj = s[i];
        dz[i] = dh[i] * (sj + h[i] * (1.0f - sj));
    }
}

// Mirrors `CpuBackend::add_bias`: y[r, c] += bias[c].
extern "C" __global__ void fc_add_bias(long long rows, long long cols, const float* bias, float* y) {
    const long long n = rows * cols;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        y[i] = y[i] + bias[i % cols];
    }
}
