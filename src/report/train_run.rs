//! A training run directory, written in place while training runs (it is a long job that checkpoints,
//! so it is not staged and renamed like the closed-form runs): every file is replaced atomically.
//!
//! - `manifest.json`: command, parameters, resolved config, data source, status (`running`, `complete`,
//!   `diverged`) and the file list; rewritten at every checkpoint and at the end.
//! - `checkpoint.safetensors`: the full training state (`train::persist`), every `checkpoint_every` steps
//!   and at the end; after a divergence it is the last good state.
//! - `records.csv` / `records.json`: one row per logged step.
//! - at the end: `loss.png`/`.svg` and, for image data, `samples.png` (EMA weights, K-step Euler).

use super::atomic::write_atomic;
use super::lock::{is_empty_but_lock, DirLock, LockError};
use super::plot::{render, Chart, Scale, Series};
use super::records::to_csv;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::experiment::train::{TrainObserver, TrainRecord};
use crate::train::{persist, Mlp, TrainError, TrainState};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const CHECKPOINT: &str = "checkpoint.safetensors";
pub const MANIFEST: &str = "manifest.json";
pub const RECORDS: &str = "records.json";

#[derive(Debug, Error)]
pub enum TrainRunError {
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Locked(#[from] LockError),
}

fn io(path: &Path, e: impl std::fmt::Display) -> TrainRunError {
    TrainRunError::Io { path: path.to_path_buf(), message: e.to_string() }
}

/// A run directory being trained into.
pub struct TrainRun {
    dir: PathBuf,
    mlp: Mlp,
    manifest: Value,
    records: Vec<TrainRecord>,
    /// Called for every logged step after it is recorded (progress bar, JSON lines).
    on_log: Box<dyn FnMut(&TrainRecord)>,
    /// This process's exclusive hold on the directory.
    _lock: DirLock,
}

impl TrainRun {
    /// Start a run in `dir` (must not exist, or be empty). `manifest` holds the command's parameters.
    pub fn create(
        dir: &Path,
        mlp: Mlp,
        mut manifest: Value,
        on_log: Box<dyn FnMut(&TrainRecord)>,
    ) -> Result<Self, TrainRunError> {
        // Lock first, so that a directory another process is filling is reported as such, then look inside.
        let lock = DirLock::acquire(dir)?;
        if !is_empty_but_lock(dir).map_err(|e| io(dir, e))? {
            return Err(io(dir, "exists and is not empty (use --resume to continue a run)"));
        }
        manifest["status"] = json!("running");
        let run = TrainRun { dir: dir.to_path_buf(), mlp, manifest, records: Vec::new(), on_log, _lock: lock };
        run.write_manifest()?;
        Ok(run)
    }

