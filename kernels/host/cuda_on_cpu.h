// cuda_on_cpu.h — runs the project's CUDA C kernels (kernels/*.cu) unchanged on the CPU with g++ -std=c++20.
//
// Include this header first, then the .cu files, then launch kernels with `fc_shim::launch` (block-synchronous,
// any kernel) or `fc_shim::launch_independent` (kernels without __syncthreads, shuffles or shared memory).
// Compile with: g++ -std=c++20 -O2 -fno-fast-math -ffp-contract=off -pthread -I kernels
// (-ffp-contract=off: `a * b + c` is never fused, as in the GPU build with --fmad=false; kernels call `fmaf`
// where they want a fused multiply-add.) The supported CUDA subset and the rules kernels must follow are in
// kernels/README.md, "The CUDA subset the harness supports".
//
// Execution model
//   * Every CUDA thread of a block is an OS thread. The threads come from a process-wide pool that grows to
//     the largest block launched and is never shrunk (creating 256 threads costs ~20 ms here; waking them
//     costs well under 1 ms). Thread i of the pool plays linear thread i (x fastest, then y, then z) of
//     every block of a launch: it loops over the blocks in order (blockIdx.x fastest, then y, then z).
//   * `launch`: a std::barrier over the block's threads ends every block, so no thread starts block b + 1
//     while another is still in block b (shared memory is reused by the next block). __syncthreads() is the
//     same barrier. Each arrival records (block, number of __syncthreads so far, end of block?); the barrier's
//     completion step checks that all threads of the block agree and aborts with a message otherwise (a
//     __syncthreads that only some threads reach, e.g. after an early `return`, is caught instead of
//     silently pairing barriers of different places).
//   * `launch_independent`: no barrier between blocks; each thread runs through its blocks at its own pace.
//     For element-wise kernels only; __syncthreads and the shuffles abort there with a message.
//   * __shared__ is `static`: a function-local static is one object shared by all threads, i.e. per-block
//     shared storage, since the blocks of a launch run one after another and launches are serialised by a
//     global mutex. Its content is NOT cleared between blocks or launches (CUDA leaves it undefined).
//   * Warp shuffles: lane = linear thread id % 32, warp = linear id / 32; each warp has a buffer of 32 slots
//     and its own std::barrier (the last warp of a block whose size is not a multiple of 32 has fewer
//     participants). All existing lanes of the warp must call the shuffle (the mask is not interpreted).
#ifndef FLOWCOLLAPSE_CUDA_ON_CPU_H
#define FLOWCOLLAPSE_CUDA_ON_CPU_H

#include <math.h>  // libstdc++'s <math.h> also puts the float overloads (exp(float), …) in the global namespace

#include <atomic>
#include <barrier>
#include <bit>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

// ---- Qualifiers -------------------------------------------------------------------------------------------
// common.cuh writes `__device__ __forceinline__`, so only one of the two may say `inline` (g++ rejects a
// duplicate `inline`): __device__ is empty, __forceinline__ is `inline`. Everything is compiled into one
// translation unit (host/shim.cpp), so a plain `__device__` function is fine too.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __constant__ inline
#define __shared__ static
#define __launch_bounds__(...)
// __restrict__ is understood by g++ as it is.

// ---- Built-in vector types and variables ------------------------------------------------------------------
struct uint3 {
    unsigned int x, y, z;
};
struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
    constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

inline thread_local uint3 threadIdx{0, 0, 0};
inline thread_local uint3 blockIdx{0, 0, 0};
inline thread_local dim3 blockDim{1, 1, 1};
inline thread_local dim3 gridDim{1, 1, 1};
constexpr int warpSize = 32;

