//! The training loop's state and one step of it (the op sequence is listed in [`crate::train`]).

use super::backend::Backend;
use super::error::TrainError;
use super::model::Mlp;
use super::net::{self, Workspace};
use super::optim::TrainConfig;
use super::pairs::{DeviceDraw, PairSource};
use super::rng;
use super::sampler::Weights;

/// What one step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Flow-matching loss of the batch under the parameters before the update.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// Everything needed to resume training bit for bit, as named f32 tensors plus the step count.
///
/// Names are `{group}.{tensor}` with group `params`, `adam_m`, `adam_v` or `ema` and tensor one of
/// [`Mlp::tensors`] (e.g. `adam_v.layers.1.bias`); each entry is the flat row-major tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// Completed updates.
    pub step: u64,
    pub tensors: Vec<(String, Vec<f32>)>,
}

impl TrainState {
    /// The first tensor holding NaN or ±inf, with that value: such a state is never checkpointed (a
    /// resume from it would diverge again) and never loaded.
    pub fn non_finite(&self) -> Option<(&str, f32)> {
        self.tensors.iter().find_map(|(name, v)| v.iter().find(|x| !x.is_finite()).map(|&x| (name.as_str(), x)))
    }
}

/// The four parameter-shaped groups of the training state, in [`TrainState`] order.
pub const STATE_GROUPS: [&str; 4] = ["params", "adam_m", "adam_v", "ema"];

/// Flow-matching training of the velocity MLP on one backend.
pub struct Trainer<B: Backend> {
    backend: B,
    config: TrainConfig,
    mlp: Mlp,
    step: u64,
    params: B::Buf,
    grads: B::Buf,
    adam_m: B::Buf,
    adam_v: B::Buf,
    ema: B::Buf,
    ws: Workspace<B>,
    host_x0: Vec<f32>,
    host_x1: Vec<f32>,
    x0: B::Buf,
    x1: B::Buf,
    t: B::Buf,
    xt: B::Buf,
    u: B::Buf,
    dv: B::Buf,
    /// Slot 0: the batch's loss; slot 1: the squared gradient norm; slot 2: the zero field's loss `mean u²`.
    scalars: B::Scalars,
    /// Draw batches on the device from uploaded row sets when the source allows it (see
    /// [`PairSource::device_parts`]); off on the CPU, where `fill` is the same work without a copy.
    device_pairs: bool,
    /// Row sets uploaded for device draws, by set id: (id, x0 or data, x1).
    sets: Vec<(u64, B::Buf, Option<B::Buf>)>,
    /// Whether the EMA decay warms up from the first update (see [`super::OptimConfig::step_scalars`]).
    ema_warm_up: bool,
}

impl<B: Backend> Trainer<B> {
    /// Validate the config and initialise: parameters from [`Mlp::init`] with the config's seed, Adam
    /// moments zero, EMA equal to the parameters, step 0.
    pub fn new(backend: B, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        let mlp = Mlp::new(config.mlp.clone())?;
        let init = mlp.init(config.seed);
        let (n, rows, d) = (mlp.num_params(), config.batch, config.mlp.dim);
        Ok(Trainer {
            params: backend.upload(&init)?,
            ema: backend.upload(&init)?,
            grads: backend.zeros(n)?,
            adam_m: backend.zeros(n)?,
            adam_v: backend.zeros(n)?,
            ws: Workspace::new(&backend, &mlp, rows)?,
            host_x0: vec![0.0; rows * d],
            host_x1: vec![0.0; rows * d],
            x0: backend.zeros(rows * d)?,
            x1: backend.zeros(rows * d)?,
            t: backend.zeros(rows)?,
            xt: backend.zeros(rows * d)?,
            u: backend.zeros(rows * d)?,
            dv: backend.zeros(rows * d)?,
            scalars: backend.scalars(3)?,
            device_pairs: !backend.host_batches(),
            sets: Vec::new(),
            step: 0,
            ema_warm_up: true,
            backend,
            config,
            mlp,
        })
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The network's shape and parameter layout.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Completed updates.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// The flat parameter vector on the device (for samplers).
    pub fn params(&self) -> &B::Buf {
        &self.params
    }

    /// The flat EMA parameter vector on the device.
    pub fn ema(&self) -> &B::Buf {
        &self.ema
    }

    /// The EMA weights as a [`Flow`](super::sampler::Flow) (what pair sources that read the model being trained integrate).
    pub fn ema_flow(&self) -> Weights<'_, B> {
        Weights { backend: &self.backend, mlp: &self.mlp, params: &self.ema }
    }

    /// Turn the EMA decay's warm-up off (or on): a warm-started EMA begins at trained weights, which the
    /// warm-up would all but forget within the first updates. Not part of [`TrainState`]: whoever resumes
    /// a warm-started run sets it again.
    pub fn set_ema_warm_up(&mut self, on: bool) {
        self.ema_warm_up = on;
    }

