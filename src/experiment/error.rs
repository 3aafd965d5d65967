use crate::theory::CovarianceError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can be wrong with a run's input. All of these are the user's to fix (exit code 2).
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    #[error("{field}: {source}")]
    Covariance {
        field: &'static str,
        #[source]
        source: CovarianceError,
    },
    #[error("{path}, line {line}: {message}")]
    Csv { path: PathBuf, line: usize, message: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Toml { path: PathBuf, message: String },
}

impl ConfigError {
    pub fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        ConfigError::Invalid(crate::invalid::Invalid::new(field, value, allowed))
    }
}
