// Fills: constant, uniform and standard normal, one thread per entry (grid-stride).
// Element-wise launch shape: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1).
#include "common.cuh"

// Mirrors `CpuBackend::fill` (`Backend::fill`): out[j] = value for j < n.
extern "C" __global__ void fc_fill_const(float* out, long long n, float value) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = value;
    }
}

// Mirrors `CpuBackend::fill_uniform` (`rng::uniform_at`):
// out[j] = (float)open01(bits(key, first + j)), key = rng::stream_key(seed, stream) from the host.
extern "C" __global__ void fc_fill_uniform(float* out, long long n, unsigned long long key, unsigned long long first) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = (float)open01(bits(key, first + (unsigned long long)i));
    }
}

// Mirrors `CpuBackend::fill_normal` (`rng::normal_at` / `rng::normal_pair`), Box–Muller on counters
// c = (first + j) & ~1 and c + 1: u₁ = open01(bits(key, c)), u₂ = open01(bits(key, c + 1)),
// r = √(−2 ln u₁), θ = 2π·u₂; out[j] = r·cos θ for even first + j, r·sin θ for odd, computed in f64 and
// rounded to f32 once. (Rust's sin_cos is sin and cos separately, so computing only the one needed is
// the same value.)
extern "C" __global__ void fc_fill_normal(float* out, long long n, unsigned long long key, unsigned long long first) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const unsigned long long idx = first + (unsigned long long)i;
        const unsigned long long c = idx & ~1ULL;
        const double u1 = open01(bits(key, c));
        const double u2 = open01(bits(key, c + 1ULL));
        const double r = sqrt(-2.0 * log(u1));
        const double theta = FC_TAU * u2;
        out[i] = (idx & 1ULL) ? (float)(r * sin(theta)) : (float)(r * cos(theta));
    }
}
