// Sinusoidal time embedding of a batch of times.
// Element-wise launch shape over n = rows·(width/2) entries: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1).
#include "common.cuh"

// Mirrors `CpuBackend::time_embed` (`model::time_embedding` row by row): with half = width/2 and
// ω_i = freq[i] = `model::embed_frequency(i, width)` precomputed by the host (f64),
// phase = ω_i·(double)t[r]; out[r·width + i] = (float)sin(phase); out[r·width + half + i] = (float)cos(phase).
// For odd width the last entry of each row is left untouched, as on the CPU.
extern "C" __global__ void fc_time_embed(long long rows, long long width, const double* freq, const float* t,
                                         float* out) {
    const long long half = width / 2;
    const long long n = rows * half;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / half;
        const long long k = i - r * half;
        const double phase = freq[k] * (double)t[r];
        out[r * width + k] = (float)sin(phase);
        out[r * width + half + k] = (float)cos(phase);
    }
}
