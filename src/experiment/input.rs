//! Reading user files: a covariance matrix as CSV, a run configuration as TOML.

use super::ConfigError;
use nalgebra::DMatrix;
use serde::de::DeserializeOwned;
use std::path::Path;

/// A square matrix from CSV: one row per line, comma-separated numbers; blank lines and lines starting
/// with `#` are skipped.
pub fn read_matrix_csv(path: &Path) -> Result<DMatrix<f64>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    let csv_error = |line: usize, message: String| ConfigError::Csv { path: path.into(), line, message };
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let row = line
            .split(',')
            .enumerate()
            .map(|(col, cell)| {
                cell.trim().parse::<f64>().map_err(|_| {
                    csv_error(i + 1, format!("column {} is '{}', expected a number", col + 1, cell.trim()))
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        if let Some(first) = rows.first() {
            if row.len() != first.len() {
                return Err(csv_error(i + 1, format!("{} columns, but the first row has {}", row.len(), first.len())));
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(csv_error(0, "no rows: expected a square matrix of numbers".into()));
    }
    let cols = rows[0].len();
    if rows.len() != cols {
        return Err(csv_error(
            rows.len(),
            format!("{} rows × {cols} columns: a covariance must be square", rows.len()),
        ));
    }
    Ok(DMatrix::from_fn(cols, cols, |r, c| rows[r][c]))
}

/// A TOML file into `T`; unknown keys are rejected by `T`'s `deny_unknown_fields`.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Toml { path: path.into(), message: e.to_string().trim().to_string() })
}
