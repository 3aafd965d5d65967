//! Datasets for the trainer and the theory checks: n rows of dimension d, f32, row-major.
//!
//! - [`Dataset`]: the buffer, its [`Shape`] (vector or CHW image), optional labels, a source description.
//! - Readers: [`read_idx`] (MNIST, Fashion-MNIST), [`read_cifar10`] (CIFAR-10 binary), and the embedded
//!   default [`embedded_fashion_mnist`]. Image bytes are normalised to [-1, 1] by [`normalise_byte`].
//! - [`gaussian_vectors`]: N(m, Σ) draws, not normalised (they are the closed forms' data).
//! - [`Dataset::downsample2`]: 2×2 mean pooling.

mod cifar;
mod dataset;
mod downsample;
mod embedded;
mod error;
mod gaussian;
mod idx;

pub use cifar::{cifar10_files, cifar10_from_batches, read_cifar10, CIFAR_MAX_LABEL, CIFAR_PIXELS, CIFAR_RECORD};
pub use dataset::{Dataset, Shape, Split};
pub use embedded::{embedded_fashion_mnist, EMBEDDED_TEST_LEN, EMBEDDED_TRAIN_LEN, FASHION_MNIST_CLASSES};
pub use error::DataError;
pub use gaussian::gaussian_vectors;
pub use idx::{idx_from_bytes, read_idx, read_idx_files, IMAGES_MAGIC, LABELS_MAGIC};

/// A pixel byte mapped to [-1, 1].
///
/// # Formula
/// `b ↦ b / 127.5 − 1`, evaluated as `(b − 127.5) / 127.5` in f32: the subtraction is exact, so the result
/// is the correctly rounded value, 0 ↦ −1 and 255 ↦ 1 exactly, and b and 255 − b map to opposite numbers.
pub fn normalise_byte(b: u8) -> f32 {
    (f32::from(b) - 127.5) / 127.5
}

#[cfg(test)]
mod tests {
    use super::normalise_byte;

    #[test]
    fn normalisation_is_symmetric_and_hits_the_ends() {
        assert_eq!((normalise_byte(0), normalise_byte(255)), (-1.0, 1.0));
        for b in 0..=255u8 {
            assert_eq!(normalise_byte(b), -normalise_byte(255 - b));
            if b > 0 {
                assert!(normalise_byte(b) > normalise_byte(b - 1));
            }
        }
    }
}