namespace fc_shim {

[[noreturn]] inline void die(const char* fmt, const char* a = "", long long b = 0, long long c = 0, long long d = 0) {
    std::fprintf(stderr, "flowcollapse kernel shim: ");
    std::fprintf(stderr, fmt, a, b, c, d);
    std::fprintf(stderr, "\n");
    std::fflush(stderr);
    std::abort();
}

struct Launch;

// Checks, once all threads of the block have arrived, that they arrived from the same place.
struct BlockCheck {
    Launch* launch;
    void operator()() noexcept;
};

// One kernel launch: shape, type-erased kernel call, block barrier, warp barriers and shuffle buffers.
struct Launch {
    const char* name = "kernel";
    dim3 grid, block;
    unsigned nthreads = 0;
    bool cooperative = true;
    void (*invoke)(const void* args) = nullptr;
    const void* args = nullptr;
    std::unique_ptr<std::barrier<BlockCheck>> block_barrier;
    // arrival[t] = (linear block << 32) | (__syncthreads count << 1) | (1 at the end of the block).
    std::vector<unsigned long long> arrival;
    std::vector<std::unique_ptr<std::barrier<>>> warp_barrier;
    std::vector<unsigned long long> warp_slot;  // 32 per warp
};

inline void BlockCheck::operator()() noexcept {
    const auto& arr = launch->arrival;
    for (unsigned t = 1; t < launch->nthreads; ++t) {
        if (arr[t] != arr[0]) {
            auto what = [](unsigned long long a) { return (a & 1) ? "the end of the block" : "__syncthreads()"; };
            std::fprintf(stderr,
                         "flowcollapse kernel shim: %s: barrier mismatch in block %llu: thread 0 is at %s #%llu, "
                         "thread %u at %s #%llu (a __syncthreads() that not every thread of the block reaches, "
                         "e.g. after an early return)\n",
                         launch->name, arr[0] >> 32, what(arr[0]), (arr[0] & 0xffffffffULL) >> 1, t, what(arr[t]),
                         (arr[t] & 0xffffffffULL) >> 1);
            std::fflush(stderr);
            std::abort();
        }
    }
}

// Per-thread state of the launch being run.
struct ThreadState {
    Launch* launch = nullptr;
    unsigned tid = 0;                 // linear thread id in the block
    unsigned long long block = 0;     // linear block id
    unsigned long long syncs = 0;     // __syncthreads() calls in the current block
};
inline thread_local ThreadState tl;

inline void block_arrive(bool end_of_block) {
    Launch* l = tl.launch;
    l->arrival[tl.tid] = (tl.block << 32) | (tl.syncs << 1) | (end_of_block ? 1ULL : 0ULL);
    l->block_barrier->arrive_and_wait();
}

inline Launch* cooperative_launch(const char* what) {
    Launch* l = tl.launch;
    if (l == nullptr) die("%s called outside a kernel launch", what);
    if (!l->cooperative) {
        std::fprintf(stderr,
                     "flowcollapse kernel shim: %s: %s called by a kernel launched with launch_independent (use "
                     "fc_shim::launch for kernels with __syncthreads, shuffles or __shared__ memory)\n",
                     l->name, what);
        std::fflush(stderr);
        std::abort();
    }
    return l;
}

// Runs the blocks of launch `l` as linear thread `tid`.
inline void run_thread(Launch* l, unsigned tid) {
    const dim3 b = l->block, g = l->grid;
    threadIdx = uint3{tid % b.x, (tid / b.x) % b.y, tid / (b.x * b.y)};
    blockDim = b;
    gridDim = g;
    tl = ThreadState{l, tid, 0, 0};
    unsigned long long linear = 0;
    for (unsigned z = 0; z < g.z; ++z)
        for (unsigned y = 0; y < g.y; ++y)
            for (unsigned x = 0; x < g.x; ++x, ++linear) {
                blockIdx = uint3{x, y, z};
                tl.block = linear;
                tl.syncs = 0;
                l->invoke(l->args);
                if (l->cooperative) block_arrive(true);
            }
    tl = ThreadState{};
}

// The process-wide pool of block threads. Never destroyed: its threads are detached and wait for work until
// the process exits.
class Pool {
public:
    static Pool& get() {
        static Pool* pool = new Pool();
        return *pool;
    }

