//! Sample moments (`metrics::moments`) against textbook loops, the covariance spectrum against the true one
//! within its sampling error, and thread-count independence.

use flowcollapse::metrics::{sym_eigen, Moments, Samples};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

fn samples_with_spectrum(seed: u64, n: usize, lambda: &[f64]) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .flat_map(|_| {
            lambda
                .iter()
                .map(|l| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    (l.sqrt() * z) as f32
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

#[test]
fn moments_match_the_textbook_loops() {
    // d = 70 covers several Gram row blocks (the last one partial) and n = 600 several centring blocks.
    let (n, d) = (600, 70);
    let x: Vec<f32> = (0..n * d).map(|i| ((i as f64 * 0.37).sin() * 3.0 + (i % d) as f64 * 0.1) as f32).collect();
    let m = Moments::from_samples(Samples::new("x", &x, n, d).unwrap()).unwrap();
    assert_eq!((m.n(), m.dim()), (n, d));
    let x = &x;
    let col = |j: usize| (0..n).map(move |i| x[i * d + j] as f64);
    for j in 0..d {
        let mean = col(j).sum::<f64>() / n as f64;
        let var = col(j).map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        assert!((m.mean()[j] - mean).abs() < 1e-12, "mean {j}");
        assert!((m.pixel_variance()[j] - var).abs() < 1e-12 * var.max(1.0), "variance {j}");
    }
    for a in 0..d {
        for b in 0..d {
            let (ma, mb) = (m.mean()[a], m.mean()[b]);
            let c =
                (0..n).map(|i| (x[i * d + a] as f64 - ma) * (x[i * d + b] as f64 - mb)).sum::<f64>() / (n - 1) as f64;
            assert!((m.covariance()[(a, b)] - c).abs() < 1e-11, "covariance ({a}, {b})");
        }
    }
    let total: f64 = m.pixel_variance().iter().sum();
    assert!((m.total_variance() - total).abs() < 1e-12 * total);
}

/// For Gaussian samples with distinct eigenvalues λ_i, the sample eigenvalue λ̂_i is asymptotically normal
/// with standard deviation `λ_i √(2/n)`, and `tr Σ̂` has standard deviation `√(2 Σ λ_i² / n)`. The bias is
/// `O(λ_i λ_j / (n (λ_i − λ_j)))`, far inside these bounds for a spread spectrum.
#[test]
fn spectrum_of_diagonal_gaussian_samples_is_within_sampling_error() {
    let lambda = [16.0, 8.0, 4.0, 2.0, 1.0, 0.5];
    let n = 20_000;
    let x = samples_with_spectrum(11, n, &lambda);
    let m = Moments::from_samples(Samples::new("x", &x, n, lambda.len()).unwrap()).unwrap();
    let spectrum = m.spectrum().unwrap();
    assert!(spectrum.windows(2).all(|w| w[0] >= w[1]), "largest first: {spectrum:?}");
    for (got, &l) in spectrum.iter().zip(&lambda) {
        let sd = l * (2.0 / n as f64).sqrt();
        assert!((got - l).abs() < 4.5 * sd, "eigenvalue {got} vs {l} (sd {sd})");
    }
    let tr: f64 = lambda.iter().sum();
    let sd = (2.0 * lambda.iter().map(|l| l * l).sum::<f64>() / n as f64).sqrt();
    assert!((m.total_variance() - tr).abs() < 4.5 * sd, "{} vs {tr}", m.total_variance());

    // Eigenvectors too: V diag(values) Vᵀ rebuilds Σ̂, Vᵀ V = I.
    let eig = sym_eigen("Σ̂", m.covariance()).unwrap();
    let rebuilt = &eig.vectors * DMatrix::from_diagonal(&eig.values.clone().into()) * eig.vectors.transpose();
    assert!((rebuilt - m.covariance()).abs().max() < 1e-12 * lambda[0]);
    assert!((eig.vectors.transpose() * &eig.vectors - DMatrix::identity(6, 6)).abs().max() < 1e-13);
}

#[test]
fn covariance_is_identical_on_one_and_two_threads() {
    let lambda: Vec<f64> = (0..90).map(|i| 1.0 + (i % 7) as f64).collect();
    let n = 1500;
    let x = samples_with_spectrum(12, n, &lambda);
    let run = |threads| {
        pool(threads).install(|| {
            let m = Moments::from_samples(Samples::new("x", &x, n, lambda.len()).unwrap()).unwrap();
            (m.mean().clone(), m.covariance().clone(), m.spectrum().unwrap())
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1, "covariance must not depend on the thread count");
    assert_eq!(one.2, two.2);
}

#[test]
fn too_few_samples_is_an_error() {
    let x = [1.0f32, 2.0, 3.0];
    let err = Moments::from_samples(Samples::new("generated", &x, 1, 3).unwrap()).unwrap_err().to_string();
    assert!(err.contains("generated = 1 rows") && err.contains("at least 2"), "{err}");
    let err = Moments::from_rows("features", &[1.0, 2.0, 3.0], 2, 2).unwrap_err().to_string();
    assert!(err.contains("features") && err.contains("3 values as 2 × 2"), "{err}");
}
