//! Reading user files: a covariance matrix as CSV, a run configuration as TOML.

use super::ConfigError;
use crate::theory::{Covariance, RealPool, Strategy};
use nalgebra::DMatrix;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use toml::{Table, Value as TomlValue};

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

/// A command's parameters: one struct whose fields are the flags and the TOML keys, every one optional
/// (absent means the default).
pub trait Params: Serialize + DeserializeOwned + Default {
    /// `self` with every field that `over` sets replaced (command line over config file); nested tables
    /// (reflow's `[train]`) merge field by field. The merge goes through TOML values, the config files' own
    /// model (NaN and infinities included, so that validation still sees them); the one thing TOML cannot
    /// hold, an integer above 2⁶³ − 1, is refused.
    fn overridden_by(self, over: Self) -> Result<Self, ConfigError> {
        fn merge(base: &mut Table, over: Table) {
            for (key, value) in over {
                match (base.get_mut(&key), value) {
                    (Some(TomlValue::Table(slot)), TomlValue::Table(value)) => merge(slot, value),
                    (_, value) => {
                        base.insert(key, value);
                    }
                }
            }
        }
        let table = |p: Self| {
            Table::try_from(&p).map_err(|_| {
                // Find the integer TOML cannot hold, to name it (JSON holds any u64).
                let json = serde_json::to_value(&p).expect("parameters serialise");
                match too_large(&json, "") {
                    // Leaked once, on the way to exit code 2: error fields are static names.
                    Some((field, value)) => ConfigError::invalid(Box::leak(field.into_boxed_str()), value, TOO_LARGE),
                    None => ConfigError::invalid("parameters", "a value TOML cannot hold", TOO_LARGE),
                }
            })
        };
        let mut merged = table(self)?;
        merge(&mut merged, table(over)?);
        Ok(merged.try_into().expect("two valid parameter sets merge into a valid one"))
    }
}

const TOO_LARGE: &str = "whole numbers up to 9223372036854775807 (what a TOML config file can hold)";

/// The first integer above 2⁶³ − 1 in `value`, with its dotted key.
fn too_large(value: &serde_json::Value, at: &str) -> Option<(String, u64)> {
    match value {
        serde_json::Value::Object(map) => {
            map.iter().find_map(|(k, v)| too_large(v, &if at.is_empty() { k.clone() } else { format!("{at}.{k}") }))
        }
        serde_json::Value::Number(n) => n.as_u64().filter(|&u| u > i64::MAX as u64).map(|u| (at.replace('_', "-"), u)),
        _ => None,
    }
}

/// A TOML file into `T`; unknown keys are rejected by `T`'s `deny_unknown_fields`.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::Toml { path: path.into(), message: e.to_string().trim().to_string() })
}

/// The real covariance from `--spectrum` or `--cov` (at most one of them), else `default` as a spectrum.
pub fn covariance(spectrum: Option<&[f64]>, cov: Option<&Path>, default: &[f64]) -> Result<Covariance, ConfigError> {
    match (spectrum, cov) {
        (Some(_), Some(path)) => {
            Err(ConfigError::invalid("cov", path.display(), "only one of --spectrum and --cov (both were given)"))
        }
        (Some(spectrum), None) => {
            super::memory::check_spectrum(spectrum.len())?;
            Covariance::from_spectrum(spectrum).map_err(|source| ConfigError::Covariance { field: "spectrum", source })
        }
        (None, Some(path)) => Covariance::from_matrix(&read_matrix_csv(path)?)
            .map_err(|source| ConfigError::Covariance { field: "cov", source }),
        (None, None) => {
            Covariance::from_spectrum(default).map_err(|source| ConfigError::Covariance { field: "spectrum", source })
        }
    }
}

/// A number or a list of numbers (`s = 0.1` and `s = [0.1, 0.2]` both read); JSON `null` reads as absent
/// (manifests record unset parameters that way).
pub(crate) fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<f64>>, D::Error> {
    struct Numbers;
    impl<'de> serde::de::Visitor<'de> for Numbers {
        type Value = Option<Vec<f64>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or a list of numbers")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(vec![v]))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(vec![v as f64]))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(vec![v as f64]))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut values = Vec::new();
            while let Some(v) = seq.next_element::<f64>()? {
                values.push(v);
            }
            Ok(Some(values))
        }
    }
    deserializer.deserialize_any(Numbers)
}

/// The strategies of a sweep from `--strategy`, `--alpha` (a list sweeps) and `--fresh-real`. `--alpha`
/// without `--strategy` means mix; mix without `--alpha` uses `default_alpha`.
pub fn strategies(
    strategy: Option<&str>,
    alphas: Option<&[f64]>,
    fresh_real: bool,
    default_alpha: f64,
) -> Result<Vec<Strategy>, ConfigError> {
    if let Some(alphas) = alphas {
        non_empty("alpha", alphas)?;
        if let Some(&bad) = alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(ConfigError::invalid("alpha", bad, "values in [0, 1]"));
        }
    }
    let name = strategy.unwrap_or(if alphas.is_some() { "mix" } else { "replace" });
    let pool = if fresh_real { RealPool::Fresh } else { RealPool::Fixed };
    let only_with_mix = format!("only with --strategy mix (the strategy is {name})");
    match name {
        "replace" | "accumulate" => {
            if let Some(alphas) = alphas {
                let list: Vec<String> = alphas.iter().map(f64::to_string).collect();
                return Err(ConfigError::invalid("alpha", list.join(","), only_with_mix));
            }
            if fresh_real {
                return Err(ConfigError::invalid("fresh-real", true, only_with_mix));
            }
            Ok(vec![if name == "replace" { Strategy::Replace } else { Strategy::Accumulate }])
        }
        "mix" => Ok(alphas.unwrap_or(&[default_alpha]).iter().map(|&alpha| Strategy::Mix { alpha, pool }).collect()),
        other => Err(ConfigError::invalid("strategy", other, "replace, mix or accumulate")),
    }
}

/// A list flag must hold at least one value.
pub(crate) fn non_empty(field: &'static str, values: &[f64]) -> Result<(), ConfigError> {
    if values.is_empty() {
        return Err(ConfigError::invalid(field, "an empty list", "at least one value"));
    }
    Ok(())
}