    // Runs `l` on l->nthreads pool threads and returns when all of them are done.
    void run(Launch* l) {
        std::unique_lock<std::mutex> lk(mu_);
        while (workers_ < l->nthreads) {
            std::thread(&Pool::worker, this, workers_, generation_).detach();  // starts before this job
            ++workers_;
        }
        job_ = l;
        job_threads_ = l->nthreads;
        remaining_ = l->nthreads;
        ++generation_;
        start_.notify_all();
        done_.wait(lk, [&] { return remaining_ == 0; });
        job_ = nullptr;
    }

private:
    void worker(unsigned index, unsigned long long seen) {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            start_.wait(lk, [&] { return generation_ != seen; });
            seen = generation_;
            if (index >= job_threads_) continue;  // not part of this launch
            Launch* l = job_;
            lk.unlock();
            run_thread(l, index);
            lk.lock();
            if (--remaining_ == 0) done_.notify_all();
        }
    }

    std::mutex mu_;
    std::condition_variable start_, done_;
    unsigned workers_ = 0;
    unsigned long long generation_ = 0;
    Launch* job_ = nullptr;
    unsigned job_threads_ = 0;
    unsigned remaining_ = 0;
};

inline std::mutex& launch_mutex() {
    static std::mutex m;
    return m;
}

template <class... P, class... A>
void launch_impl(const char* name, bool cooperative, void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    static_assert(sizeof...(P) == sizeof...(A), "launch: wrong number of kernel arguments");
    const unsigned long long nthreads = (unsigned long long)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0)
        die("%s: empty grid (%lld, %lld, %lld); CUDA rejects it (invalid configuration argument)", name, grid.x,
            grid.y, grid.z);
    if (block.x == 0 || block.y == 0 || block.z == 0 || nthreads > 1024 || block.z > 64)
        die("%s: invalid block (%lld, %lld, %lld): CUDA allows 1 to 1024 threads, z at most 64", name, block.x,
            block.y, block.z);
    if (grid.y > 65535 || grid.z > 65535)
        die("%s: grid (%lld, %lld, %lld) past CUDA's limit of 65535 in y and z", name, grid.x, grid.y, grid.z);

    struct Packed {
        void (*kernel)(P...);
        std::tuple<P...> args;
    };
    const Packed packed{kernel, std::tuple<P...>(static_cast<P>(args)...)};
    Launch l;
    l.name = name;
    l.grid = grid;
    l.block = block;
    l.nthreads = (unsigned)nthreads;
    l.cooperative = cooperative;
    l.args = &packed;
    l.invoke = [](const void* p) {
        // Every thread reads the packed arguments (never written during the launch) and passes them by value.
        const Packed& pk = *static_cast<const Packed*>(p);
        std::apply([&](const P&... a) { pk.kernel(a...); }, pk.args);
    };
    std::lock_guard<std::mutex> serial(launch_mutex());
    if (cooperative) {
        l.block_barrier = std::make_unique<std::barrier<BlockCheck>>((std::ptrdiff_t)nthreads, BlockCheck{&l});
        l.arrival.assign(nthreads, 0);
        const unsigned warps = (unsigned)((nthreads + 31) / 32);
        for (unsigned w = 0; w < warps; ++w) {
            const unsigned lanes = (unsigned)std::min<unsigned long long>(32, nthreads - 32ULL * w);
            l.warp_barrier.push_back(std::make_unique<std::barrier<>>((std::ptrdiff_t)lanes));
        }
        l.warp_slot.assign(32ULL * warps, 0);
    }
    Pool::get().run(&l);
}

