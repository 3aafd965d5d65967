//! IDX files (MNIST, Fashion-MNIST): a big-endian header, then raw unsigned bytes.
//!
//! Header: magic `0x0000_08NN` (type 0x08 = unsigned byte, NN = number of dimensions), then NN big-endian
//! u32 sizes. Images are `0x0000_0803` (count × rows × cols), labels `0x0000_0801` (count). Either file may be
//! gzip'd; compression is recognised by the gzip magic bytes, not the name.
//!
//! The payload must be exactly as long as the header says. The check comes before any allocation the
//! header asks for: a plain file is compared with its length, a gzip stream is read no further than one
//! byte past the promised size, so a corrupt header cannot make the reader reserve absurd memory.

use super::{normalise_byte, DataError, Dataset, Shape, Split};
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Magic number of an IDX image file (unsigned bytes, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX label file (unsigned bytes, 1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A decoded IDX file: its sizes and exactly `Π dims` payload bytes.
struct Idx<'a> {
    dims: Vec<usize>,
    payload: Cow<'a, [u8]>,
}

/// The file stems of a split, as MNIST and Fashion-MNIST name them.
fn stems(split: Split) -> (&'static str, &'static str) {
    match split {
        Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
}

/// Read a split from a directory holding `train-images-idx3-ubyte`, `train-labels-idx1-ubyte` (train) or
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (test), each plain or with `.gz` appended
/// (the plain file wins when both exist). Labels are required.
pub fn read_idx(dir: &Path, split: Split) -> Result<Dataset, DataError> {
    let (images, labels) = stems(split);
    read_idx_files(&locate(dir, images)?, &locate(dir, labels)?)
}

/// Read an image file and its label file (each plain or gzip'd).
pub fn read_idx_files(images: &Path, labels: &Path) -> Result<Dataset, DataError> {
    let image_bytes = read(images)?;
    let label_bytes = read(labels)?;
    let source = format!("IDX {} + {}", images.display(), labels.display());
    idx_from_bytes(
        (&images.display().to_string(), &image_bytes),
        Some((&labels.display().to_string(), &label_bytes)),
        source,
    )
}

/// Decode in-memory IDX bytes, each given with the file name errors should carry.
/// Without labels the dataset is unlabelled.
pub fn idx_from_bytes(
    images: (&str, &[u8]),
    labels: Option<(&str, &[u8])>,
    source: impl Into<String>,
) -> Result<Dataset, DataError> {
    let (image_file, image_bytes) = images;
    let idx = decode(image_file, image_bytes, IMAGES_MAGIC, "IDX images")?;
    let (count, height, width) = (idx.dims[0], idx.dims[1], idx.dims[2]);
    let labels = match labels {
        None => None,
        Some((label_file, label_bytes)) => {
            let labels = decode(label_file, label_bytes, LABELS_MAGIC, "IDX labels")?.payload.into_owned();
            if labels.len() != count {
                return Err(DataError::CountMismatch {
                    images: image_file.to_string(),
                    image_count: count,
                    labels: label_file.to_string(),
                    label_count: labels.len(),
                });
            }
            Some(labels)
        }
    };
    let values = idx.payload.iter().map(|&b| normalise_byte(b)).collect();
    Dataset::new(values, Shape::Image { channels: 1, height, width }, labels, source)
}

/// `dir/stem`, else `dir/stem.gz`.
fn locate(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let plain = dir.join(stem);
    let gz = dir.join(format!("{stem}.gz"));
    super::error::expect_dir(dir)?;
    if super::error::is_file(&plain)? {
        Ok(plain)
    } else if super::error::is_file(&gz)? {
        Ok(gz)
    } else {
        Err(DataError::Missing { file: stem.to_string(), tried: format!("{} and {}", plain.display(), gz.display()) })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })
}

/// True when `bytes` start with the gzip magic 1f 8b (an IDX file starts with 00 00).
fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Check the header against `magic` and return the sizes and the payload, exactly as long as the header says.
fn decode<'a>(file: &str, bytes: &'a [u8], magic: u32, what: &'static str) -> Result<Idx<'a>, DataError> {
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 * (1 + ndims);
    if !is_gzip(bytes) {
        let dims = header(file, bytes, magic, what)?;
        let expected = payload_len(&dims);
        let actual = bytes.len() - header_len;
        if actual as u128 != expected {
            return Err(length_error(file, &dims, expected, actual as u64));
        }
        let dims = dims.iter().map(|&v| v as usize).collect();
        return Ok(Idx { dims, payload: Cow::Borrowed(&bytes[header_len..]) });
    }
    let gz_error = |source| DataError::Gzip { file: file.to_string(), source };
    let mut stream = MultiGzDecoder::new(bytes);
    let mut head = Vec::with_capacity(header_len);
    (&mut stream).take(header_len as u64).read_to_end(&mut head).map_err(gz_error)?;
    let dims = header(file, &head, magic, what)?;
    let expected = payload_len(&dims);
    // Read at most one byte past the promise; the buffer grows with the data actually there.
    let mut payload = Vec::new();
    let limit = u64::try_from(expected).unwrap_or(u64::MAX - 1).saturating_add(1);
    (&mut stream).take(limit).read_to_end(&mut payload).map_err(gz_error)?;
    if payload.len() as u128 != expected {
        let rest = io::copy(&mut stream, &mut io::sink()).map_err(gz_error)?;
        return Err(length_error(file, &dims, expected, payload.len() as u64 + rest));
    }
    let dims = dims.iter().map(|&v| v as usize).collect();
    Ok(Idx { dims, payload: Cow::Owned(payload) })
}

/// Magic number and sizes from the start of `bytes`.
fn header(file: &str, bytes: &[u8], magic: u32, what: &'static str) -> Result<Vec<u32>, DataError> {
    let ndims = (magic & 0xff) as usize;
    let needed = 4 * (1 + ndims);
    let word = |i: usize| bytes.get(4 * i..4 * i + 4).map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    let short = || DataError::ShortHeader { file: file.to_string(), len: bytes.len(), needed };
    let found = word(0).ok_or_else(short)?;
    if found != magic {
        return Err(DataError::BadMagic { file: file.to_string(), found, expected: magic, what });
    }
    let dims: Vec<u32> = (1..=ndims).map(word).collect::<Option<_>>().ok_or_else(short)?;
    if dims[0] == 0 {
        return Err(DataError::Empty { what: file.to_string() });
    }
    if let Some(index) = dims.iter().position(|&v| v == 0) {
        return Err(DataError::ZeroDimension { file: file.to_string(), index, value: 0 });
    }
    Ok(dims)
}

/// Π dims in u128: three u32 factors cannot overflow it.
fn payload_len(dims: &[u32]) -> u128 {
    dims.iter().map(|&v| v as u128).product()
}

fn length_error(file: &str, dims: &[u32], expected: u128, actual: u64) -> DataError {
    DataError::PayloadLength { file: file.to_string(), dims: dims_text(dims), expected, actual }
}

fn dims_text(dims: &[u32]) -> String {
    dims.iter().map(u32::to_string).collect::<Vec<_>>().join("×")
}
