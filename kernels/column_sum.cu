// Column sums of a row-major rows × cols matrix.
// Launch shape: block (256, 1, 1), grid (⌈cols/256⌉, 1, 1); thread c = blockIdx.x·256 + threadIdx.x owns column c.
#include "common.cuh"

// Mirrors `CpuBackend::column_sum`: out[c] = Σ_{r = 0…rows−1} x[r·cols + c], a sequential f32 sum starting
// from 0.0f and adding rows in increasing order (the CPU's order exactly, so the result is bit-identical).
extern "C" __global__ void fc_column_sum(long long rows, long long cols, const float* x, float* out) {
    const long long c = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;  // no barrier in this kernel
    float acc = 0.0f;
    for (long long r = 0; r < rows; ++r) {
        acc = acc + x[r * cols + c];
    }
    out[c] = acc;
}