    /// Reopen the run in `dir`: its manifest, its checkpoint and the records up to the checkpoint's step.
    /// A run killed before its first checkpoint has none: it resumes from step 0 (`None`, no records).
    pub fn reopen(dir: &Path) -> Result<(Value, Option<Checkpoint>, Vec<TrainRecord>), TrainRunError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let manifest: Value = serde_json::from_slice(&text).map_err(|e| io(&path, e))?;
        let file = dir.join(CHECKPOINT);
        if !file.exists() {
            return Ok((manifest, None, Vec::new()));
        }
        let checkpoint = Checkpoint::load(&file)?;
        let step: u64 = checkpoint.meta("step", "an integer", CHECKPOINT)?;
        let path = dir.join(RECORDS);
        let records: Vec<TrainRecord> = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| io(&path, e))?,
            Err(_) => Vec::new(),
        };
        let mut manifest = manifest;
        // The checkpoint is the commit point: a kill right after it leaves the manifest one step behind.
        manifest["checkpoint_step"] = json!(step);
        Ok((manifest, Some(checkpoint), records.into_iter().filter(|r| r.step <= step).collect()))
    }

    /// Continue a reopened run.
    pub fn resume(
        dir: &Path,
        mlp: Mlp,
        mut manifest: Value,
        records: Vec<TrainRecord>,
        on_log: Box<dyn FnMut(&TrainRecord)>,
    ) -> Result<Self, TrainRunError> {
        let lock = DirLock::acquire(dir)?;
        manifest["status"] = json!("running");
        let run = TrainRun { dir: dir.to_path_buf(), mlp, manifest, records, on_log, _lock: lock };
        run.write_manifest()?;
        Ok(run)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn records(&self) -> &[TrainRecord] {
        &self.records
    }

    pub fn manifest_mut(&mut self) -> &mut Value {
        &mut self.manifest
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), TrainRunError> {
        let path = self.dir.join(name);
        write_atomic(&path, bytes).map_err(|e| io(&path, e))
    }

    fn write_manifest(&self) -> Result<(), TrainRunError> {
        let mut manifest = self.manifest.clone();
        manifest["crate"] = json!(env!("CARGO_PKG_NAME"));
        manifest["version"] = json!(env!("CARGO_PKG_VERSION"));
        let mut files: Vec<String> = std::fs::read_dir(&self.dir)
            .map_err(|e| io(&self.dir, e))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| !n.starts_with('.'))
            .collect();
        files.sort();
        manifest["files"] = json!(files);
        self.write(MANIFEST, &serde_json::to_vec_pretty(&manifest).expect("manifest serialises"))
    }

    fn write_records(&self) -> Result<(), TrainRunError> {
        self.write(RECORDS, &serde_json::to_vec_pretty(&self.records).expect("records serialise"))?;
        self.write("records.csv", to_csv(&self.records).as_bytes())
    }

    /// End the run: loss figure, records and the manifest with its final `status`.
    pub fn finish(
        &mut self,
        status: &str,
        extra: impl FnOnce(&Path) -> Result<(), TrainRunError>,
    ) -> Result<PathBuf, TrainRunError> {
        self.write_records()?;
        if !self.records.is_empty() {
            render(&loss_chart(&self.records), &self.dir.join("loss")).map_err(|e| io(&self.dir, e))?;
        }
        extra(&self.dir)?;
        self.manifest["status"] = json!(status);
        self.write_manifest()?;
        Ok(self.dir.clone())
    }
}

impl TrainObserver for TrainRun {
    type Error = TrainRunError;

    fn logged(&mut self, record: &TrainRecord) -> Result<(), TrainRunError> {
        self.records.push(record.clone());
        (self.on_log)(record);
        Ok(())
    }

    /// The checkpoint's rename is the commit point: records first (rows past the checkpoint's step are
    /// dropped on resume, so they are harmless), then the checkpoint, then the manifest (whose
    /// `checkpoint_step` a resume takes from the checkpoint itself). A kill between any two writes leaves a
    /// run that resumes to the same records and state.
    fn checkpoint(&mut self, state: &TrainState) -> Result<(), TrainRunError> {
        let config = self.manifest.get("resolved").map(|v| v.to_string()).unwrap_or_default();
        let checkpoint = persist::to_checkpoint(state, &self.mlp, vec![("config".into(), config)]);
        self.write_records()?;
        fault_point("records", state.step);
        checkpoint.save(&self.dir.join(CHECKPOINT))?;
        fault_point("checkpoint", state.step);
        self.manifest["checkpoint_step"] = json!(state.step);
        self.write_manifest()
    }
}

/// Crash-consistency testing: with `FLOWCOLLAPSE_ABORT_AFTER=WRITE:STEP` (WRITE `records` or
/// `checkpoint`) the process aborts right after that write of the checkpoint at STEP, as a SIGKILL would
/// leave it. Unset in normal use.
fn fault_point(write: &str, step: u64) {
    if let Ok(spec) = std::env::var("FLOWCOLLAPSE_ABORT_AFTER") {
        if spec == format!("{write}:{step}") {
            std::process::abort();
        }
    }
}

/// Training loss per logged step (mean over each logging window), log scale.
fn loss_chart(records: &[TrainRecord]) -> Chart {
    Chart {
        title: "Flow-matching training loss".into(),
        x_label: "optimiser step".into(),
        y_label: "loss (mean over the logging window)".into(),
        x_scale: Scale::Linear,
        y_scale: Scale::Log,
        series: vec![Series {
            label: "loss".into(),
            line: records.iter().map(|r| (r.step as f64, r.loss)).collect(),
            ..Series::default()
        }],
        caption: Some("MSE between v_θ(x_t, t) and x1 − x0, per pixel".into()),
    }
}
