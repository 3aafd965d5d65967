// Launches every kernel of shim.cpp once or a few times on small, awkward shapes (1 × 1, sizes that are not
// multiples of the tiles), with the launch shapes of kernels/README.md, so that ThreadSanitizer sees every
// kernel's memory accesses and barriers. No result checking (the Rust tests compare values with the CPU
// reference); run by kernels/host/check.sh, which requires zero TSan reports.
//
//   g++ -std=c++20 -fsanitize=thread -O1 -g -fno-fast-math -ffp-contract=off -pthread -I kernels
//     kernels/host/tsan_kernels.cpp -o tsan_kernels && ./tsan_kernels
#include "shim.cpp"

#include <vector>

static ShimLaunch elementwise(long long n) {
    const long long blocks = std::max(1LL, std::min((n + 255) / 256, 4096LL));
    return ShimLaunch{{(unsigned)blocks, 1, 1}, {256, 1, 1}};
}
static ShimLaunch reduction(long long n) {
    return ShimLaunch{{(unsigned)std::max(1LL, (n + 4095) / 4096), 1, 1}, {256, 1, 1}};
}
static ShimLaunch gemm(int m, int n) {
    return ShimLaunch{{(unsigned)std::max(1, (n + 63) / 64), (unsigned)std::max(1, (m + 63) / 64), 1}, {16, 16, 1}};
}

static std::vector<float> ramp(long long n, float scale = 0.01f) {
    std::vector<float> v((size_t)std::max(n, 1LL));
    for (long long i = 0; i < (long long)v.size(); ++i) v[i] = scale * (float)((i * 37) % 101) - 0.5f;
    return v;
}

int main() {
    const unsigned long long key = 0x1234567890abcdefULL;
    for (long long n : {1LL, 300LL}) {
        const ShimLaunch ew = elementwise(n);
        std::vector<float> out(n), a = ramp(n), b = ramp(n, 0.02f), c = ramp(n, 0.03f), d = ramp(n), e = ramp(n);
        shim_fc_fill_const(&ew, out.data(), n, 1.5f);
        shim_fc_fill_uniform(&ew, out.data(), n, key, 7);
        shim_fc_fill_normal(&ew, out.data(), n, key, 3);  // odd first: pairs straddle the start
        shim_fc_silu_backward(&ew, n, a.data(), b.data(), c.data(), out.data());
        shim_fc_adam_ema(&ew, n, a.data(), b.data(), c.data(), d.data(), e.data(), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.5f,
                         0.1f, 0.001f, 0.999f);
        shim_fc_euler(&ew, n, 0.1f, b.data(), a.data());
        shim_fc_euler_to(&ew, n, 0.1f, a.data(), b.data(), out.data());
        shim_fc_heun(&ew, n, 0.1f, b.data(), c.data(), a.data());
        // Sum of squares and MSE: partials then the finish, plain and accumulating.
        const ShimLaunch red = reduction(n);
        std::vector<double> partials(red.grid[0]), total(1, 0.0);
        const ShimLaunch one{{1, 1, 1}, {256, 1, 1}};
        shim_fc_sum_squares_partials(&red, n, a.data(), partials.data());
        shim_fc_finish_sum(&one, partials.data(), (long long)partials.size(), 1.0, total.data(), 0);
        shim_fc_mse_partials(&red, n, a.data(), b.data(), out.data(), 2.0f / (float)n, partials.data());
        shim_fc_finish_sum(&one, partials.data(), (long long)partials.size(), 1.0 / (double)n, total.data(), 1);
    }
    {  // Reductions over several blocks, the last one partial.
        const long long n = 2 * 4096 + 5;
        std::vector<float> g = ramp(n), v = ramp(n, 0.02f), dv(n);
        const ShimLaunch red = reduction(n);
        std::vector<double> partials(red.grid[0]), total(1);
        const ShimLaunch one{{1, 1, 1}, {256, 1, 1}};
        shim_fc_sum_squares_partials(&red, n, g.data(), partials.data());
        shim_fc_mse_partials(&red, n, g.data(), v.data(), dv.data(), 2.0f / (float)n, partials.data());
        shim_fc_finish_sum(&one, partials.data(), (long long)partials.size(), 0.5, total.data(), 0);
        // A finish over more partials than threads (each thread loops).
        std::vector<double> many(300, 0.25);
        shim_fc_finish_sum(&one, many.data(), (long long)many.size(), 1.0, total.data(), 1);
    }
    for (long long rows : {1LL, 7LL}) {
        for (long long cols : {1LL, 33LL, 300LL}) {
            const long long n = rows * cols;
            const ShimLaunch ew = elementwise(n), ew_gather = elementwise(3 * cols);
            std::vector<float> z = ramp(n), h(n), bias = ramp(cols), y = ramp(n), sums(cols);
            shim_fc_bias_silu(&ew, rows, cols, bias.data(), z.data(), h.data());
            shim_fc_add_bias(&ew, rows, cols, bias.data(), y.data());
            const ShimLaunch cs{{(unsigned)((cols + 255) / 256), 1, 1}, {256, 1, 1}};
            shim_fc_column_sum(&cs, rows, cols, y.data(), sums.data());
            // Pairs: d = cols.
            std::vector<float> x0 = ramp(n), x1 = ramp(n, 0.05f), t = ramp(rows), xt(n), u(n), dst(3 * cols);
            shim_fc_flow_pairs(&ew, rows, cols, x0.data(), x1.data(), t.data(),
                               xt.data(), u.data());
            shim_fc_gather_rows(&ew_gather, x0.data(), rows, cols, dst.data(), 3, key);
        }
        for (long long width : {2LL, 10LL, 64LL}) {
            std::vector<double> freq(width / 2);
            for (size_t k = 0; k < freq.size(); ++k) freq[k] = 1.0 + (double)k;
            std::vector<float> t = ramp(rows), out(rows * width);
            const ShimLaunch ew = elementwise(rows * (width / 2));
            shim_fc_time_embed(&ew, rows, width, freq.data(), t.data(), out.data());
        }
    }
    // GEMM: every transpose combination, plain and accumulating, on shapes that are no multiple of the tiles;
    // then 1 × 1 × 1 and k = 0.
    struct Shape {
        int m, n, k;
    };
    for (Shape s : {Shape{67, 45, 33}, Shape{1, 1, 1}, Shape{5, 70, 0}, Shape{65, 3, 17}}) {
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb)
                for (int acc = 0; acc < 2; ++acc) {
                    const int m = s.m, n = s.n, k = s.k;
                    const long long lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
                    std::vector<float> a = ramp((long long)m * k), b = ramp((long long)k * n, 0.02f),
                                       c = ramp((long long)m * n);
                    const ShimLaunch g = gemm(m, n);
                    shim_fc_sgemm(&g, m, n, k, a.data(), std::max(lda, 1LL), ta, b.data(), std::max(ldb, 1LL), tb,
                                  c.data(), ldc, acc);
                }
    }
    std::printf("tsan_kernels: every kernel launched\n");
    return 0;
}
