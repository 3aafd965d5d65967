//! CIFAR-10 binary batches: records of 1 label byte (0–9) followed by 3072 pixel bytes, the 32×32 red plane,
//! then green, then blue (already CHW, row-major inside each plane).
//!
//! Train is `data_batch_1.bin` … `data_batch_5.bin` in that order, test is `test_batch.bin`; all must be present.

use super::{normalise_byte, DataError, Dataset, Shape, Split};
use std::path::Path;

/// Bytes per image: 3 channels × 32 × 32.
pub const CIFAR_PIXELS: usize = 3 * 32 * 32;
/// Bytes per record: the label and the image.
pub const CIFAR_RECORD: usize = 1 + CIFAR_PIXELS;
/// Largest valid label.
pub const CIFAR_MAX_LABEL: u8 = 9;
/// The folder the official archive unpacks to, looked into when `dir` itself has no batches.
const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

/// The batch files of a split, in reading order.
pub fn cifar10_files(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// Read a split from `dir` (or from `dir/cifar-10-batches-bin` when `dir` holds none of the split's files).
pub fn read_cifar10(dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let files = cifar10_files(split);
    super::error::expect_dir(dir)?;
    let nested = dir.join(ARCHIVE_FOLDER);
    let base =
        if !dir.join(&files[0]).exists() && nested.join(&files[0]).exists() { nested } else { dir.to_path_buf() };
    let mut batches = Vec::with_capacity(files.len());
    for name in &files {
        let path = base.join(name);
        if !super::error::is_file(&path)? {
            return Err(DataError::Missing {
                file: name.clone(),
                tried: format!("{} ({} of the {split} split)", path.display(), files.join(", ")),
            });
        }
        let bytes = std::fs::read(&path).map_err(|source| DataError::Read { path: path.clone(), source })?;
        batches.push((path, bytes));
    }
    let named: Vec<(String, &[u8])> = batches.iter().map(|(p, b)| (p.display().to_string(), &b[..])).collect();
    let refs: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    cifar10_from_batches(&refs, format!("CIFAR-10 {split} from {}", base.display()))
}

/// Decode in-memory batches, each given with the file name errors should carry, concatenated in order.
pub fn cifar10_from_batches(batches: &[(&str, &[u8])], source: impl Into<String>) -> Result<Dataset, DataError> {
    let total: usize = batches.iter().map(|(_, b)| b.len() / CIFAR_RECORD).sum();
    let mut values = Vec::with_capacity(total * CIFAR_PIXELS);
    let mut labels = Vec::with_capacity(total);
    for &(file, bytes) in batches {
        if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD) {
            return Err(DataError::RecordLength { file: file.to_string(), len: bytes.len(), record: CIFAR_RECORD });
        }
        for (record, chunk) in bytes.chunks_exact(CIFAR_RECORD).enumerate() {
            let label = chunk[0];
            if label > CIFAR_MAX_LABEL {
                return Err(DataError::BadLabel { file: file.to_string(), record, label, max: CIFAR_MAX_LABEL });
            }
            labels.push(label);
            values.extend(chunk[1..].iter().map(|&b| normalise_byte(b)));
        }
    }
    Dataset::new(values, Shape::Image { channels: 3, height: 32, width: 32 }, Some(labels), source)
}