    /// Warm start from `weights` (flat, [`Mlp::tensors`] layout): parameters and EMA both become `weights`,
    /// Adam's moments restart at zero and the step count at 0, so bias correction starts afresh; the EMA
    /// decays at δ from the first update (no warm-up), so it stays anchored at the trained weights while
    /// Adam's first, sign-like updates shake the raw parameters (reflow warm-starts model k from model
    /// k−1's EMA weights this way).
    pub fn warm_start(&mut self, weights: &[f32]) -> Result<(), TrainError> {
        self.ema_warm_up = false;
        let n = self.mlp.num_params();
        if weights.len() != n {
            return Err(TrainError::State(format!("{} weights for a network of {n} parameters", weights.len())));
        }
        let b = &self.backend;
        b.upload_into(weights, b.view_mut(&mut self.params))?;
        b.upload_into(weights, b.view_mut(&mut self.ema))?;
        b.fill(0.0, b.view_mut(&mut self.adam_m))?;
        b.fill(0.0, b.view_mut(&mut self.adam_v))?;
        self.step = 0;
        Ok(())
    }

    /// The gradient of the last step (before clipping), flat.
    pub fn grads(&self) -> &B::Buf {
        &self.grads
    }

    /// Loss and gradient of the batch of step `self.step_count()` under the current parameters, without
    /// updating anything but the gradient buffer. Returns the loss and the squared gradient norm.
    pub fn loss_and_grad(&mut self, source: &mut dyn PairSource) -> Result<(f64, f64), TrainError> {
        let d = self.config.mlp.dim;
        if source.dim() != d {
            return Err(TrainError::invalid("pair source dimension", source.dim(), format!("the model's {d}")));
        }
        let step = self.step;
        self.load_batch(source)?;
        let b = &self.backend;
        b.fill_uniform(self.config.seed, rng::stream(rng::Purpose::Time, step), 0, b.view_mut(&mut self.t))?;
        b.flow_pairs(
            d,
            b.view(&self.x0),
            b.view(&self.x1),
            b.view(&self.t),
            b.view_mut(&mut self.xt),
            b.view_mut(&mut self.u),
        )?;
        net::forward(b, &self.mlp, &self.params, &self.xt, &self.t, &mut self.ws)?;
        b.mse_loss(b.view(self.ws.output()), b.view(&self.u), b.view_mut(&mut self.dv), &mut self.scalars, 0)?;
        if self.config.optim.max_loss_ratio.is_some() {
            b.sum_squares(b.view(&self.u), &mut self.scalars, 2, false)?;
        }
        net::backward(b, &self.mlp, &self.params, &self.xt, &self.dv, &mut self.ws, &mut self.grads)?;
        // One pass over the flat gradient, then the step's only host round trip.
        b.sum_squares(b.view(&self.grads), &mut self.scalars, 1, false)?;
        let s = b.read_scalars(&self.scalars)?;
        let (loss, norm_sq, zero) = (s[0], s[1], s[2] / (self.config.batch * d) as f64);
        if !loss.is_finite() {
            return Err(TrainError::NonFinite { step, what: "loss", value: loss });
        }
        if let Some(ratio) = self.config.optim.max_loss_ratio {
            if loss > ratio * zero {
                return Err(TrainError::Exploding { step, loss, zero, ratio });
            }
        }
        Ok((loss, norm_sq))
    }

    /// Draw batches on the device (from row sets uploaded once) when the source allows it, or fill them on
    /// the host; both give the same numbers. The CPU backend fills on the host by default.
    pub fn set_device_pairs(&mut self, on: bool) {
        self.device_pairs = on;
    }

    /// The step's (x0, x1) into the device buffers.
    fn load_batch(&mut self, source: &mut dyn PairSource) -> Result<(), TrainError> {
        let (b, step, d) = (&self.backend, self.step, self.config.mlp.dim);
        let parts = if self.device_pairs { source.device_parts(self.config.batch) } else { None };
        let Some(parts) = parts else {
            source.fill(step, &mut self.host_x0, &mut self.host_x1);
            b.upload_into(&self.host_x0, b.view_mut(&mut self.x0))?;
            b.upload_into(&self.host_x1, b.view_mut(&mut self.x1))?;
            return Ok(());
        };
        // Keep only the sets this batch draws from; upload the new ones.
        let id_of = |draw: &DeviceDraw| match *draw {
            DeviceDraw::Independent { id, .. } | DeviceDraw::Coupled { id, .. } => id,
        };
        self.sets.retain(|(id, ..)| parts.iter().any(|p| id_of(&p.draw) == *id));
        for p in &parts {
            if self.sets.iter().any(|(id, ..)| *id == id_of(&p.draw)) {
                continue;
            }
            let set = match p.draw {
                DeviceDraw::Independent { id, data, .. } => (id, b.upload(data)?, None),
                DeviceDraw::Coupled { id, x0, x1, .. } => (id, b.upload(x0)?, Some(b.upload(x1)?)),
            };
            self.sets.push(set);
        }
        let rows_stream = rng::stream(rng::Purpose::PairRows, step);
        for p in &parts {
            let range = p.rows.start * d..p.rows.end * d;
            let (_, first, second) = self.sets.iter().find(|(id, ..)| *id == id_of(&p.draw)).expect("uploaded above");
            match (p.draw, second) {
                (DeviceDraw::Independent { seed, .. }, _) => {
                    let x1 = b.slice_mut(&mut self.x1, range.clone());
                    b.gather_rows(seed, rows_stream, d, b.view(first), x1)?;
                    let noise = rng::stream(rng::Purpose::PairNoise, step);
                    b.fill_normal(seed, noise, 0, b.slice_mut(&mut self.x0, range))?;
                }
                (DeviceDraw::Coupled { seed, .. }, Some(second)) => {
                    b.gather_rows(seed, rows_stream, d, b.view(first), b.slice_mut(&mut self.x0, range.clone()))?;
                    b.gather_rows(seed, rows_stream, d, b.view(second), b.slice_mut(&mut self.x1, range))?;
                }
                (DeviceDraw::Coupled { .. }, None) => unreachable!("coupled sets hold two tensors"),
            }
        }
        Ok(())
    }

