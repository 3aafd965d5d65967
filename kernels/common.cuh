// Device functions shared by several kernel files. Included by every `.cu` file as its only include.
//
// Compiled two ways (see README.md): by NVRTC with `--fmad=false`, and by g++ -std=c++20
// -ffp-contract=off through `host/cuda_on_cpu.h`. Hence no includes, no CUDA-only intrinsics other than
// `__umul64hi` (the shim provides it), and every floating-point expression written in the very order of
// operations of the Rust code it mirrors, so that both builds round exactly as the CPU reference does.
#ifndef FLOWCOLLAPSE_COMMON_CUH
#define FLOWCOLLAPSE_COMMON_CUH

// Constants as macros (both compilers, no unused-variable warnings in files that do not use them).
// The SplitMix64 increment φ = 2⁶⁴ / golden ratio (odd): `rng::GOLDEN`.
#define FC_GOLDEN 0x9E3779B97F4A7C15ULL
// SplitMix64's two multipliers (`rng::mix64`).
#define FC_MIX_M1 0xBF58476D1CE4E5B9ULL
#define FC_MIX_M2 0x94D049BB133111EBULL
// 2⁻⁵³ (exact): `1.0 / (1u64 << 53) as f64` of `rng::open01`.
#define FC_TWO_POW_M53 (1.0 / 9007199254740992.0)
// 2π as `std::f64::consts::TAU` (`rng::normal_pair`).
#define FC_TAU 6.283185307179586
// Entries per reduction block (`cpu::BLOCK`); the reductions run blocks of 256 threads, 16 entries each.
#define FC_REDUCE_BLOCK 4096LL

// The functions are `__device__ __forceinline__` (inline, so unused ones raise no warning and the header
// can be included by several translation units); the shim must define `__forceinline__` to include `inline`.
// Mirrors `rng::mix64`, SplitMix64's finaliser:
// z ← (z ⊕ (z ≫ 30))·0xBF58476D1CE4E5B9; z ← (z ⊕ (z ≫ 27))·0x94D049BB133111EB; z ⊕ (z ≫ 31)  (mod 2⁶⁴).
__device__ __forceinline__ unsigned long long mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * FC_MIX_M1;
    z = (z ^ (z >> 27)) * FC_MIX_M2;
    return z ^ (z >> 31);
}

// Mirrors `rng::bits`: counter i of the stream with key `key`, bits(i) = mix64(key + (i + 1)·φ)  (mod 2⁶⁴).
__device__ __forceinline__ unsigned long long bits(unsigned long long key, unsigned long long i) {
    return mix64(key + (i + 1ULL) * FC_GOLDEN);
}

// Mirrors `rng::open01`: u = (⌊b / 2¹¹⌋ + ½)·2⁻⁵³ in f64, in the open interval (0, 1).
__device__ __forceinline__ double open01(unsigned long long b) {
    return ((double)(b >> 11) + 0.5) * FC_TWO_POW_M53;
}

// Mirrors `rng::index_below`: ⌊b·n / 2⁶⁴⌋, the high 64 bits of the 128-bit product.
__device__ __forceinline__ unsigned long long index_below(unsigned long long b, unsigned long long n) {
    return __umul64hi(b, n);
}

// Mirrors `cpu::exp_f32`, e^x in f32, operation for operation:
// x ← clamp(x, −87, 88); n = (x·log₂e + 1.5·2²³) − 1.5·2²³; r = (x − n·LN2_HI) − n·LN2_LO;
// p = Horner of Σ_{k≤7} r^k/k! from 1/5040 down (p ← p·r + c for c = 1/720, 1/120, 1/24, 1/6, ½, 1, 1);
// result p·2ⁿ with 2ⁿ built in the exponent bits ((n + 127) ≪ 23).
__device__ __forceinline__ float exp_f32(float x) {
    const float LN2_HI = 0.6933594f;       // 0x3f318000
    const float LN2_LO = -2.1219444e-4f;   // ln 2 − LN2_HI
    const float ROUND = 12582912.0f;       // 1.5·2²³
    const float LOG2_E = 1.4426950408889634f;  // std::f32::consts::LOG2_E
    // f32::clamp: NaN passes through unchanged.
    if (x < -87.0f) x = -87.0f;
    if (x > 88.0f) x = 88.0f;
    const float n = (x * LOG2_E + ROUND) - ROUND;
    const float r = (x - n * LN2_HI) - n * LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        unsigned int u;
        float f;
    } two_n;
    two_n.u = ((unsigned int)((int)n + 127)) << 23;
    return p * two_n.f;
}

// Mirrors `cpu::sigmoid`: σ(z) = 1 / (1 + e^{−z}) with `exp_f32`.
__device__ __forceinline__ float sigmoid(float z) {
    return 1.0f / (1.0f + exp_f32(-z));
}

#endif  // FLOWCOLLAPSE_COMMON_CUH