// Warp shuffle core: every lane publishes `v`, then reads lane `src` (or keeps its own value when src < 0 or
// src names a lane that does not exist in this warp).
template <class T>
T shuffle(T v, int src, const char* what) {
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle: 4- or 8-byte values only");
    Launch* l = cooperative_launch(what);
    const unsigned warp = tl.tid / 32, lane = tl.tid % 32;
    const unsigned lanes = std::min(32u, l->nthreads - 32 * warp);
    unsigned long long* slot = &l->warp_slot[32ULL * warp];
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    slot[lane] = bits;
    l->warp_barrier[warp]->arrive_and_wait();
    T out = v;
    if (src >= 0 && (unsigned)src < lanes) std::memcpy(&out, &slot[src], sizeof(T));
    l->warp_barrier[warp]->arrive_and_wait();  // nobody overwrites a slot before every lane has read
    return out;
}

inline unsigned lane_id() { return tl.tid % 32; }

}  // namespace fc_shim

// ---- Launch entry points ------------------------------------------------------------------------------------
namespace fc_shim {
// Block-synchronous launch (any kernel of the supported subset).
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    launch_impl("kernel", true, kernel, grid, block, args...);
}
template <class... P, class... A>
void launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    launch_impl(name, true, kernel, grid, block, args...);
}
// Launch without barriers between blocks, for kernels without __syncthreads, shuffles and __shared__.
template <class... P, class... A>
void launch_independent(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, A... args) {
    launch_impl(name, false, kernel, grid, block, args...);
}
}  // namespace fc_shim
using fc_shim::launch;

// ---- Synchronisation --------------------------------------------------------------------------------------
inline void __syncthreads() {
    fc_shim::cooperative_launch("__syncthreads()");
    ++fc_shim::tl.syncs;
    fc_shim::block_arrive(false);
}
inline void __syncwarp(unsigned = 0xffffffffu) {
    fc_shim::Launch* l = fc_shim::cooperative_launch("__syncwarp()");
    l->warp_barrier[fc_shim::tl.tid / 32]->arrive_and_wait();
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned __activemask() { return 0xffffffffu; }

// ---- Warp shuffles (float, double, int, unsigned, long long, unsigned long long) ----------------------------
// CUDA's rules: width (a power of two ≤ 32) splits the warp into segments; a source outside the caller's
// segment (down/up/xor) yields the caller's own value, and so does a lane that does not exist.
template <class T>
inline T __shfl_sync(unsigned, T v, int src_lane, int width = warpSize) {
    const int lane = (int)fc_shim::lane_id();
    return fc_shim::shuffle(v, (lane / width) * width + (src_lane % width), "__shfl_sync");
}
template <class T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = warpSize) {
    const int lane = (int)fc_shim::lane_id();
    const int src = (lane % width) + (int)delta < width ? lane + (int)delta : -1;
    return fc_shim::shuffle(v, src, "__shfl_down_sync");
}
template <class T>
inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = warpSize) {
    const int lane = (int)fc_shim::lane_id();
    const int src = (lane % width) >= (int)delta ? lane - (int)delta : -1;
    return fc_shim::shuffle(v, src, "__shfl_up_sync");
}
template <class T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask, int width = warpSize) {
    const int lane = (int)fc_shim::lane_id();
    const int src = lane ^ lane_mask;
    return fc_shim::shuffle(v, src < (lane / width + 1) * width ? src : -1, "__shfl_xor_sync");
}

