//! A checked, borrowed view of a sample matrix.

use super::{check_finite, MetricsError};

/// `n × d` samples, row-major `f32` (one sample per row), with the name errors will use ("real", …).
///
/// Construction checks the shape and that every entry is finite, once; the metrics then trust the view.
///
/// # Example
/// ```
/// use flowcollapse::metrics::{MetricsError, Samples};
/// let x = Samples::new("generated", &[0.0, 1.0, 2.0, 3.0], 2, 2).unwrap();
/// assert_eq!((x.rows(), x.cols(), x.row(1)), (2, 2, &[2.0f32, 3.0][..]));
/// assert!(Samples::new("generated", &[0.0, 1.0, 2.0], 2, 2).is_err()); // 3 values are not 2 × 2
/// let nan = Samples::new("generated", &[0.0, 1.0, f32::NAN, 3.0], 2, 2).unwrap_err();
/// assert!(matches!(nan, MetricsError::NonFinite { row: 1, col: 0, .. }));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    name: &'static str,
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> Samples<'a> {
    /// `data` holds `rows` samples of `cols` coordinates each; `name` labels the set in error messages.
    pub fn new(name: &'static str, data: &'a [f32], rows: usize, cols: usize) -> Result<Self, MetricsError> {
        if rows == 0 {
            return Err(MetricsError::invalid(name, "0 rows", "at least 1 sample"));
        }
        if cols == 0 {
            return Err(MetricsError::invalid(name, "0 columns", "at least 1 coordinate per sample"));
        }
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(MetricsError::invalid(
                name,
                format!("{} values", data.len()),
                format!("rows × cols = {rows} × {cols}"),
            ));
        }
        check_finite(name, data, cols)?;
        Ok(Samples { name, data, rows, cols })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Row-major values, `rows × cols`.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// Number of samples n.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Coordinates per sample d.
    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// An error unless this set has `cols` coordinates, like `other` (named in the message).
    pub(crate) fn require_cols(&self, cols: usize, other: &str) -> Result<(), MetricsError> {
        if self.cols == cols {
            Ok(())
        } else {
            Err(MetricsError::invalid(self.name, format!("{} columns", self.cols), format!("{cols} ({other}'s width)")))
        }
    }

    /// An error unless there are at least `min` samples (`why` says what needs them).
    pub(crate) fn require_rows(&self, min: usize, why: &str) -> Result<(), MetricsError> {
        if self.rows >= min {
            Ok(())
        } else {
            Err(MetricsError::invalid(self.name, format!("{} rows", self.rows), format!("at least {min} ({why})")))
        }
    }
}
