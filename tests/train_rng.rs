//! The counter-based fills: moments of 10⁶ draws within confidence bounds, and the same numbers in any
//! chunking and on any thread count.

use flowcollapse::train::{pairs, rng, Backend, CpuBackend};
use statrs::distribution::{ContinuousCDF, Normal};

const N: usize = 1_000_000;

/// Two-sided standard normal quantile for a false-alarm rate of 1e-6 per check (≈ 4.89).
fn z() -> f64 {
    Normal::standard().inverse_cdf(1.0 - 0.5e-6)
}

/// Sample mean and (1/n) variance in f64.
fn moments(x: &[f32]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var)
}

#[test]
fn normal_fill_has_mean_zero_and_variance_one() {
    let b = CpuBackend::new();
    let mut x = vec![0.0f32; N];
    b.fill_normal(7, 3, 0, &mut x).unwrap();
    let (mean, var) = moments(&x);
    let n = N as f64;
    // CLT bounds: sd of the mean 1/√n; sd of the sample variance √((μ4 − σ⁴)/n) = √(2/n) for a normal.
    assert!(mean.abs() < z() / n.sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < z() * (2.0 / n).sqrt(), "variance {var}");
    // Tails: P(|Z| > 3) = 0.0027; the count is binomial.
    let p = 2.0 * (1.0 - Normal::standard().cdf(3.0));
    let tail = x.iter().filter(|v| v.abs() > 3.0).count() as f64 / n;
    assert!((tail - p).abs() < z() * (p * (1.0 - p) / n).sqrt(), "tail {tail} vs {p}");
}

#[test]
fn uniform_fill_has_the_moments_of_u01() {
    let b = CpuBackend::new();
    let mut x = vec![0.0f32; N];
    b.fill_uniform(11, 5, 0, &mut x).unwrap();
    assert!(x.iter().all(|&v| v > 0.0 && v < 1.0), "open interval");
    let (mean, var) = moments(&x);
    let n = N as f64;
    // Var U = 1/12, μ4 = 1/80.
    assert!((mean - 0.5).abs() < z() * (1.0 / 12.0 / n).sqrt(), "mean {mean}");
    assert!((var - 1.0 / 12.0).abs() < z() * ((1.0 / 80.0 - 1.0 / 144.0) / n).sqrt(), "variance {var}");
}

#[test]
fn fills_are_the_same_in_chunks_of_any_size_and_on_any_thread_count() {
    let b = CpuBackend::new();
    let len = 20_011;
    let mut whole_n = vec![0.0f32; len];
    let mut whole_u = vec![0.0f32; len];
    b.fill_normal(1, 2, 0, &mut whole_n).unwrap();
    b.fill_uniform(1, 2, 0, &mut whole_u).unwrap();
    for chunk in [1, 2, 3, 7, 4096, 4097, 10_000] {
        let (mut cn, mut cu) = (vec![0.0f32; len], vec![0.0f32; len]);
        let mut first = 0;
        while first < len {
            let end = (first + chunk).min(len);
            b.fill_normal(1, 2, first as u64, &mut cn[first..end]).unwrap();
            b.fill_uniform(1, 2, first as u64, &mut cu[first..end]).unwrap();
            first = end;
        }
        assert_eq!(cn, whole_n, "normal, chunks of {chunk}");
        assert_eq!(cu, whole_u, "uniform, chunks of {chunk}");
    }
    // One value at a time through the pure functions, and on a 1-thread pool.
    let key = rng::stream_key(1, 2);
    for i in [0usize, 1, 2, 4095, 4096, 20_010] {
        assert_eq!(rng::normal_at(key, i as u64), whole_n[i]);
        assert_eq!(rng::uniform_at(key, i as u64), whole_u[i]);
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let mut single = vec![0.0f32; len];
    pool.install(|| b.fill_normal(1, 2, 0, &mut single).unwrap());
    assert_eq!(single, whole_n);
    // The host-side fill of the pair sources gives the backend's numbers.
    let mut host = vec![0.0f32; len];
    pairs::fill_normal(1, 2, &mut host);
    assert_eq!(host, whole_n);
    // Another stream or seed gives other numbers.
    let mut other = vec![0.0f32; len];
    b.fill_normal(1, 3, 0, &mut other).unwrap();
    assert!(other.iter().zip(&whole_n).filter(|(a, b)| a == b).count() < 10);
}
