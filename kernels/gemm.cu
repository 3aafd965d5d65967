// Tiled FP32 GEMM.
// Launch shape: block (16, 16, 1) = 256 threads, grid (⌈n/64⌉, ⌈m/64⌉, 1); block (x, y) owns the 64 × 64
// tile of C at rows 64·y…, columns 64·x….
//
// Mirrors `CpuBackend::matmul` (src/train/cpu.rs), row-major throughout:
//   op(A)[i][l] = a[i·lda + l]   (trans_a = 0)  or  a[l·lda + i]  (trans_a = 1),  op(A) m × k
//   op(B)[l][j] = b[l·ldb + j]   (trans_b = 0)  or  b[j·ldb + l]  (trans_b = 1),  op(B) k × n
//   C[i][j] = c[i·ldc + j] ← Σ_{l = 0…k−1} op(A)[i][l]·op(B)[l][j]        (accumulate = 0; C is never read)
//   C[i][j] = c[i·ldc + j] ← C[i][j] + Σ_{l = 0…k−1} op(A)[i][l]·op(B)[l][j]   (accumulate = 1)
// Each sum runs over l = 0, 1, …, k−1 in this fixed order as a chain of fused multiply-adds from 0.0f
// (no split-k, no atomics), so the result is deterministic; it matches the CPU to rounding, not bitwise
// (the CPU kernel blocks and orders k differently). With k = 0 and accumulate = 1, C is left untouched.
//
// Design: per 16-deep slice of k the block stages a 64 × 16 tile of op(A) and a 16 × 64 tile of op(B) in
// shared memory, both stored k-major (as[l][i], bs[l][j]), so the inner loop reads four consecutive floats
// of each. Each thread accumulates a 4 × 4 block of C in registers. The two shared tiles are double
// buffered and the next slice is fetched from global memory into registers while the current one is being
// multiplied, so there is one barrier per slice and the global latency overlaps the arithmetic.
//
// Compiled by NVRTC (--fmad=false, hence the explicit fmaf) and by g++ through host/cuda_on_cpu.h, so only
// plain C++ plus threadIdx/blockIdx, __shared__, __syncthreads and fmaf.

#ifdef __CUDACC_RTC__
#define FC_GEMM_UNROLL _Pragma("unroll")
#define FC_GEMM_BOUNDS __launch_bounds__(256)
#else
#define FC_GEMM_UNROLL
#define FC_GEMM_BOUNDS
#endif

