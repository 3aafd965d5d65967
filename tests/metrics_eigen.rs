//! The symmetric eigendecomposition behind the metrics: reconstruction and orthonormality on the default
//! path, and (with `--features lapack`) agreement of the LAPACK and nalgebra paths.

use flowcollapse::metrics::{sym_eigen_with, sym_eigenvalues, EigenPath};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A random symmetric matrix with the given spectrum.
fn with_spectrum(seed: u64, spectrum: &[f64]) -> DMatrix<f64> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let d = spectrum.len();
    let q = DMatrix::from_fn(d, d, |_, _| rng.random_range(-1.0..1.0)).qr().q();
    let a = &q * DMatrix::from_diagonal(&DVector::from_column_slice(spectrum)) * q.transpose();
    (&a + a.transpose()) * 0.5
}

fn spectrum(d: usize) -> Vec<f64> {
    // Spread over six decades, one repeated pair and a zero: the shapes a pixel covariance has.
    let mut s: Vec<f64> = (0..d).map(|i| 10f64.powf(2.0 - 6.0 * i as f64 / d as f64)).collect();
    s[3] = s[2];
    s[d - 1] = 0.0;
    s
}

#[test]
fn nalgebra_path_rebuilds_the_matrix_with_sorted_orthonormal_eigenvectors() {
    let d = 60;
    let lambda = spectrum(d);
    let a = with_spectrum(1, &lambda);
    let eig = sym_eigen_with(EigenPath::Nalgebra, "A", &a).unwrap();
    assert!(eig.values.windows(2).all(|w| w[0] >= w[1]), "largest first");
    let mut want = lambda.clone();
    want.sort_by(|x, y| y.total_cmp(x));
    for (got, w) in eig.values.iter().zip(&want) {
        assert!((got - w).abs() < 1e-12 * want[0] * 100.0, "{got} vs {w}");
    }
    let v = &eig.vectors;
    assert!((v.transpose() * v - DMatrix::identity(d, d)).abs().max() < 1e-12);
    let rebuilt = v * DMatrix::from_diagonal(&DVector::from_vec(eig.values.clone())) * v.transpose();
    assert!((rebuilt - &a).abs().max() < 1e-12 * 100.0);
    assert_eq!(sym_eigenvalues("A", &a).unwrap().len(), d);

    let err = sym_eigen_with(EigenPath::Nalgebra, "A", &DMatrix::zeros(2, 3)).unwrap_err().to_string();
    assert!(err.contains("A = 2 × 3") && err.contains("square"), "{err}");
}

#[cfg(feature = "lapack")]
mod lapack {
    use super::*;
    use flowcollapse::metrics::FrechetReference;

    #[test]
    fn lapack_and_nalgebra_paths_agree() {
        for (seed, d) in [(2u64, 5usize), (3, 80), (4, 300)] {
            let a = with_spectrum(seed, &spectrum(d));
            let scale = a.abs().max();
            let n = sym_eigen_with(EigenPath::Nalgebra, "A", &a).unwrap();
            let l = sym_eigen_with(EigenPath::Lapack, "A", &a).unwrap();
            for (x, y) in n.values.iter().zip(&l.values) {
                assert!((x - y).abs() <= 1e-9 * scale, "d = {d}: {x} vs {y}");
            }
            // Eigenvectors of simple eigenvalues (2 and 3 are a repeated pair) agree up to sign: |⟨u, v⟩| = 1.
            for j in [0, 1, d - 2, d - 1].into_iter().filter(|&j| j != 2 && j != 3) {
                let dot = n.vectors.column(j).dot(&l.vectors.column(j)).abs();
                assert!((dot - 1.0).abs() < 1e-9, "d = {d}, vector {j}: |⟨u, v⟩| = {dot}");
            }
            let lv = &l.vectors;
            let rebuilt = lv * DMatrix::from_diagonal(&DVector::from_vec(l.values.clone())) * lv.transpose();
            assert!((rebuilt - &a).abs().max() < 1e-12 * scale * d as f64);

            let b = with_spectrum(seed + 100, &spectrum(d).iter().map(|x| 0.5 * x + 0.01).collect::<Vec<_>>());
            let (m1, m2) = (DVector::from_element(d, 0.1), DVector::from_element(d, -0.2));
            let fd =
                |path, a: &DMatrix<f64>| FrechetReference::with_path(path, &m1, a).unwrap().distance(&m2, &b).unwrap();
            // Full rank: the paths agree to rounding.
            let full = &a + DMatrix::identity(d, d) * 0.01;
            let (fd_n, fd_l) = (fd(EigenPath::Nalgebra, &full), fd(EigenPath::Lapack, &full));
            assert!((fd_n.value - fd_l.value).abs() <= 1e-9 * fd_n.value, "d = {d}: {fd_n:?} vs {fd_l:?}");
            // A singular: its zero eigenvalue comes out as ±ε‖A‖ on each path, and its square root differs by
            // up to √(ε‖A‖), the floor the frechet module documents: d·√(ε‖M‖) with ‖M‖ ≤ ‖A‖‖B‖.
            let (fd_n, fd_l) = (fd(EigenPath::Nalgebra, &a), fd(EigenPath::Lapack, &a));
            let floor = d as f64 * (f64::EPSILON * scale * b.abs().max() * d as f64).sqrt();
            assert!((fd_n.value - fd_l.value).abs() <= floor, "d = {d}: {fd_n:?} vs {fd_l:?} (floor {floor})");
        }
        assert_eq!(EigenPath::default(), EigenPath::Lapack);
    }
}
