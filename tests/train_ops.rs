//! Each backend op against a naive f64 reference, one body per op run on every backend present (see
//! `common::backends`), and thread-count independence of the CPU reference's reductions and `gemm`.

#[macro_use]
mod common;

use flowcollapse::train::{rng, AdamStep, Backend, CpuBackend, Gemm, OptimConfig};

/// Deterministic test data in (−1, 1).
fn data(len: usize, salt: f64) -> Vec<f32> {
    (0..len).map(|i| ((i as f64 * 0.7381 + salt) * 1.37).sin() as f32).collect()
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// Unit roundoff of f32.
const U: f64 = 1.0 / (1u64 << 24) as f64;

fn up<B: Backend>(b: &B, x: &[f32]) -> B::Buf {
    b.upload(x).unwrap()
}

fn down<B: Backend>(b: &B, x: &B::Buf) -> Vec<f32> {
    b.download(b.view(x)).unwrap()
}

on_each_backend!(
    matmul_matches_the_definition,
    bias_silu_matches_f64_and_finite_differences,
    bias_column_sum_time_embedding_and_flow_pairs_match_their_formulas,
    loss_and_squared_norm_match_f64,
    adam_ema_matches_the_textbook_update,
    euler_and_heun_steps_match_their_formulas,
    fills_and_row_draws_match_the_counter_streams,
);

/// Every transpose, accumulate or not, leading dimensions wider than the rows (layer 0's column
/// blocks), and awkward shapes: 1 × 1, sizes that are no multiple of a 64-tile, tall and skinny, k = 0.
fn matmul_matches_the_definition<B: Backend>(b: &B) {
    for (m, n, k) in [(37, 29, 53), (1, 1, 1), (67, 45, 33), (300, 3, 7), (2, 130, 129), (5, 4, 0)] {
        for trans_a in [false, true] {
            for trans_b in [false, true] {
                for accumulate in [false, true] {
                    let g0 = Gemm::new(m, n, k, trans_a, trans_b);
                    let g = Gemm { lda: g0.lda + 3, ldb: g0.ldb + 5, ldc: g0.ldc + 2, accumulate, ..g0 };
                    let (la, lb, lc) = g.min_lens();
                    let (a, bb, c0) = (data(la, 0.1), data(lb, 0.2), data(lc, 0.3));
                    let mut c = up(b, &c0);
                    b.matmul(&g, b.view(&up(b, &a)), b.view(&up(b, &bb)), b.view_mut(&mut c)).unwrap();
                    let c = down(b, &c);
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
                                "{m}×{n}×{k} ta={trans_a} tb={trans_b} acc={accumulate} ({i},{j}): {err}"
                            );
                        }
                    }
                    // Gaps between rows of C are untouched.
                    for i in 0..m.saturating_sub(1) {
                        for j in n..g.ldc {
                            assert_eq!(c[i * g.ldc + j], c0[i * g.ldc + j]);
                        }
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
            pool(threads).install(|| b.matmul(&g, &a, &bb, &mut c).unwrap());
            c
        };
        let (one, two) = (run(1), run(2));
        assert!(one.iter().zip(&two).all(|(x, y)| x.to_bits() == y.to_bits()), "{g:?} differs between 1 and 2 threads");
    }
}

fn silu64(z: f64) -> f64 {
    z / (1.0 + (-z).exp())
}

fn bias_silu_matches_f64_and_finite_differences<B: Backend>(b: &B) {
    for (rows, cols) in [(9, 70), (1, 1), (257, 3)] {
        let z0: Vec<f32> = data(rows * cols, 0.6).iter().map(|v| 6.0 * v).collect();
        let bias = data(cols, 0.7);
        let dh = data(rows * cols, 0.8);
        let (mut s, mut h) = (up(b, &z0), b.zeros(rows * cols).unwrap());
        b.bias_silu(rows, cols, b.view(&up(b, &bias)), b.view_mut(&mut s), b.view_mut(&mut h)).unwrap();
        let (mut dz, mut db) = (b.zeros(rows * cols).unwrap(), b.zeros(cols).unwrap());
        let dhb = up(b, &dh);
        b.bias_silu_backward(
            rows,
            cols,
            b.view(&s),
            b.view(&h),
            b.view(&dhb),
            b.view_mut(&mut dz),
            b.view_mut(&mut db),
        )
        .unwrap();
        let (s, h, dz, db) = (down(b, &s), down(b, &h), down(b, &dz), down(b, &db));
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

fn bias_column_sum_time_embedding_and_flow_pairs_match_their_formulas<B: Backend>(b: &B) {
    let (rows, cols) = (300, 133);
    let y0 = data(rows * cols, 0.9);
    let bias = data(cols, 1.0);
    let mut y = up(b, &y0);
    b.add_bias(rows, cols, b.view(&up(b, &bias)), b.view_mut(&mut y)).unwrap();
    let y = down(b, &y);
    for i in 0..rows * cols {
        assert_eq!(y[i], y0[i] + bias[i % cols]);
    }
    let mut sums = b.zeros(cols).unwrap();
    b.column_sum(rows, cols, b.view(&up(b, &y0)), b.view_mut(&mut sums)).unwrap();
    let sums = down(b, &sums);
    for c in 0..cols {
        let exact: f64 = (0..rows).map(|r| y0[r * cols + c] as f64).sum();
        let scale: f64 = (0..rows).map(|r| y0[r * cols + c].abs() as f64).sum();
        assert!((sums[c] as f64 - exact).abs() <= rows as f64 * U * scale, "column {c}");
    }

    // γ(t) = [sin(ω_i t), cos(ω_i t)], ω_i = 1000^{i/(E/2−1)}, written out independently here.
    let width = 16;
    let t: Vec<f32> = (0..50).map(|i| i as f32 / 49.0).collect();
    let tb = up(b, &t);
    let mut gamma = b.zeros(t.len() * width).unwrap();
    b.time_embed(width, b.view(&tb), b.view_mut(&mut gamma)).unwrap();
    let gamma = down(b, &gamma);
    for (r, &tr) in t.iter().enumerate() {
        for i in 0..8 {
            let w = 10f64.powf(3.0 * i as f64 / 7.0);
            assert!((gamma[r * width + i] as f64 - (w * tr as f64).sin()).abs() < 1e-6);
            assert!((gamma[r * width + 8 + i] as f64 - (w * tr as f64).cos()).abs() < 1e-6);
        }
    }

    let d = 7;
    let (x0, x1) = (data(t.len() * d, 1.1), data(t.len() * d, 1.2));
    let (mut xt, mut u) = (b.zeros(x0.len()).unwrap(), b.zeros(x0.len()).unwrap());
    let (x0b, x1b) = (up(b, &x0), up(b, &x1));
    b.flow_pairs(d, b.view(&x0b), b.view(&x1b), b.view(&tb), b.view_mut(&mut xt), b.view_mut(&mut u)).unwrap();
    let (xt, u) = (down(b, &xt), down(b, &u));
    for i in 0..x0.len() {
        let s = t[i / d] as f64;
        let want = s * x1[i] as f64 + (1.0 - s) * x0[i] as f64;
        assert!((xt[i] as f64 - want).abs() <= 4.0 * U, "x_t {i}");
        assert_eq!(u[i], x1[i] - x0[i]);
    }
}

fn loss_and_squared_norm_match_f64<B: Backend>(b: &B) {
    for n in [1, 4095, 3 * 4096 + 1234] {
        let (v, u) = (data(n, 1.3), data(n, 1.4));
        let mut dv = b.zeros(n).unwrap();
        let mut out = b.scalars(3).unwrap();
        let (vb, ub) = (up(b, &v), up(b, &u));
        b.mse_loss(b.view(&vb), b.view(&ub), b.view_mut(&mut dv), &mut out, 1).unwrap();
        b.sum_squares(b.view(&vb), &mut out, 2, false).unwrap();
        b.sum_squares(b.view(&ub), &mut out, 0, false).unwrap();
        b.sum_squares(b.view(&vb), &mut out, 0, true).unwrap();
        let s = b.read_scalars(&out).unwrap();
        let d = down(b, &dv);
        // v − u is rounded to f32 once (relative error ≤ u), then squared and summed in f64.
        let exact: f64 = v.iter().zip(&u).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum::<f64>() / n as f64;
        assert!((s[1] - exact).abs() <= 2.0 * U * exact, "loss {} vs {exact}", s[1]);
        let (sv, su): (f64, f64) =
            (v.iter().map(|&a| a as f64 * a as f64).sum(), u.iter().map(|&a| a as f64 * a as f64).sum());
        assert!((s[2] - sv).abs() <= 1e-12 * sv, "Σv² {} vs {sv}", s[2]);
        assert!((s[0] - (su + sv)).abs() <= 1e-12 * (su + sv), "accumulated Σu² + Σv²");
        for i in 0..n {
            let want = 2.0 * (v[i] as f64 - u[i] as f64) / n as f64;
            assert!((d[i] as f64 - want).abs() <= 3.0 * U * want.abs(), "dv {i}");
        }
    }
}

#[test]
fn loss_and_squared_norm_do_not_depend_on_threads() {
    let b = CpuBackend::new();
    let n = 3 * flowcollapse::train::cpu::BLOCK + 1234;
    let (v, u) = (data(n, 1.3), data(n, 1.4));
    let run = |threads| {
        let (mut dv, mut out) = (vec![0.0; n], vec![0.0; 2]);
        pool(threads).install(|| {
            b.mse_loss(&v, &u, &mut dv, &mut out, 0).unwrap();
            b.sum_squares(&v, &mut out, 1, false).unwrap();
        });
        (out[0].to_bits(), out[1].to_bits(), dv)
    };
    assert_eq!(run(1), run(2));
}

fn adam_ema_matches_the_textbook_update<B: Backend>(b: &B) {
    let optim = OptimConfig { lr: 0.01, clip: Some(0.5), ema_decay: 0.9, ..OptimConfig::default() };
    let p0 = vec![0.3f32, -1.2, 0.0, 2.5, 1e-3];
    let m0 = vec![0.01f32, -0.02, 0.0, 0.3, 0.0];
    let v0 = vec![1e-4f32, 4e-4, 0.0, 0.2, 1e-9];
    let e0 = vec![0.29f32, -1.1, 0.1, 2.4, 0.0];
    let g = vec![0.4f32, -0.3, 0.0, 0.7, -1e-4];
    let t = 3u64;
    let norm_sq: f64 = g.iter().map(|&x| x as f64 * x as f64).sum();
    let s: AdamStep = optim.step_scalars(t, norm_sq);
    let (mut p, mut m, mut v, mut e) = (up(b, &p0), up(b, &m0), up(b, &v0), up(b, &e0));
    let gb = up(b, &g);
    b.adam_ema(&s, b.view_mut(&mut p), b.view(&gb), b.view_mut(&mut m), b.view_mut(&mut v), b.view_mut(&mut e))
        .unwrap();
    let (p, m, v, e) = (down(b, &p), down(b, &m), down(b, &v), down(b, &e));
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

fn euler_and_heun_steps_match_their_formulas<B: Backend>(b: &B) {
    let n = 10_000;
    let (x0, v1, v2) = (data(n, 1.5), data(n, 1.6), data(n, 1.7));
    let h = 0.01f32;
    let (x0b, v1b, v2b) = (up(b, &x0), up(b, &v1), up(b, &v2));
    let mut x = up(b, &x0);
    b.euler(h, b.view(&v1b), b.view_mut(&mut x)).unwrap();
    let mut pred = b.zeros(n).unwrap();
    b.euler_to(h, b.view(&x0b), b.view(&v1b), b.view_mut(&mut pred)).unwrap();
    let (x, pred) = (down(b, &x), down(b, &pred));
    assert_eq!(x, pred, "in-place and out-of-place Euler agree");
    let mut y = up(b, &x0);
    b.heun(h, b.view(&v1b), b.view(&v2b), b.view_mut(&mut y)).unwrap();
    let y = down(b, &y);
    for i in 0..n {
        let e = x0[i] as f64 + h as f64 * v1[i] as f64;
        let hn = x0[i] as f64 + 0.5 * h as f64 * (v1[i] as f64 + v2[i] as f64);
        assert!((x[i] as f64 - e).abs() <= 2.0 * U);
        assert!((y[i] as f64 - hn).abs() <= 2.0 * U);
    }
}

/// The fills are the counter streams of `train::rng` value for value (from an odd first counter too), and
/// a row draw takes row `index_below(bits(key, b), n)`, written out here from the stream's formulas.
fn fills_and_row_draws_match_the_counter_streams<B: Backend>(b: &B) {
    let (seed, stream, first, n) = (7u64, rng::stream(rng::Purpose::User, 3), 11u64, 5000usize);
    let key = rng::stream_key(seed, stream);
    let mut u = b.zeros(n).unwrap();
    b.fill_uniform(seed, stream, first, b.view_mut(&mut u)).unwrap();
    let mut z = b.zeros(n).unwrap();
    b.fill_normal(seed, stream, first, b.view_mut(&mut z)).unwrap();
    let (u, z) = (down(b, &u), down(b, &z));
    for j in 0..n {
        let i = first + j as u64;
        let want_u = ((rng::bits(key, i) >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        assert_eq!(u[j], want_u as f32, "uniform {j}");
        let c = i & !1;
        let (u1, u2) = (rng::open01(rng::bits(key, c)), rng::open01(rng::bits(key, c + 1)));
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        let want_z = if i.is_multiple_of(2) { r * theta.cos() } else { r * theta.sin() };
        // CUDA's and glibc's log/sin/cos may differ by an ulp in f64: allow one f32 ulp.
        assert!((z[j] as f64 - want_z).abs() <= 2.0 * U * want_z.abs().max(1e-30), "normal {j}");
    }
    let mut c = b.zeros(7).unwrap();
    b.fill(2.5, b.view_mut(&mut c)).unwrap();
    assert_eq!(down(b, &c), vec![2.5; 7]);

    let (d, src_rows, dst_rows) = (3, 13, 40);
    let src = data(src_rows * d, 2.0);
    let mut dst = b.zeros(dst_rows * d).unwrap();
    b.gather_rows(seed, stream, d, b.view(&up(b, &src)), b.view_mut(&mut dst)).unwrap();
    let dst = down(b, &dst);
    for row in 0..dst_rows {
        let r = ((rng::bits(key, row as u64) as u128 * src_rows as u128) >> 64) as usize;
        assert_eq!(&dst[row * d..(row + 1) * d], &src[r * d..(r + 1) * d], "row {row}");
    }
}
