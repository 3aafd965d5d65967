//! The shipped classifiers: how they are made ([`fashion_mnist`]) and the files themselves
//! ([`Classifier::embedded`], `data/classifier/`).

use super::fit::{train, EpochRecord, TrainSettings};
use super::model::Classifier;
use super::{ClassifierConfig, ClassifierError};
use crate::data::{embedded_fashion_mnist, Dataset, Split};

/// Image sides (height = width) with a shipped classifier.
pub const EMBEDDED_SIZES: [usize; 2] = [28, 14];

const FASHION_MNIST_28: &[u8] = include_bytes!("../../data/classifier/fashion-mnist-28.safetensors");
const FASHION_MNIST_14: &[u8] = include_bytes!("../../data/classifier/fashion-mnist-14.safetensors");

/// The embedded Fashion-MNIST split at side `size` (28 as stored, 14 by [`Dataset::downsample2`]).
pub fn fashion_mnist_split(split: Split, size: usize) -> Result<Dataset, ClassifierError> {
    let data = embedded_fashion_mnist(split)?;
    match size {
        28 => Ok(data),
        14 => Ok(data.downsample2()?),
        _ => Err(ClassifierError::invalid("size", size, "28 or 14")),
    }
}

/// Train the default classifier on the embedded Fashion-MNIST training subset at side `size` (28 or 14)
/// and score it on the embedded test subset; with [`TrainSettings::default`] this reproduces the shipped
/// file of that size byte for byte.
pub fn fashion_mnist(
    size: usize,
    settings: &TrainSettings,
    on_epoch: impl FnMut(&EpochRecord),
) -> Result<Classifier, ClassifierError> {
    let train_data = fashion_mnist_split(Split::Train, size)?;
    let test_data = fashion_mnist_split(Split::Test, size)?;
    let mut classifier = train(&ClassifierConfig::new(train_data.shape()), settings, &train_data, on_epoch)?;
    let accuracy = classifier.accuracy(&test_data)?;
    classifier.set_test_score(test_data.source(), accuracy);
    Ok(classifier)
}

impl Classifier {
    /// The shipped classifier for Fashion-MNIST-like 1×`height`×`height` images (height 28 or 14), `None`
    /// for other sizes. Decoded from bytes inside the binary.
    pub fn embedded(height: usize) -> Option<Classifier> {
        let (bytes, name) = match height {
            28 => (FASHION_MNIST_28, "data/classifier/fashion-mnist-28.safetensors"),
            14 => (FASHION_MNIST_14, "data/classifier/fashion-mnist-14.safetensors"),
            _ => return None,
        };
        Some(embedded_bytes_to_classifier(bytes, name))
    }

    /// The bytes of the shipped file for side `height` (28 or 14).
    pub fn embedded_bytes(height: usize) -> Option<&'static [u8]> {
        match height {
            28 => Some(FASHION_MNIST_28),
            14 => Some(FASHION_MNIST_14),
            _ => None,
        }
    }
}

fn embedded_bytes_to_classifier(bytes: &[u8], name: &str) -> Classifier {
    // The files are part of the crate and checked by its tests; failing to read one is a build defect.
    let checkpoint = crate::checkpoint::Checkpoint::from_bytes(bytes, name).expect("shipped classifier parses");
    Classifier::from_checkpoint(&checkpoint, name).expect("shipped classifier is valid")
}