extern "C" __global__ void FC_GEMM_BOUNDS fc_sgemm(int m, int n, int k, const float* __restrict__ a,
                                                   long long lda, int trans_a, const float* __restrict__ b,
                                                   long long ldb, int trans_b, float* __restrict__ c,
                                                   long long ldc, int accumulate) {
    // Tile 64 × 64 of C, slices 16 deep. A shared row holds 64 floats plus 4 of padding: 68 keeps every row
    // 16-byte aligned (for 128-bit shared loads) and spreads the transposing stores of a k-contiguous
    // operand over all 32 banks (row l starts at bank 4·l mod 32).
    constexpr int TILE = 64;
    constexpr int BK = 16;
    constexpr int LD = TILE + 4;
    constexpr int BUF = BK * LD;
    alignas(16) __shared__ float as[2 * BUF];
    alignas(16) __shared__ float bs[2 * BUF];

    const int tid = (int)(threadIdx.y * 16 + threadIdx.x);
    const int warp = tid >> 5;
    const int lane = tid & 31;
    const int row0 = (int)blockIdx.y * TILE;
    const int col0 = (int)blockIdx.x * TILE;

    // ---- Staging map: which 4 entries of each 1024-entry tile this thread fetches. ----
    // k-contiguous operand (A plain, B transposed: element (i, l) at p[i·ld + l]): a warp reads 4 rows ×
    // 8 consecutive l (full 32-byte sectors); entry r sits at tile row mn_t + 16·r, depth l_t. Stored into the
    // k-major tile, the warp's 32 writes land at banks 4·l + i, all distinct.
    // mn-contiguous operand (A transposed, B plain: element (i, l) at p[l·ld + i]): a warp reads 32
    // consecutive floats of one row of the stored matrix; entry r sits at tile column mn_t, depth l_t + 4·r.
    const int kc_mn = (lane >> 3) + 4 * (warp >> 1);  // 0…15
    const int kc_l = (lane & 7) + 8 * (warp & 1);     // 0…15
    const int mc_mn = tid & 63;                       // 0…63
    const int mc_l = tid >> 6;                        // 0…3

    // A: entry r of slice t is op(A)[row0 + a_mn + r·a_mn_step][16·t + a_l + r·a_l_step],
    // at a[a_off + r·a_rstep + t·a_tstep].
    const int a_mn = trans_a ? mc_mn : kc_mn;
    const int a_l = trans_a ? mc_l : kc_l;
    const int a_mn_step = trans_a ? 0 : 16;
    const int a_l_step = trans_a ? 4 : 0;
    const long long a_rstep = trans_a ? 4 * lda : 16 * lda;
    const long long a_tstep = trans_a ? BK * lda : (long long)BK;
    long long a_off = trans_a ? (long long)a_l * lda + (row0 + a_mn) : (long long)(row0 + a_mn) * lda + a_l;
    // B: entry r of slice t is op(B)[16·t + b_l + r·b_l_step][col0 + b_mn + r·b_mn_step].
    const int b_mn = trans_b ? kc_mn : mc_mn;
    const int b_l = trans_b ? kc_l : mc_l;
    const int b_mn_step = trans_b ? 16 : 0;
    const int b_l_step = trans_b ? 0 : 4;
    const long long b_rstep = trans_b ? 16 * ldb : 4 * ldb;
    const long long b_tstep = trans_b ? (long long)BK : BK * ldb;
    long long b_off = trans_b ? (long long)(col0 + b_mn) * ldb + b_l : (long long)b_l * ldb + (col0 + b_mn);

    // Rows of op(A) / columns of op(B) past m / n are staged as zeros (their products are never stored,
    // but the loads must stay in bounds).
    bool a_in[4];
    bool b_in[4];
    FC_GEMM_UNROLL
    for (int r = 0; r < 4; ++r) {
        a_in[r] = row0 + a_mn + r * a_mn_step < m;
        b_in[r] = col0 + b_mn + r * b_mn_step < n;
    }

    // Fetches slice t into registers; depths past k are zeros, so a partial last slice adds nothing.
    float a_reg[4];
    float b_reg[4];
    const int slices = (k + BK - 1) / BK;
    auto fetch = [&](int t) {
        FC_GEMM_UNROLL
        for (int r = 0; r < 4; ++r) {
            const bool a_ok = a_in[r] && t * BK + a_l + r * a_l_step < k;
            const bool b_ok = b_in[r] && t * BK + b_l + r * b_l_step < k;
            a_reg[r] = a_ok ? a[a_off + r * a_rstep] : 0.0f;
            b_reg[r] = b_ok ? b[b_off + r * b_rstep] : 0.0f;
        }
        a_off += a_tstep;
        b_off += b_tstep;
    };
    auto stage = [&](int buf) {
        FC_GEMM_UNROLL
        for (int r = 0; r < 4; ++r) {
            as[buf * BUF + (a_l + r * a_l_step) * LD + a_mn + r * a_mn_step] = a_reg[r];
            bs[buf * BUF + (b_l + r * b_l_step) * LD + b_mn + r * b_mn_step] = b_reg[r];
        }
    };

    // ---- Compute map: this thread's 4 × 4 block of C is rows 4·rg…4·rg+3, columns 4·cg…4·cg+3. ----
    // A warp is 4 row groups × 8 column groups, so per depth it reads 4 consecutive float4 of the A tile
    // and 8 consecutive float4 of the B tile: one shared-memory wavefront each, no bank conflicts.
    const int cg = (lane & 7) + 8 * (warp & 1);  // 0…15
    const int rg = (lane >> 3) + 4 * (warp >> 1);  // 0…15

    float acc[4][4];
    FC_GEMM_UNROLL
    for (int i = 0; i < 4; ++i) {
        FC_GEMM_UNROLL
        for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
    }

    if (slices > 0) {  // uniform over the block
        fetch(0);
        stage(0);
    }
    __syncthreads();
    for (int t = 0; t < slices; ++t) {  // `slices` is uniform, so every thread meets every barrier
        const int buf = t & 1;
        const bool more = t + 1 < slices;
        if (more) fetch(t + 1);  // global loads in flight during the multiply below
        const float* at = as + buf * BUF + 4 * rg;
        const float* bt = bs + buf * BUF + 4 * cg;
        FC_GEMM_UNROLL
        for (int l = 0; l < BK; ++l) {
            float x[4];
            float y[4];
            FC_GEMM_UNROLL
            for (int i = 0; i < 4; ++i) {
                x[i] = at[l * LD + i];
                y[i] = bt[l * LD + i];
            }
            FC_GEMM_UNROLL
            for (int i = 0; i < 4; ++i) {
                FC_GEMM_UNROLL
                for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(x[i], y[j], acc[i][j]);
            }
        }
        // The other buffer was last read in iteration t − 1, which every thread finished before the
        // barrier that ended it; this one is read now, and the barrier below fences both.
        if (more) stage(buf ^ 1);
        __syncthreads();
    }

    // Write back the in-range part of the 4 × 4 block. With k = 0 and accumulate, C stays bit-for-bit.
    if (accumulate && k == 0) return;  // after the last barrier
    FC_GEMM_UNROLL
    for (int i = 0; i < 4; ++i) {
        const int row = row0 + 4 * rg + i;
        if (row >= m) break;
        float* crow = c + (long long)row * ldc;
        FC_GEMM_UNROLL
        for (int j = 0; j < 4; ++j) {
            const int col = col0 + 4 * cg + j;
            if (col < n) crow[col] = accumulate ? crow[col] + acc[i][j] : acc[i][j];
        }
    }
}

#undef FC_GEMM_UNROLL
#undef FC_GEMM_BOUNDS
