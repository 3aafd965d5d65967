// ODE solver steps of the samplers.
// Element-wise launch shape: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1); kernels loop grid-stride.
#include "common.cuh"

// Mirrors `CpuBackend::euler`: x ← x + h·v.
extern "C" __global__ void fc_euler(long long n, float h, const float* v, float* x) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] = x[i] + h * v[i];
    }
}

// Mirrors `CpuBackend::euler_to`: out = x + h·v.
extern "C" __global__ void fc_euler_to(long long n, float h, const float* x, const float* v, float* out) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = x[i] + h * v[i];
    }
}

// Mirrors `CpuBackend::heun`: half = 0.5·h; x ← x + half·(v1 + v2).
extern "C" __global__ void fc_heun(long long n, float h, const float* v1, const float* v2, float* x) {
    const float half = 0.5f * h;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        x[i] = x[i] + half * (v1[i] + v2[i]);
    }
}
