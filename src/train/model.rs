//! The velocity network's shape: an MLP on `[x ; γ(t)]`, its flat parameter layout and initialisation.
//!
//! Layer l maps `in_l → out_l` by `W_l` (out × in, row-major) and `b_l`; layer 0 reads `[x ; γ(t)]`
//! (`in_0 = d + E`), hidden layers apply SiLU, the last layer is linear with `out = d`. All parameters live
//! in one f32 vector, tensor after tensor in the order `layers.0.weight, layers.0.bias, layers.1.weight, …`
//! with no padding, so an optimiser update is one pass and a checkpoint is one slice per tensor.

use super::error::TrainError;
use super::rng;
use std::ops::Range;

/// Shape of the velocity MLP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MlpConfig {
    /// Data dimension d (input x and output v).
    pub dim: usize,
    /// Hidden layer widths, in order (may be empty: then v is affine in `[x ; γ(t)]`).
    pub hidden: Vec<usize>,
    /// Time embedding width E (even).
    pub embed: usize,
}

impl MlpConfig {
    /// Default embedding width.
    pub const DEFAULT_EMBED: usize = 16;
    /// Largest accepted width of any layer or of the embedding.
    pub const MAX_WIDTH: usize = 1 << 16;
    /// Most hidden layers accepted.
    pub const MAX_HIDDEN_LAYERS: usize = 64;

    /// A config with the default embedding width.
    pub fn new(dim: usize, hidden: Vec<usize>) -> Self {
        MlpConfig { dim, hidden, embed: Self::DEFAULT_EMBED }
    }

    /// Check every field against its allowed range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let width = format!("1..={}", Self::MAX_WIDTH);
        if !(1..=Self::MAX_WIDTH).contains(&self.dim) {
            return Err(TrainError::invalid("mlp.dim", self.dim, width));
        }
        if self.embed < 2 || self.embed > Self::MAX_WIDTH || !self.embed.is_multiple_of(2) {
            return Err(TrainError::invalid(
                "mlp.embed",
                self.embed,
                format!("an even number in 2..={}", Self::MAX_WIDTH),
            ));
        }
        if self.hidden.len() > Self::MAX_HIDDEN_LAYERS {
            return Err(TrainError::invalid(
                "mlp.hidden",
                format!("{} layers", self.hidden.len()),
                format!("at most {} layers", Self::MAX_HIDDEN_LAYERS),
            ));
        }
        if let Some(&h) = self.hidden.iter().find(|&&h| !(1..=Self::MAX_WIDTH).contains(&h)) {
            return Err(TrainError::invalid(
                "mlp.hidden",
                format!("{:?} (width {h})", self.hidden),
                format!("widths in {width}"),
            ));
        }
        Ok(())
    }

    /// `(in, out)` of every layer, input layer first.
    pub fn layer_dims(&self) -> Vec<(usize, usize)> {
        let mut dims = Vec::with_capacity(self.hidden.len() + 1);
        let mut input = self.dim + self.embed;
        for &h in self.hidden.iter().chain(std::iter::once(&self.dim)) {
            dims.push((input, h));
            input = h;
        }
        dims
    }
}

/// One tensor of the flat parameter vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// `layers.{l}.weight` or `layers.{l}.bias`.
    pub name: String,
    /// `[out, in]` for weights, `[out]` for biases.
    pub shape: Vec<usize>,
    /// First entry in the flat vector.
    pub offset: usize,
    /// Fan-in of the layer (used by the initialisation).
    pub fan_in: usize,
}

impl TensorInfo {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no entries (never, for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its range in the flat vector.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Weight and bias ranges of one layer in the flat vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerSlots {
    pub input: usize,
    pub output: usize,
    pub weight: Range<usize>,
    pub bias: Range<usize>,
}

/// The flat layout of a stack of dense layers `(in, out)`: `layers.{l}.weight` (out × in, row-major) then
/// `layers.{l}.bias`, tensor after tensor with no padding. Shared by the velocity MLP and the classifier
/// (`crate::classifier`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenseLayout {
    tensors: Vec<TensorInfo>,
    layers: Vec<LayerSlots>,
    len: usize,
}

impl DenseLayout {
    /// The layout of layers with these `(in, out)` widths, input layer first.
    pub fn new(dims: &[(usize, usize)]) -> DenseLayout {
        let (mut tensors, mut layers, mut offset) = (Vec::new(), Vec::new(), 0);
        for (l, &(input, output)) in dims.iter().enumerate() {
            let weight =
                TensorInfo { name: format!("layers.{l}.weight"), shape: vec![output, input], offset, fan_in: input };
            let bias = TensorInfo {
                name: format!("layers.{l}.bias"),
                shape: vec![output],
                offset: offset + input * output,
                fan_in: input,
            };
            offset = bias.range().end;
            layers.push(LayerSlots { input, output, weight: weight.range(), bias: bias.range() });
            tensors.push(weight);
            tensors.push(bias);
        }
        DenseLayout { tensors, layers, len: offset }
    }