    /// One training step: loss and gradient of the step's batch, then clip + Adam + EMA. On a non-finite
    /// loss or gradient nothing but the gradient buffer changes and the step count stays.
    pub fn step(&mut self, source: &mut dyn PairSource) -> Result<StepStats, TrainError> {
        let (loss, norm_sq) = self.loss_and_grad(source)?;
        let b = &self.backend;
        if !norm_sq.is_finite() {
            return Err(TrainError::NonFinite { step: self.step, what: "gradient norm²", value: norm_sq });
        }
        let mut scalars = self.config.optim.step_scalars(self.step + 1, norm_sq);
        if !self.ema_warm_up {
            scalars.ema_decay = self.config.optim.ema_decay;
        }
        b.adam_ema(
            &scalars,
            b.view_mut(&mut self.params),
            b.view(&self.grads),
            b.view_mut(&mut self.adam_m),
            b.view_mut(&mut self.adam_v),
            b.view_mut(&mut self.ema),
        )?;
        self.step += 1;
        Ok(StepStats { loss, grad_norm: norm_sq.sqrt() })
    }

    /// The full training state, copied to the host.
    pub fn state(&self) -> Result<TrainState, TrainError> {
        let b = &self.backend;
        let mut tensors = Vec::with_capacity(4 * self.mlp.tensors().len());
        for (group, buf) in STATE_GROUPS.iter().zip([&self.params, &self.adam_m, &self.adam_v, &self.ema]) {
            let flat = b.download(b.view(buf))?;
            for t in self.mlp.tensors() {
                tensors.push((format!("{group}.{}", t.name), flat[t.range()].to_vec()));
            }
        }
        Ok(TrainState { step: self.step, tensors })
    }

    /// Replace the training state. Every name of [`TrainState`] must be present once with its tensor's
    /// length; nothing changes on an error.
    pub fn set_state(&mut self, state: &TrainState) -> Result<(), TrainError> {
        let n = self.mlp.num_params();
        let mut flats = vec![vec![0.0f32; n]; STATE_GROUPS.len()];
        let mut seen = vec![false; STATE_GROUPS.len() * self.mlp.tensors().len()];
        for (name, values) in &state.tensors {
            let (group, tensor) = name.split_once('.').unwrap_or((name, ""));
            let g = STATE_GROUPS.iter().position(|&x| x == group);
            let t = self.mlp.tensors().iter().position(|x| x.name == tensor);
            let (Some(g), Some(t)) = (g, t) else {
                return Err(TrainError::State(format!("unknown tensor {name:?}")));
            };
            let info = &self.mlp.tensors()[t];
            if values.len() != info.len() {
                return Err(TrainError::State(format!(
                    "{name} has {} values, the model's {:?} needs {}",
                    values.len(),
                    info.shape,
                    info.len()
                )));
            }
            let slot = g * self.mlp.tensors().len() + t;
            if std::mem::replace(&mut seen[slot], true) {
                return Err(TrainError::State(format!("{name} appears twice")));
            }
            flats[g][info.range()].copy_from_slice(values);
        }
        if let Some(missing) = seen.iter().position(|&s| !s) {
            let (g, t) = (missing / self.mlp.tensors().len(), missing % self.mlp.tensors().len());
            return Err(TrainError::State(format!("missing {}.{}", STATE_GROUPS[g], self.mlp.tensors()[t].name)));
        }
        let b = &self.backend;
        for (flat, buf) in flats.iter().zip([&mut self.params, &mut self.adam_m, &mut self.adam_v, &mut self.ema]) {
            b.upload_into(flat, b.view_mut(buf))?;
        }
        self.step = state.step;
        Ok(())
    }
}