// ---- Atomics (relaxed, as CUDA's; all return the old value) ------------------------------------------------
template <class T>
inline T fc_shim_atomic_add(T* p, T v) {
    return std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
}
inline float atomicAdd(float* p, float v) { return fc_shim_atomic_add(p, v); }
inline double atomicAdd(double* p, double v) { return fc_shim_atomic_add(p, v); }
inline int atomicAdd(int* p, int v) { return fc_shim_atomic_add(p, v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return fc_shim_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return fc_shim_atomic_add(p, v); }
template <class T>
inline T fc_shim_atomic_max(T* p, T v) {
    std::atomic_ref<T> r(*p);
    T old = r.load(std::memory_order_relaxed);
    while (old < v && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
    }
    return old;
}
template <class T>
inline T fc_shim_atomic_min(T* p, T v) {
    std::atomic_ref<T> r(*p);
    T old = r.load(std::memory_order_relaxed);
    while (v < old && !r.compare_exchange_weak(old, v, std::memory_order_relaxed)) {
    }
    return old;
}
inline int atomicMax(int* p, int v) { return fc_shim_atomic_max(p, v); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return fc_shim_atomic_max(p, v); }
inline int atomicMin(int* p, int v) { return fc_shim_atomic_min(p, v); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return fc_shim_atomic_min(p, v); }
template <class T>
inline T fc_shim_atomic_cas(T* p, T compare, T val) {
    std::atomic_ref<T>(*p).compare_exchange_strong(compare, val, std::memory_order_relaxed);
    return compare;  // the old value either way
}
inline int atomicCAS(int* p, int compare, int val) { return fc_shim_atomic_cas(p, compare, val); }
inline unsigned atomicCAS(unsigned* p, unsigned compare, unsigned val) { return fc_shim_atomic_cas(p, compare, val); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long compare, unsigned long long val) {
    return fc_shim_atomic_cas(p, compare, val);
}
inline int atomicExch(int* p, int v) { return std::atomic_ref<int>(*p).exchange(v, std::memory_order_relaxed); }
inline float atomicExch(float* p, float v) {
    return std::atomic_ref<float>(*p).exchange(v, std::memory_order_relaxed);
}

// ---- Math -------------------------------------------------------------------------------------------------
// expf, logf, sqrtf, fmaf, fabsf, fminf, fmaxf, sinf, cosf, exp, log, sqrt, sin, cos, fma and the float
// overloads come from <math.h>/<cmath> (glibc's libm, the library Rust's f32/f64 methods call on Linux).
// glibc's sincos is replaced by sin and cos separately, the way Rust's f64::sin_cos computes.
inline void fc_shim_sincos(double x, double* s, double* c) {
    *s = ::sin(x);
    *c = ::cos(x);
}
inline void fc_shim_sincosf(float x, float* s, float* c) {
    *s = ::sinf(x);
    *c = ::cosf(x);
}
#define sincos fc_shim_sincos
#define sincosf fc_shim_sincosf

inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * (unsigned __int128)b) >> 64);
}
inline long long __mul64hi(long long a, long long b) { return (long long)(((__int128)a * (__int128)b) >> 64); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float x) { return ::expf(x); }
inline float __logf(float x) { return ::logf(x); }
inline float __sinf(float x) { return ::sinf(x); }
inline float __cosf(float x) { return ::cosf(x); }
inline float rsqrtf(float x) { return 1.0f / ::sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / ::sqrt(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }  // NaN → 0 as CUDA

inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return ::fminf(a, b); }
inline double min(double a, double b) { return ::fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return ::fmaxf(a, b); }
inline double max(double a, double b) { return ::fmax(a, b); }

// ---- Bits -------------------------------------------------------------------------------------------------
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline long long __double_as_longlong(double x) { return std::bit_cast<long long>(x); }
inline double __longlong_as_double(long long x) { return std::bit_cast<double>(x); }
inline int __popc(unsigned x) { return std::popcount(x); }
inline int __popcll(unsigned long long x) { return std::popcount(x); }
inline int __clz(int x) { return std::countl_zero((unsigned)x); }
inline int __clzll(long long x) { return std::countl_zero((unsigned long long)x); }
inline int __ffs(int x) { return x == 0 ? 0 : std::countr_zero((unsigned)x) + 1; }
inline int __ffsll(long long x) { return x == 0 ? 0 : std::countr_zero((unsigned long long)x) + 1; }
template <class T>
inline T __ldg(const T* p) {
    return *p;
}

#endif  // FLOWCOLLAPSE_CUDA_ON_CPU_H