    /// Every tensor, in layout order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// Weight and bias ranges per layer, input layer first.
    pub fn layers(&self) -> &[LayerSlots] {
        &self.layers
    }

    /// Total number of parameters (length of the flat vector).
    pub fn num_params(&self) -> usize {
        self.len
    }

    /// Deterministic initial parameters: every entry of a tensor with fan-in `n` uniform on `(−1/√n, 1/√n)`
    /// (weights and biases alike; the bound of PyTorch's default `Linear` initialisation). Tensor `i` draws
    /// from the stream `stream(i)`, so each network keeps its own streams.
    ///
    /// # Formula
    /// `θ_j = (2u − 1)/√n`, `u = open01(bits(stream_key(seed, stream(i)), j))`, in f64 and rounded to f32;
    /// j runs over the tensor in its `[out, in]` row-major order.
    pub fn init(&self, seed: u64, stream: impl Fn(usize) -> u64) -> Vec<f32> {
        let mut params = vec![0.0f32; self.len];
        for (index, tensor) in self.tensors.iter().enumerate() {
            let key = rng::stream_key(seed, stream(index));
            let bound = 1.0 / (tensor.fan_in as f64).sqrt();
            for (j, p) in params[tensor.range()].iter_mut().enumerate() {
                *p = ((2.0 * rng::open01(rng::bits(key, j as u64)) - 1.0) * bound) as f32;
            }
        }
        params
    }
}

/// A validated MLP shape with its flat parameter layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mlp {
    config: MlpConfig,
    layout: DenseLayout,
}

impl Mlp {
    /// Validate the config and lay the tensors out.
    pub fn new(config: MlpConfig) -> Result<Self, TrainError> {
        config.validate()?;
        let layout = DenseLayout::new(&config.layer_dims());
        Ok(Mlp { config, layout })
    }

    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// Every tensor, in layout order.
    pub fn tensors(&self) -> &[TensorInfo] {
        self.layout.tensors()
    }

    /// Weight and bias ranges per layer, input layer first.
    pub fn layers(&self) -> &[LayerSlots] {
        self.layout.layers()
    }

    /// Total number of parameters (length of the flat vector).
    pub fn num_params(&self) -> usize {
        self.layout.num_params()
    }

    /// Widest activation (for scratch buffers).
    pub fn max_width(&self) -> usize {
        self.layers().iter().map(|l| l.output).max().unwrap_or(0)
    }

    /// Deterministic initial parameters ([`DenseLayout::init`]), tensor i on the stream `(Init, i)`.
    pub fn init(&self, seed: u64) -> Vec<f32> {
        self.layout.init(seed, |index| rng::stream(rng::Purpose::Init, index as u64))
    }
}

/// Angular frequency `ω_i` of the time embedding (i = 0…E/2 − 1): geometric from 1 to 1000.
///
/// # Formula
/// `ω_i = 1000^{i/(E/2 − 1)}` (ω_0 = 1 for E = 2). The slowest feature sin(t) is nearly linear on [0, 1];
/// the fastest, sin(1000 t), has about 159 periods there, fine enough to tell the steps of a 100-step sampler apart.
pub fn embed_frequency(i: usize, width: usize) -> f64 {
    let half = width / 2;
    if half <= 1 {
        1.0
    } else {
        1000f64.powf(i as f64 / (half - 1) as f64)
    }
}

/// The time embedding γ(t) of width E, written into `out` (length E).
///
/// # Formula
/// `γ(t) = [sin(ω_0 t), …, sin(ω_{E/2−1} t), cos(ω_0 t), …, cos(ω_{E/2−1} t)]`, ω from [`embed_frequency`];
/// computed in f64 from the f32 t and rounded to f32.
pub fn time_embedding(t: f32, out: &mut [f32]) {
    let width = out.len();
    let half = width / 2;
    for i in 0..half {
        let phase = embed_frequency(i, width) * t as f64;
        out[i] = phase.sin() as f32;
        out[half + i] = phase.cos() as f32;
    }
}
