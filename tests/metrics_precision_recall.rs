//! k-NN precision and recall (`metrics::precision_recall`) against constructed sets with known answers and a
//! naive f64 implementation of the definition, and thread-count independence.

use flowcollapse::metrics::{pairwise_sq_distances, precision_recall, PrecisionRecallParams, RealManifold, Samples};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

fn gaussian(seed: u64, n: usize, d: usize, centre: &[f32], sd: f32) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .flat_map(|_| {
            (0..d)
                .map(|j| {
                    let z: f32 = StandardNormal.sample(&mut rng);
                    centre[j] + sd * z
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn params(k: usize, block_rows: usize) -> PrecisionRecallParams {
    PrecisionRecallParams { k, block_rows }
}

fn sq_dist64(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum()
}

/// The definition, literally: f64 distances, sort, k-th neighbour, any ball containing the point.
fn naive(real: &[f32], gen: &[f32], d: usize, k: usize) -> (f64, f64) {
    let rows = |x: &[f32]| x.chunks(d).map(|r| r.to_vec()).collect::<Vec<_>>();
    let (r, g) = (rows(real), rows(gen));
    let radii = |set: &Vec<Vec<f32>>| -> Vec<f64> {
        (0..set.len())
            .map(|i| {
                let mut ds: Vec<f64> =
                    (0..set.len()).filter(|&j| j != i).map(|j| sq_dist64(&set[i], &set[j])).collect();
                ds.sort_by(f64::total_cmp);
                ds[k - 1]
            })
            .collect()
    };
    let (rr, rg) = (radii(&r), radii(&g));
    let inside = |p: &[f32], set: &Vec<Vec<f32>>, rad: &[f64]| set.iter().zip(rad).any(|(q, &r)| sq_dist64(p, q) <= r);
    let precision = g.iter().filter(|p| inside(p, &r, &rr)).count() as f64 / g.len() as f64;
    let recall = r.iter().filter(|p| inside(p, &g, &rg)).count() as f64 / r.len() as f64;
    (precision, recall)
}

#[test]
fn identical_sets_have_precision_and_recall_one() {
    let (n, d) = (500, 20);
    let x = gaussian(1, n, d, &[0.0; 20], 1.0);
    let s = Samples::new("real", &x, n, d).unwrap();
    let pr = precision_recall(s, s, params(3, 64)).unwrap();
    assert_eq!((pr.precision, pr.recall, pr.k, pr.n_real, pr.n_generated), (1.0, 1.0, 3, n, n));
}

#[test]
fn far_apart_clusters_have_precision_and_recall_zero() {
    let d = 10;
    let real = gaussian(2, 300, d, &[0.0; 10], 1.0);
    let gen = gaussian(3, 200, d, &[50.0; 10], 1.0);
    let pr = precision_recall(
        Samples::new("real", &real, 300, d).unwrap(),
        Samples::new("generated", &gen, 200, d).unwrap(),
        PrecisionRecallParams::default(),
    )
    .unwrap();
    assert_eq!((pr.precision, pr.recall), (0.0, 0.0));
}

/// Four well-separated real modes of 100 points; the generated set is an exact copy of two of them. Every
/// generated point is a real point (precision 1); exactly the 200 real points of the copied modes lie in
/// the generated manifold (recall 200/400), since the other modes are 40 radii away.
#[test]
fn covering_half_the_modes_gives_recall_one_half_exactly() {
    let d = 8;
    let centres: [[f32; 8]; 4] =
        [[0.0; 8], [40.0; 8], [-40.0; 8], [40.0, -40.0, 40.0, -40.0, 40.0, -40.0, 40.0, -40.0]];
    let real: Vec<f32> =
        centres.iter().enumerate().flat_map(|(i, c)| gaussian(10 + i as u64, 100, d, c, 1.0)).collect();
    let gen: Vec<f32> = real[100 * d..300 * d].to_vec();
    let pr = precision_recall(
        Samples::new("real", &real, 400, d).unwrap(),
        Samples::new("generated", &gen, 200, d).unwrap(),
        params(3, 48),
    )
    .unwrap();
    assert_eq!((pr.precision, pr.recall), (1.0, 0.5));
}

#[test]
fn blocked_distances_match_a_double_loop() {
    let (n, m, d) = (300, 170, 50);
    let a = gaussian(4, n, d, &[3.0; 50], 1.0);
    let b = gaussian(5, m, d, &[2.0; 50], 2.0);
    let sa = Samples::new("a", &a, n, d).unwrap();
    let sb = Samples::new("b", &b, m, d).unwrap();
    for block in [1, 64, 1000] {
        let dist = pairwise_sq_distances(sa, sb, block).unwrap();
        assert_eq!(dist.len(), n * m);
        for i in 0..n {
            for j in 0..m {
                let exact = sq_dist64(&a[i * d..(i + 1) * d], &b[j * d..(j + 1) * d]);
                // Centred norms are ≲ 5·d here; the documented bound (d + 2)·u·(‖a‖² + ‖b‖²) with margin.
                let tol = (d as f64 + 2.0) * f32::EPSILON as f64 * 10.0 * d as f64;
                assert!((dist[i * m + j] as f64 - exact).abs() <= tol, "({i}, {j}): {} vs {exact}", dist[i * m + j]);
            }
        }
    }
    // The distance of a point to itself is exactly 0, never a rounding residue.
    let self_dist = pairwise_sq_distances(sa, sa, 64).unwrap();
    assert!((0..n).all(|i| self_dist[i * n + i] == 0.0));
}

#[test]
fn radii_and_counts_match_the_naive_definition() {
    let d = 6;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(6);
    for trial in 0..6 {
        let (n_real, n_gen) = (rng.random_range(20..150), rng.random_range(20..150));
        let k = 1 + trial % 4;
        let real = gaussian(20 + trial as u64, n_real, d, &[0.0; 6], 1.0);
        let shift = [0.3 * trial as f32; 6];
        let gen = gaussian(40 + trial as u64, n_gen, d, &shift, 0.5 + 0.2 * trial as f32);
        let rs = Samples::new("real", &real, n_real, d).unwrap();
        let gs = Samples::new("generated", &gen, n_gen, d).unwrap();
        let manifold = RealManifold::fit(rs, params(k, 16)).unwrap();
        for (i, &r) in manifold.radii().iter().enumerate() {
            let mut ds: Vec<f64> = (0..n_real)
                .filter(|&j| j != i)
                .map(|j| sq_dist64(&real[i * d..(i + 1) * d], &real[j * d..(j + 1) * d]))
                .collect();
            ds.sort_by(f64::total_cmp);
            assert!((r * r - ds[k - 1]).abs() < 1e-4 * ds[k - 1].max(1.0), "radius {i}");
        }
        let pr = manifold.evaluate(gs).unwrap();
        let (p, r) = naive(&real, &gen, d, k);
        assert_eq!((pr.precision, pr.recall), (p, r), "trial {trial}: n = {n_real}/{n_gen}, k = {k}");
    }
}

#[test]
fn precision_recall_is_identical_on_one_and_two_threads() {
    let (n, d) = (700, 30);
    let real = gaussian(7, n, d, &[0.0; 30], 1.0);
    let gen = gaussian(8, 650, d, &[0.2; 30], 0.8);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
            let m = RealManifold::fit(Samples::new("real", &real, n, d).unwrap(), params(3, 64)).unwrap();
            (m.radii(), m.evaluate(Samples::new("generated", &gen, 650, d).unwrap()).unwrap())
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0, two.0, "radii must not depend on the thread count");
    assert_eq!(one.1, two.1);
    assert!(one.1.precision > 0.0 && one.1.precision < 1.0 && one.1.recall > 0.0 && one.1.recall < 1.0);
}

#[test]
fn bad_input_is_an_error_naming_the_field() {
    let x = gaussian(9, 4, 3, &[0.0; 3], 1.0);
    let s = Samples::new("real", &x, 4, 3).unwrap();
    let err = precision_recall(s, s, params(4, 8)).unwrap_err().to_string();
    assert!(err.contains("real = 4 rows") && err.contains("at least 5"), "{err}");
    let err = precision_recall(s, s, params(0, 8)).unwrap_err().to_string();
    assert!(err.contains("k = 0"), "{err}");
    let err = precision_recall(s, s, params(1, 0)).unwrap_err().to_string();
    assert!(err.contains("block_rows = 0"), "{err}");
    let wide = Samples::new("generated", &x, 3, 4).unwrap();
    let err = precision_recall(s, wide, params(1, 8)).unwrap_err().to_string();
    assert!(err.contains("generated = 4 columns") && err.contains("3 (the real set's width)"), "{err}");
}
