//! The training state as a safetensors checkpoint, and back.
//!
//! Tensors are named `{group}.{tensor}` (`params`, `adam_m`, `adam_v`, `ema` × the MLP's tensors, e.g.
//! `ema.layers.0.weight`) with their true shapes, so `safetensors.torch.load_file` gives a PyTorch user the
//! weights directly. Metadata: `format`, `step`, `mlp.dim`, `mlp.hidden` (comma list), `mlp.embed`, and
//! whatever the caller adds (the run's resolved config, as JSON).

use super::model::{Mlp, MlpConfig};
use super::trainer::{TrainState, STATE_GROUPS};
use crate::checkpoint::{Checkpoint, CheckpointError, Tensor};

/// The `format` metadata value of a training checkpoint.
pub const FORMAT: &str = "flowcollapse-train-state-v1";

/// The checkpoint of `state` for the network `mlp`, with `extra` metadata after the standard keys.
pub fn to_checkpoint(state: &TrainState, mlp: &Mlp, extra: Vec<(String, String)>) -> Checkpoint {
    let shapes: Vec<(String, Vec<usize>)> = mlp.tensors().iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
    let tensors = state
        .tensors
        .iter()
        .map(|(name, data)| {
            let tensor = name.split_once('.').map(|(_, t)| t).unwrap_or(name);
            let shape = shapes.iter().find(|(n, _)| n == tensor).map(|(_, s)| s.clone()).unwrap_or(vec![data.len()]);
            Tensor::new(name.clone(), shape, data.clone())
        })
        .collect();
    let cfg = mlp.config();
    let hidden: Vec<String> = cfg.hidden.iter().map(usize::to_string).collect();
    let mut metadata = vec![
        ("format".to_string(), FORMAT.to_string()),
        ("step".to_string(), state.step.to_string()),
        ("mlp.dim".to_string(), cfg.dim.to_string()),
        ("mlp.hidden".to_string(), hidden.join(",")),
        ("mlp.embed".to_string(), cfg.embed.to_string()),
    ];
    metadata.extend(extra);
    Checkpoint { tensors, metadata }
}

/// The network shape a checkpoint was trained with.
pub fn mlp_config(checkpoint: &Checkpoint, file: &str) -> Result<MlpConfig, CheckpointError> {
    let format: String = checkpoint.meta("format", FORMAT, file)?;
    if format != FORMAT {
        return Err(CheckpointError::Metadata { file: file.into(), key: "format".into(), expected: FORMAT.into() });
    }
    let hidden: String = checkpoint.meta("mlp.hidden", "a comma list of widths", file)?;
    let hidden =
        if hidden.is_empty() {
            Vec::new()
        } else {
            hidden.split(',').map(str::parse).collect::<Result<Vec<usize>, _>>().map_err(|_| {
                CheckpointError::Metadata { file: file.into(), key: "mlp.hidden".into(), expected: "widths".into() }
            })?
        };
    Ok(MlpConfig {
        dim: checkpoint.meta("mlp.dim", "an integer", file)?,
        hidden,
        embed: checkpoint.meta("mlp.embed", "an integer", file)?,
    })
}

/// The training state stored in `checkpoint` for the network `mlp` (every group, shapes checked).
pub fn from_checkpoint(checkpoint: &Checkpoint, mlp: &Mlp, file: &str) -> Result<TrainState, CheckpointError> {
    let mut tensors = Vec::with_capacity(STATE_GROUPS.len() * mlp.tensors().len());
    for group in STATE_GROUPS {
        for t in mlp.tensors() {
            let name = format!("{group}.{}", t.name);
            tensors.push((name.clone(), finite(checkpoint.tensor(&name, &t.shape, file)?, file)?.data.clone()));
        }
    }
    Ok(TrainState { step: checkpoint.meta("step", "an integer", file)?, tensors })
}

/// One parameter group (e.g. `ema`) as the flat parameter vector of `mlp`.
///
/// Every tensor is found and checked before the vector is reserved: `mlp` may come from the checkpoint's
/// own metadata, which alone could claim a network of terabytes; the tensors' data is really in the file.
pub fn flat_group(checkpoint: &Checkpoint, mlp: &Mlp, group: &str, file: &str) -> Result<Vec<f32>, CheckpointError> {
    let found = mlp
        .tensors()
        .iter()
        .map(|t| Ok((t.range(), finite(checkpoint.tensor(&format!("{group}.{}", t.name), &t.shape, file)?, file)?)))
        .collect::<Result<Vec<_>, CheckpointError>>()?;
    let mut flat = vec![0.0f32; mlp.num_params()];
    for (range, tensor) in found {
        flat[range].copy_from_slice(&tensor.data);
    }
    Ok(flat)
}

/// `tensor`, or an error naming it if it holds NaN or ±inf (a model that would sample NaN).
fn finite<'a>(tensor: &'a Tensor, file: &str) -> Result<&'a Tensor, CheckpointError> {
    match tensor.data.iter().position(|x| !x.is_finite()) {
        None => Ok(tensor),
        Some(i) => Err(CheckpointError::Corrupt {
            file: file.into(),
            problem: format!("tensor {} holds a non-finite value ({}) at index {i}", tensor.name, tensor.data[i]),
        }),
    }
}
