use super::backend::BackendError;
use thiserror::Error;

/// What can go wrong in training: bad settings or state (the user's to fix) and a diverged loss.
#[derive(Debug, Error, PartialEq)]
pub enum TrainError {
    #[error(transparent)]
    Invalid(#[from] crate::invalid::Invalid),
    #[error("training state: {0}")]
    State(String),
    #[error("step {step}: non-finite {what} ({value}); parameters left unchanged")]
    NonFinite { step: u64, what: &'static str, value: f64 },
    #[error(
        "step {step}: loss {loss:.4e} exceeds {ratio} times the zero field's loss {zero:.4e} on this batch \
         (the divergence guard, --max-loss-ratio); parameters left unchanged"
    )]
    Exploding { step: u64, loss: f64, zero: f64, ratio: f64 },
    #[error("step {step}: tensor {tensor} holds a non-finite value ({value}); it was not checkpointed")]
    NonFiniteState { step: u64, tensor: String, value: f32 },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl TrainError {
    pub(crate) fn invalid(field: &'static str, value: impl ToString, allowed: impl ToString) -> Self {
        TrainError::Invalid(crate::invalid::Invalid::new(field, value, allowed))
    }
}
