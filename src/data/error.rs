use super::Shape;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can be wrong with a dataset's files or parameters. `file` is the name the user
/// would look for (a path for files on disk, the file name for embedded or in-memory bytes).
#[derive(Debug, Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is {what}, not {expected}")]
    WrongKind { path: PathBuf, what: &'static str, expected: &'static str },
    #[error("{file}: not found (looked for {tried})")]
    Missing { file: String, tried: String },
    #[error("{file}: not a valid gzip stream: {source}")]
    Gzip {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: magic number is 0x{found:08x}, expected 0x{expected:08x} ({what})")]
    BadMagic { file: String, found: u32, expected: u32, what: &'static str },
    #[error("{file}: {len} bytes, shorter than the {needed}-byte IDX header")]
    ShortHeader { file: String, len: usize, needed: usize },
    #[error("{file}: header says {dims} = {expected} bytes, file has {actual} after the header")]
    PayloadLength { file: String, dims: String, expected: u128, actual: u64 },
    #[error("{file}: header dimension {index} is {value}; image sizes must be ≥ 1")]
    ZeroDimension { file: String, index: usize, value: u32 },
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels; they must agree")]
    CountMismatch { images: String, image_count: usize, labels: String, label_count: usize },
    #[error("{file}: length {len} bytes is not a positive multiple of the {record}-byte record")]
    RecordLength { file: String, len: usize, record: usize },
    #[error("{file}: record {record} has label {label}, allowed 0..={max}")]
    BadLabel { file: String, record: usize, label: u8, max: u8 },
    #[error("{what}: dataset is empty (n = 0); at least one sample is needed")]
    Empty { what: String },
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    #[error("{what} has shape {found}, expected {expected}")]
    ShapeMismatch { what: String, found: Shape, expected: Shape },
    #[error("{what}: image is {height}×{width}; 2× down-sampling needs even height and width")]
    OddSize { what: String, height: usize, width: usize },
    #[error("{what} has shape {found}; 2× down-sampling needs an image")]
    NotImage { what: String, found: Shape },
}

impl DataError {
    pub(crate) fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        DataError::Invalid(crate::invalid::Invalid::new(field, value, allowed))
    }
}

/// `path` as a directory of data files, or the error saying what it is instead.
pub(crate) fn expect_dir(path: &std::path::Path) -> Result<(), DataError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(DataError::WrongKind { path: path.into(), what: "a file", expected: "a directory of data files" }),
        Err(source) => Err(DataError::Read { path: path.into(), source }),
    }
}

/// Whether `path` is a file; a directory in its place is an error rather than "not found".
pub(crate) fn is_file(path: &std::path::Path) -> Result<bool, DataError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(DataError::WrongKind { path: path.into(), what: "a directory", expected: "a file" }),
        Ok(_) => Ok(true),
        Err(_) => Ok(false),
    }
}
