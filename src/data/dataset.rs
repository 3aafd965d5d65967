use super::DataError;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// How the `dim` numbers of one row are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A flat vector (Gaussian theory data).
    Vector { dim: usize },
    /// An image, channel-major (CHW) inside the row: value (c, y, x) sits at `(c·height + y)·width + x`.
    Image { channels: usize, height: usize, width: usize },
}

impl Shape {
    /// Numbers per row.
    pub fn dim(&self) -> usize {
        match *self {
            Shape::Vector { dim } => dim,
            Shape::Image { channels, height, width } => channels * height * width,
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shape::Vector { dim } => write!(f, "vector of {dim}"),
            Shape::Image { channels, height, width } => write!(f, "{channels}×{height}×{width} image"),
        }
    }
}

/// Which half of a dataset's files to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    pub fn name(&self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Split {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            _ => Err(DataError::invalid("split", s, "train or test")),
        }
    }
}

/// n samples of dimension d as one row-major f32 buffer, with optional labels.
///
/// Image data is normalised to [-1, 1] by the readers (byte b ↦ b/127.5 − 1); Gaussian vector data is not
/// (see [`super::gaussian_vectors`]). Invariants, checked by [`Dataset::new`]: n ≥ 1, d ≥ 1,
/// `values.len() = n·d`, and one label per row when labels are present.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    values: Vec<f32>,
    shape: Shape,
    labels: Option<Vec<u8>>,
    source: String,
}

impl Dataset {
    /// Wrap a row-major buffer. `source` is a short description for run manifests.
    pub fn new(
        values: Vec<f32>,
        shape: Shape,
        labels: Option<Vec<u8>>,
        source: impl Into<String>,
    ) -> Result<Self, DataError> {
        let source = source.into();
        let dim = shape.dim();
        if dim == 0 {
            return Err(DataError::invalid("shape", shape, "every dimension ≥ 1"));
        }
        if values.is_empty() {
            return Err(DataError::Empty { what: source });
        }
        if !values.len().is_multiple_of(dim) {
            return Err(DataError::invalid(
                "values",
                format!("{} numbers", values.len()),
                format!("a multiple of {dim}"),
            ));
        }
        let n = values.len() / dim;
        if let Some(labels) = &labels {
            if labels.len() != n {
                return Err(DataError::invalid(
                    "labels",
                    format!("{} labels", labels.len()),
                    format!("{n}, one per row"),
                ));
            }
        }
        Ok(Self { values, shape, labels, source })
    }

    /// Number of rows n (always ≥ 1).
    pub fn len(&self) -> usize {
        self.values.len() / self.shape.dim()
    }

    /// Always false: a dataset holds at least one row. Present for the `len`/`is_empty` pair.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Numbers per row d.
    pub fn dim(&self) -> usize {
        self.shape.dim()
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Row i. Panics if i ≥ len() (an indexing bug, not user input).
    pub fn row(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.values[i * d..(i + 1) * d]
    }

    /// Rows `range` as one contiguous row-major slice (a mini-batch without copying).
    pub fn rows(&self, range: Range<usize>) -> &[f32] {
        let d = self.dim();
        &self.values[range.start * d..range.end * d]
    }

    /// All n·d values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    /// Where the data came from, for manifests.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// An error unless the rows have exactly `expected` shape (e.g. a trainer built for 1×28×28).
    pub fn expect_shape(&self, expected: Shape) -> Result<(), DataError> {
        if self.shape == expected {
            Ok(())
        } else {
            Err(DataError::ShapeMismatch { what: self.source.clone(), found: self.shape, expected })
        }
    }

    /// The values, labels and source, for callers that take ownership of the buffer.
    pub fn into_parts(self) -> (Vec<f32>, Shape, Option<Vec<u8>>, String) {
        (self.values, self.shape, self.labels, self.source)
    }
}
