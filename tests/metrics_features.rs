//! `FD-pixelPCA` (`metrics::features`): the fitted PCA against a naive covariance and its eigenvalues, and the
//! distance against projecting by hand and calling `frechet_distance`.

use flowcollapse::metrics::{frechet_distance, FeatureFrechet, FeatureKind, FeatureSpace, Moments, PixelPca, Samples};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// n samples of N(mean, Q diag(spectrum) Qᵀ) as f32 rows, with a random rotation Q fixed by `seed`.
fn gaussian_samples(seed: u64, n: usize, spectrum: &[f64], shift: f64) -> Vec<f32> {
    let d = spectrum.len();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let q = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let z = DVector::from_fn(d, |i, _| {
            let g: f64 = StandardNormal.sample(&mut rng);
            spectrum[i].sqrt() * g
        });
        out.extend((&q * z).iter().map(|&v| (v + shift) as f32));
    }
    out
}

/// Covariance by the textbook double loop in f64 (divisor n − 1).
fn naive_covariance(x: &[f32], n: usize, d: usize) -> (Vec<f64>, DMatrix<f64>) {
    let mean: Vec<f64> = (0..d).map(|j| (0..n).map(|i| x[i * d + j] as f64).sum::<f64>() / n as f64).collect();
    let cov = DMatrix::from_fn(d, d, |a, b| {
        (0..n).map(|i| (x[i * d + a] as f64 - mean[a]) * (x[i * d + b] as f64 - mean[b])).sum::<f64>() / (n - 1) as f64
    });
    (mean, cov)
}

const SPECTRUM: [f64; 12] = [9.0, 7.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05];

#[test]
fn pca_components_are_orthonormal_and_explain_the_top_eigenvalues() {
    let (n, d, k) = (3000, SPECTRUM.len(), 5);
    let x = gaussian_samples(7, n, &SPECTRUM, 0.5);
    let real = Samples::new("real", &x, n, d).unwrap();
    let pca = PixelPca::fit(real, k).unwrap();
    assert_eq!((pca.kind(), pca.input_dim(), pca.dim()), (FeatureKind::PixelPca, d, k));

    let w = pca.components();
    let gram = w.transpose() * &w;
    assert!((gram - DMatrix::identity(k, k)).abs().max() < 1e-12, "components must be orthonormal");

    let (mean, cov) = naive_covariance(&x, n, d);
    let mut eig: Vec<f64> = cov.symmetric_eigenvalues().iter().copied().collect();
    eig.sort_by(|a, b| b.total_cmp(a));
    for (got, want) in pca.explained_variance().iter().zip(&eig) {
        assert!((got - want).abs() < 1e-10 * want, "explained {got} vs eigenvalue {want}");
    }
    assert!((pca.total_variance() - cov.trace()).abs() < 1e-10 * cov.trace());
    for (a, b) in pca.mean().iter().zip(&mean) {
        assert!((a - b).abs() < 1e-12);
    }
    // Each component is an eigenvector of the naive covariance: Σ w = λ w.
    for j in 0..k {
        let col = w.column(j).into_owned();
        let residual = (&cov * &col - &col * pca.explained_variance()[j]).norm();
        assert!(residual < 1e-9 * eig[0], "component {j}: residual {residual}");
    }

    // The real features have covariance diag(λ_1 … λ_k) and mean 0.
    let features = pca.embed(real).unwrap();
    let m = Moments::from_rows("features", &features.data, n, k).unwrap();
    assert!(m.mean().amax() < 1e-10);
    let expected = DMatrix::from_diagonal(&DVector::from_column_slice(pca.explained_variance()));
    assert!((m.covariance() - expected).abs().max() < 1e-9 * eig[0], "feature covariance must be diagonal");
}

#[test]
fn fd_pixel_pca_equals_projecting_by_hand() {
    let (n, d, k) = (1500, SPECTRUM.len(), 4);
    let x = gaussian_samples(8, n, &SPECTRUM, 0.0);
    let spectrum_gen: Vec<f64> = SPECTRUM.iter().map(|l| 0.6 * l).collect();
    let y = gaussian_samples(9, n, &spectrum_gen, 0.3);
    let real = Samples::new("real", &x, n, d).unwrap();
    let generated = Samples::new("generated", &y, n, d).unwrap();

    let fd = FeatureFrechet::pixel_pca(real, k).unwrap();
    let record = fd.evaluate(generated).unwrap();
    assert_eq!(record.metric, "FD-pixelPCA");
    assert_eq!((record.feature_dim, record.n_reference, record.n_generated), (k, n, n));

    // By hand: features W ᵀ(x − μ) by loops, naive moments, then the Gaussian formula.
    let w = &fd.space().components();
    let mu = fd.space().mean();
    let project = |data: &[f32]| -> Vec<f32> {
        (0..n)
            .flat_map(|i| {
                (0..k).map(move |j| (0..d).map(|l| (data[i * d + l] as f64 - mu[l]) * w[(l, j)]).sum::<f64>() as f32)
            })
            .collect()
    };
    // (f32 features lose ~1e-7 relative; the comparison tolerance allows it.)
    let (fx, fy) = (project(&x), project(&y));
    let (mx, cx) = naive_covariance(&fx, n, k);
    let (my, cy) = naive_covariance(&fy, n, k);
    let expect = frechet_distance(&DVector::from_vec(mx), &cx, &DVector::from_vec(my), &cy).unwrap();
    assert!((record.value - expect.value).abs() < 1e-5 * expect.value, "{record:?} vs {expect:?}");
    assert!(record.value > 1.0, "the generated set differs: {record:?}");

    // The real set against itself is 0 to rounding.
    let same = fd.evaluate(real).unwrap();
    assert!(same.value < 1e-10 * SPECTRUM.iter().sum::<f64>(), "{same:?}");
}

#[test]
fn bad_pca_input_is_an_error_naming_the_field() {
    let x = gaussian_samples(1, 10, &[1.0, 2.0, 3.0], 0.0);
    let real = Samples::new("real", &x, 10, 3).unwrap();
    let err = PixelPca::fit(real, 0).unwrap_err().to_string();
    assert!(err.contains("PCA components k = 0") && err.contains("1 ..= 3"), "{err}");
    let err = PixelPca::fit(real, 4).unwrap_err().to_string();
    assert!(err.contains("k = 4"), "{err}");
    let pca = PixelPca::fit(real, 2).unwrap();
    let wide = vec![0.0f32; 8];
    let err = pca.embed(Samples::new("generated", &wide, 2, 4).unwrap()).unwrap_err().to_string();
    assert!(err.contains("generated") && err.contains("4 columns") && err.contains("3"), "{err}");
    assert_eq!(FeatureKind::Classifier.metric_name(), "FD-classifier");
    assert!(Samples::new("real", &x[..29], 10, 3).unwrap_err().to_string().contains("29 values"));
    let mut bad = x.clone();
    bad[7] = f32::INFINITY;
    let err = Samples::new("real", &bad, 10, 3).unwrap_err().to_string();
    assert!(err.contains("real: non-finite value inf at row 2, column 1"), "{err}");
}
