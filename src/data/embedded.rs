//! The default dataset compiled into the crate: a Fashion-MNIST subset (data/fashion-mnist/README.md).

use super::{idx_from_bytes, DataError, Dataset, Split};

const TRAIN_IMAGES: &[u8] = include_bytes!("../../data/fashion-mnist/train-images-idx3-ubyte.gz");
const TRAIN_LABELS: &[u8] = include_bytes!("../../data/fashion-mnist/train-labels-idx1-ubyte.gz");
const TEST_IMAGES: &[u8] = include_bytes!("../../data/fashion-mnist/t10k-images-idx3-ubyte.gz");
const TEST_LABELS: &[u8] = include_bytes!("../../data/fashion-mnist/t10k-labels-idx1-ubyte.gz");

/// Rows in the embedded train and test splits.
pub const EMBEDDED_TRAIN_LEN: usize = 10_000;
pub const EMBEDDED_TEST_LEN: usize = 2_000;

/// Fashion-MNIST's class names, indexed by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// The first 10 000 training or 2 000 test images of Fashion-MNIST (1×28×28, values in [-1, 1], labels 0–9),
/// decoded from bytes inside the binary: no file I/O.
pub fn embedded_fashion_mnist(split: Split) -> Result<Dataset, DataError> {
    let (images, labels, kept, of) = match split {
        Split::Train => (
            ("train-images-idx3-ubyte.gz", TRAIN_IMAGES),
            ("train-labels-idx1-ubyte.gz", TRAIN_LABELS),
            EMBEDDED_TRAIN_LEN,
            60_000,
        ),
        Split::Test => (
            ("t10k-images-idx3-ubyte.gz", TEST_IMAGES),
            ("t10k-labels-idx1-ubyte.gz", TEST_LABELS),
            EMBEDDED_TEST_LEN,
            10_000,
        ),
    };
    let source = format!("embedded Fashion-MNIST {split} subset (first {kept} of {of})");
    idx_from_bytes(images, Some(labels), source)
}
