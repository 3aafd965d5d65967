//! Checkpoints as safetensors files: named f32 tensors plus string metadata, readable by PyTorch users
//! (`safetensors.torch.load_file`) and written atomically.
//!
//! Layout (the safetensors format): an 8-byte little-endian header length H, H bytes of JSON
//! `{"__metadata__": {key: value, …}, name: {"dtype": "F32", "shape": […], "data_offsets": [begin, end]}, …}`
//! padded with spaces to a multiple of 8, then the tensors' little-endian bytes, back to back, in the
//! order given. Written by hand rather than through the `safetensors` crate so that the bytes are a pure
//! function of the checkpoint (its metadata map would be serialised in hash order), which is what makes
//! "same seed, same checkpoint bytes" testable.

use crate::report::atomic::write_atomic;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One named tensor, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        let tensor = Tensor { name: name.into(), shape, data };
        assert_eq!(tensor.shape.iter().product::<usize>(), tensor.data.len(), "tensor {}: shape and data", tensor.name);
        tensor
    }
}

/// Tensors in a fixed order, and metadata as ordered (key, value) pairs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub tensors: Vec<Tensor>,
    pub metadata: Vec<(String, String)>,
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("cannot read checkpoint {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write checkpoint {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint {file}: {problem}")]
    Corrupt { file: String, problem: String },
    #[error("checkpoint {file}: no tensor named {name}")]
    Missing { file: String, name: String },
    #[error("checkpoint {file}: tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape { file: String, name: String, found: Vec<usize>, expected: Vec<usize> },
    #[error("checkpoint {file}: metadata {key} is missing or not {expected}")]
    Metadata { file: String, key: String, expected: String },
}

impl Checkpoint {
    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = Map::new();
        let metadata: Map<String, Value> = self.metadata.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        header.insert("__metadata__".into(), Value::Object(metadata));
        let mut offset = 0usize;
        for t in &self.tensors {
            let end = offset + 4 * t.data.len();
            header.insert(t.name.clone(), json!({ "dtype": "F32", "shape": t.shape, "data_offsets": [offset, end] }));
            offset = end;
        }
        let mut text = serde_json::to_vec(&Value::Object(header)).expect("a JSON map serialises");
        text.resize(text.len().div_ceil(8) * 8, b' ');
        let mut bytes = Vec::with_capacity(8 + text.len() + offset);
        bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&text);
        for t in &self.tensors {
            bytes.extend(t.data.iter().flat_map(|v| v.to_le_bytes()));
        }
        bytes
    }

    /// Parse safetensors bytes (F32 tensors only); `file` names the source in errors.
    pub fn from_bytes(bytes: &[u8], file: &str) -> Result<Checkpoint, CheckpointError> {
        let corrupt = |problem: String| CheckpointError::Corrupt { file: file.to_string(), problem };
        if bytes.len() < 8 {
            return Err(corrupt(format!("{} bytes, shorter than the 8-byte header length", bytes.len())));
        }
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let body = &bytes[8..];
        if header_len > body.len() as u64 {
            return Err(corrupt(format!("header length {header_len} exceeds the {} bytes after it", body.len())));
        }
        let (header, data) = body.split_at(header_len as usize);
        let header: Map<String, Value> = match serde_json::from_slice(header) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(corrupt("the header is not a JSON object".into())),
            Err(e) => return Err(corrupt(format!("the header is not valid JSON: {e}"))),
        };
        let mut checkpoint = Checkpoint::default();
        let mut spans = Vec::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                let map = entry.as_object().ok_or_else(|| corrupt("__metadata__ is not an object".into()))?;
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| corrupt(format!("metadata {k} is not a string")))?;
                    checkpoint.metadata.push((k.clone(), v.to_string()));
                }
                continue;
            }
            let bad = |what: &str| corrupt(format!("tensor {name}: {what}"));
            if entry.get("dtype").and_then(Value::as_str) != Some("F32") {
                return Err(bad(&format!(
                    "dtype {}, only F32 is supported",
                    entry.get("dtype").unwrap_or(&Value::Null)
                )));
            }
            let shape: Vec<usize> = entry
                .get("shape")
                .and_then(Value::as_array)
                .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .ok_or_else(|| bad("shape is not a list of sizes"))?;
            let offsets: Vec<usize> = entry
                .get("data_offsets")
                .and_then(Value::as_array)
                .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .filter(|o: &Vec<usize>| o.len() == 2)
                .ok_or_else(|| bad("data_offsets is not [begin, end]"))?;
            let (begin, end) = (offsets[0], offsets[1]);
            let bytes_needed =
                shape.iter().try_fold(4usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad("shape overflows"))?;
            let count = bytes_needed / 4;
            if begin > end || end > data.len() || end - begin != bytes_needed {
                return Err(bad(&format!(
                    "data_offsets [{begin}, {end}] do not hold {count} f32 values inside {} data bytes",
                    data.len()
                )));
            }
            spans.push((begin, end));
            let values =
                data[begin..end].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4"))).collect();
            checkpoint.tensors.push(Tensor { name, shape, data: values });
        }
        // The format requires the tensors to tile the data section exactly.
        spans.sort_unstable();
        let mut next = 0;
        for (begin, end) in spans {
            if begin != next {
                return Err(corrupt(format!("tensor data overlaps or leaves a gap at byte {next}")));
            }
            next = end;
        }
        if next != data.len() {
            return Err(corrupt(format!("{} data bytes, but the tensors cover {next}", data.len())));
        }
        Ok(checkpoint)
    }

    /// Write to `path` atomically (temporary sibling, then rename).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        write_atomic(path, &self.to_bytes()).map_err(|source| CheckpointError::Write { path: path.into(), source })
    }

    pub fn load(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Read { path: path.into(), source })?;
        Checkpoint::from_bytes(&bytes, &path.display().to_string())
    }

    /// The tensor `name` with the expected shape.
    pub fn tensor(&self, name: &str, shape: &[usize], file: &str) -> Result<&Tensor, CheckpointError> {
        let t = self
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| CheckpointError::Missing { file: file.into(), name: name.into() })?;
        if t.shape != shape {
            return Err(CheckpointError::Shape {
                file: file.into(),
                name: name.into(),
                found: t.shape.clone(),
                expected: shape.to_vec(),
            });
        }
        Ok(t)
    }

    /// Metadata `key` parsed as `T` (`expected` describes T in the error).
    pub fn meta<T: std::str::FromStr>(&self, key: &str, expected: &str, file: &str) -> Result<T, CheckpointError> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| CheckpointError::Metadata { file: file.into(), key: key.into(), expected: expected.into() })
    }
}
