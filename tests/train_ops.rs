//! Each CPU backend op against a naive f64 reference, and thread-count independence of the reductions
//! and of `gemm`.

use flowcollapse::train::{AdamStep, Backend, CpuBackend, Gemm, OptimConfig};

/// Deterministic test data in (−1, 1).
fn data(len: usize, salt: f64) -> Vec<f32> {
    (0..len).map(|i| ((i as f64 * 0.7381 + salt) * 1.37).sin() as f32).collect()
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// Unit roundoff of f32.
const U: f64 = 1.0 / (1u64 << 24) as f64;

#[test]
fn matmul_matches_the_definition_for_every_transpose_and_leading_dimension() {
    let b = CpuBackend::new();
    let (m, n, k) = (37, 29, 53);
    for trans_a in [false, true] {
        for trans_b in [false, true] {
            for accumulate in [false, true] {
                // Leading dimensions wider than the rows, as in layer 0's column blocks.
                let g0 = Gemm::new(m, n, k, trans_a, trans_b);
                let g = Gemm { lda: g0.lda + 3, ldb: g0.ldb + 5, ldc: g0.ldc + 2, accumulate, ..g0 };
                let (la, lb, lc) = g.min_lens();
                let (a, bb, c0) = (data(la, 0.1), data(lb, 0.2), data(lc, 0.3));
                let mut c = c0.clone();
                b.matmul(&g, &a, &bb, &mut c);
                let at = |i: usize, l: usize| if trans_a { a[l * g.lda + i] } else { a[i * g.lda + l] } as f64;
                let bt = |l: usize, j: usize| if trans_b { bb[j * g.ldb + l] } else { bb[l * g.ldb + j] } as f64;
                for i in 0..m {
                    for j in 0..n {
                        let base = if accumulate { c0[i * g.ldc + j] as f64 } else { 0.0 };
                        let exact = base + (0..k).map(|l| at(i, l) * bt(l, j)).sum::<f64>();
                        let scale = base.abs() + (0..k).map(|l| (at(i, l) * bt(l, j)).abs()).sum::<f64>();
                        // Classical bound for a length-(k+1) dot product in f32: (k+1)·u·Σ|terms|.
                        let err = (c[i * g.ldc + j] as f64 - exact).abs();
                        assert!(
                            err <= (k + 1) as f64 * U * scale,
                            "ta={trans_a} tb={trans_b} acc={accumulate} ({i},{j}): {err}"
                        );
                    }
                }
                // Gaps between rows of C are untouched.
                for i in 0..m - 1 {
                    for j in n..g.ldc {
                        assert_eq!(c[i * g.ldc + j], c0[i * g.ldc + j]);
                    }
                }
            }
        }
    }
}

#[test]
fn matmul_is_bit_identical_on_one_and_two_threads_for_the_layer_shapes() {
    let b = CpuBackend::new();
    // Batch 128 of the 784 + 16 → 1024 → 1024 → 784 MLP: forward, weight gradient, input gradient.
    let shapes = [
        Gemm { ldb: 800, ..Gemm::new(128, 1024, 784, false, true) },
        Gemm::new(128, 1024, 1024, false, true),
        Gemm::new(1024, 1024, 128, true, false),
        Gemm::new(128, 1024, 784, false, false),
        Gemm { ldc: 800, ..Gemm::new(1024, 784, 128, true, false) },
    ];
    for g in shapes {
        let (la, lb, lc) = g.min_lens();
        let (a, bb) = (data(la, 0.4), data(lb, 0.5));
        let run = |threads| {
            let mut c = vec![0.0f32; lc];
            pool(threads).install(|| b.matmul(&g, &a, &bb, &mut c));
            c
        };
        let (one, two) = (run(1), run(2));
        assert!(one.iter().zip(&two).all(|(x, y)| x.to_bits() == y.to_bits()), "{g:?} differs between 1 and 2 threads");
    }
}

fn silu64(z: f64) -> f64 {
    z / (1.0 + (-z).exp())
}

#[test]
fn bias_silu_forward_and_backward_match_f64_and_finite_differences() {
    let b = CpuBackend::new();
    let (rows, cols) = (9, 70);
    let z0: Vec<f32> = data(rows * cols, 0.6).iter().map(|v| 6.0 * v).collect();
    let bias = data(cols, 0.7);
    let dh = data(rows * cols, 0.8);
    let (mut s, mut h) = (z0.clone(), vec![0.0; rows * cols]);
    b.bias_silu(rows, cols, &bias, &mut s, &mut h);
    let (mut dz, mut db) = (vec![0.0; rows * cols], vec![0.0; cols]);
    b.bias_silu_backward(rows, cols, &s, &h, &dh, &mut dz, &mut db);
    let mut col_sum = vec![0.0f64; cols];
    for r in 0..rows {
        for c in 0..cols {
            let i = r * cols + c;
            let zz = (z0[i] + bias[c]) as f64;
            let sigma = 1.0 / (1.0 + (-zz).exp());
            assert!((s[i] as f64 - sigma).abs() <= 4.0 * U * sigma, "σ ({r},{c}): {} vs {sigma}", s[i]);
            assert!((h[i] as f64 - silu64(zz)).abs() <= 4.0 * U * silu64(zz).abs(), "h ({r},{c})");
            // The derivative by central differences of the f64 SiLU (step 1e-5, error ~1e-10).
            let e = 1e-5;
            let slope = (silu64(zz + e) - silu64(zz - e)) / (2.0 * e);
            let want = dh[i] as f64 * slope;
            assert!((dz[i] as f64 - want).abs() <= 1e-6, "dz ({r},{c}): {} vs {want}", dz[i]);
            col_sum[c] += dz[i] as f64;
        }
    }
    for c in 0..cols {
        assert!((db[c] as f64 - col_sum[c]).abs() <= rows as f64 * U * 2.0, "db {c}");
    }
}

#[test]
fn the_exponential_is_accurate_to_a_few_ulps_over_its_range() {
    use flowcollapse::train::cpu::exp_f32;
    let mut worst = 0.0f64;
    for i in 0..=200_000 {
        let x = -87.0 + 175.0 * i as f64 / 200_000.0;
        let got = exp_f32(x as f32) as f64;
        let want = (x as f32 as f64).exp();
        worst = worst.max((got - want).abs() / want);
    }
    assert!(worst <= 4.0 * U, "worst relative error {worst}");
    assert_eq!(exp_f32(0.0), 1.0);
    assert!(exp_f32(-1000.0) > 0.0 && exp_f32(1000.0).is_finite(), "clamped, never 0 or ∞");
}

#[test]
fn bias_add_column_sum_time_embedding_and_flow_pairs_match_their_formulas() {
    let b = CpuBackend::new();
    let (rows, cols) = (300, 133);
    let y0 = data(rows * cols, 0.9);
    let bias = data(cols, 1.0);
    let mut y = y0.clone();
    b.add_bias(rows, cols, &bias, &mut y);
    for i in 0..rows * cols {
        assert_eq!(y[i], y0[i] + bias[i % cols]);
    }
    let mut sums = vec![0.0; cols];
    pool(2).install(|| b.column_sum(rows, cols, &y0, &mut sums));
    for c in 0..cols {
        let exact: f64 = (0..rows).map(|r| y0[r * cols + c] as f64).sum();
        let scale: f64 = (0..rows).map(|r| y0[r * cols + c].abs() as f64).sum();
        assert!((sums[c] as f64 - exact).abs() <= rows as f64 * U * scale, "column {c}");
    }

    // γ(t) = [sin(ω_i t), cos(ω_i t)], ω_i = 1000^{i/(E/2−1)}, written out independently here.
    let width = 16;
    let t: Vec<f32> = (0..50).map(|i| i as f32 / 49.0).collect();
    let mut gamma = vec![0.0; t.len() * width];
    b.time_embed(width, &t, &mut gamma);
    for (r, &tr) in t.iter().enumerate() {
        for i in 0..8 {
            let w = 10f64.powf(3.0 * i as f64 / 7.0);
            assert!((gamma[r * width + i] as f64 - (w * tr as f64).sin()).abs() < 1e-6);
            assert!((gamma[r * width + 8 + i] as f64 - (w * tr as f64).cos()).abs() < 1e-6);
        }
    }

    let d = 7;
    let (x0, x1) = (data(t.len() * d, 1.1), data(t.len() * d, 1.2));
    let (mut xt, mut u) = (vec![0.0; x0.len()], vec![0.0; x0.len()]);
    b.flow_pairs(d, &x0, &x1, &t, &mut xt, &mut u);
    for i in 0..x0.len() {
        let s = t[i / d] as f64;
        let want = s * x1[i] as f64 + (1.0 - s) * x0[i] as f64;
        assert!((xt[i] as f64 - want).abs() <= 4.0 * U, "x_t {i}");
        assert_eq!(u[i], x1[i] - x0[i]);
    }
}

#[test]
fn loss_and_squared_norm_match_f64_and_do_not_depend_on_threads() {
    let b = CpuBackend::new();
    let n = 3 * cpu_block() + 1234;
    let (v, u) = (data(n, 1.3), data(n, 1.4));
    let run = |threads| {
        let mut dv = vec![0.0; n];
        let (loss, sq) = pool(threads).install(|| {
            let loss = b.mse_loss(&v, &u, &mut dv);
            (loss, b.sum_squares(&v))
        });
        (loss, sq, dv)
    };
    let (l1, s1, d1) = run(1);
    let (l2, s2, d2) = run(2);
    assert_eq!((l1.to_bits(), s1.to_bits()), (l2.to_bits(), s2.to_bits()));
    assert_eq!(d1, d2);
    // v − u is rounded to f32 once (relative error ≤ u), then squared and summed in f64.
    let exact: f64 = v.iter().zip(&u).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() / n as f64;
    assert!((l1 - exact).abs() <= 2.0 * U * exact, "loss {l1} vs {exact}");
    let sq: f64 = v.iter().map(|&a| a as f64 * a as f64).sum();
    assert!((s1 - sq).abs() <= 1e-12 * sq);
    for i in 0..n {
        let want = 2.0 * (v[i] as f64 - u[i] as f64) / n as f64;
        assert!((d1[i] as f64 - want).abs() <= 3.0 * U * want.abs(), "dv {i}");
    }
}

fn cpu_block() -> usize {
    flowcollapse::train::cpu::BLOCK
}

#[test]
fn adam_ema_matches_the_textbook_update() {
    let b = CpuBackend::new();
    let optim = OptimConfig { lr: 0.01, clip: Some(0.5), ema_decay: 0.9, ..OptimConfig::default() };
    let mut p = vec![0.3f32, -1.2, 0.0, 2.5, 1e-3];
    let mut m = vec![0.01f32, -0.02, 0.0, 0.3, 0.0];
    let mut v = vec![1e-4f32, 4e-4, 0.0, 0.2, 1e-9];
    let mut e = vec![0.29f32, -1.1, 0.1, 2.4, 0.0];
    let g = vec![0.4f32, -0.3, 0.0, 0.7, -1e-4];
    let t = 3u64;
    let norm_sq: f64 = g.iter().map(|&x| x as f64 * x as f64).sum();
    let s: AdamStep = optim.step_scalars(t, norm_sq);
    let (p0, m0, v0, e0) = (p.clone(), m.clone(), v.clone(), e.clone());
    b.adam_ema(&s, &mut p, &g, &mut m, &mut v, &mut e);
    // Textbook Adam (Kingma & Ba, Algorithm 1) on the clipped gradient, in f64.
    let scale = (0.5 / norm_sq.sqrt()).min(1.0);
    for j in 0..p.len() {
        let gj = g[j] as f64 * scale;
        let mj = 0.9 * m0[j] as f64 + 0.1 * gj;
        let vj = 0.999 * v0[j] as f64 + 0.001 * gj * gj;
        let mhat = mj / (1.0 - 0.9f64.powi(t as i32));
        let vhat = vj / (1.0 - 0.999f64.powi(t as i32));
        let pj = p0[j] as f64 - 0.01 * mhat / (vhat.sqrt() + 1e-8);
        // The EMA decay of update 3 is still warming up: min(0.9, 4/13).
        let delta = 4.0f64 / 13.0;
        assert_eq!(s.ema_decay, delta as f32);
        assert_eq!(optim.step_scalars(1000, norm_sq).ema_decay, 0.9, "the warm-up ends at δ");
        let ej = delta * e0[j] as f64 + (1.0 - delta) * pj;
        for (what, got, want) in [("m", m[j], mj), ("v", v[j], vj), ("p", p[j], pj), ("ema", e[j], ej)] {
            assert!((got as f64 - want).abs() <= 1e-6 * (want.abs() + 1e-3), "{what}[{j}]: {got} vs {want}");
        }
    }
}

#[test]
fn euler_and_heun_steps_match_their_formulas() {
    let b = CpuBackend::new();
    let n = 10_000;
    let (x0, v1, v2) = (data(n, 1.5), data(n, 1.6), data(n, 1.7));
    let h = 0.01f32;
    let mut x = x0.clone();
    b.euler(h, &v1, &mut x);
    let mut pred = vec![0.0; n];
    b.euler_to(h, &x0, &v1, &mut pred);
    assert_eq!(x, pred, "in-place and out-of-place Euler agree");
    let mut y = x0.clone();
    b.heun(h, &v1, &v2, &mut y);
    for i in 0..n {
        let e = x0[i] as f64 + h as f64 * v1[i] as f64;
        let hn = x0[i] as f64 + 0.5 * h as f64 * (v1[i] as f64 + v2[i] as f64);
        assert!((x[i] as f64 - e).abs() <= 2.0 * U);
        assert!((y[i] as f64 - hn).abs() <= 2.0 * U);
    }
}
