// The fused optimiser step: gradient clip scale + Adam + EMA of the parameters.
// Element-wise launch shape: block (256, 1, 1), grid (min(⌈n/256⌉, 4096), 1, 1); kernel loops grid-stride.
#include "common.cuh"

// Mirrors `CpuBackend::adam_ema`, entry by entry in the same order of f32 operations:
// g = grad_scale·g; m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)(g·g);
// p = p − lr·(m / bias1) / (√(v / bias2) + eps)   (IEEE sqrtf and division);
// e = ema_decay·e + (1 − ema_decay)·p (with the new p).
extern "C" __global__ void fc_adam_ema(long long n, float* p, const float* g, float* m, float* v, float* e, float lr,
                                       float beta1, float beta2, float eps, float grad_scale, float bias1, float bias2,
                                       float ema_decay) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float gj = grad_scale * g[i];
        const float mj = beta1 * m[i] + (1.0f - beta1) * gj;
        const float vj = beta2 * v[i] + (1.0f - beta2) * (gj * gj);
        const float pj = p[i] - lr * (mj / bias1) / (sqrtf(vj / bias2) + eps);
        m[i] = mj;
        v[i] = vj;
        p[i] = pj;
        e[i] = ema_decay * e[i] + (1.0f - ema_decay) * pj;
    }
}
