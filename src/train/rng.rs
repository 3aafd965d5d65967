//! Counter-based random numbers: value `i` of a fill is a pure function of `(seed, stream, i)`.
//!
//! No generator state is carried between values, so a fill can be split into chunks, spread over threads,
//! or run as one GPU thread per value, and every split gives the very same numbers. The hash is SplitMix64's
//! output function (Steele, Lea and Flood 2014) applied to a counter, with the key mixed from the seed and
//! the stream; Gaussians come from Box–Muller on two consecutive counters. All arithmetic that turns bits
//! into floats is done in f64 and rounded once to f32, which a CUDA kernel can repeat exactly for the
//! integer part and to within one rounding for the transcendental part.

/// The SplitMix64 increment (2⁶⁴ / φ, odd).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a bijective 64-bit mixer.
///
/// # Formula
/// `z ← (z ⊕ (z ≫ 30))·0xBF58476D1CE4E5B9; z ← (z ⊕ (z ≫ 27))·0x94D049BB133111EB; z ⊕ (z ≫ 31)` (mod 2⁶⁴).
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one stream: every `(seed, stream)` pair gets its own SplitMix64 sequence.
///
/// # Formula
/// `key = mix64(seed ⊕ mix64(stream + φ))`, φ = 0x9E3779B97F4A7C15.
#[inline]
pub fn stream_key(seed: u64, stream: u64) -> u64 {
    mix64(seed ^ mix64(stream.wrapping_add(GOLDEN)))
}

/// 64 random bits: counter `i` of the stream with key `key`.
///
/// # Formula
/// `bits(i) = mix64(key + (i + 1)·φ)`: SplitMix64's (i + 1)-th output from state `key`.
#[inline]
pub fn bits(key: u64, i: u64) -> u64 {
    mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GOLDEN)))
}

/// A uniform number in the open interval (0, 1) with 53 random bits.
///
/// # Formula
/// `u = (⌊bits / 2¹¹⌋ + ½) · 2⁻⁵³`.
#[inline]
pub fn open01(b: u64) -> f64 {
    ((b >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// Value `i` of the uniform fill of `(seed, stream)`: U(0, 1), never exactly 0 or 1 before rounding.
///
/// # Formula
/// `open01(bits(key, i))` rounded to f32 (rounding can reach 1.0 only within 2⁻²⁵ of it).
#[inline]
pub fn uniform_at(key: u64, i: u64) -> f32 {
    open01(bits(key, i)) as f32
}

/// Value `i` of the standard normal fill of `(seed, stream)`, by Box–Muller on counters `2⌊i/2⌋`, `2⌊i/2⌋+1`.
///
/// # Formula
/// `r = √(−2 ln u₁)`, `θ = 2π u₂`, `z = r cos θ` for even i and `r sin θ` for odd i, with
/// `u₁ = open01(bits(2⌊i/2⌋))`, `u₂ = open01(bits(2⌊i/2⌋ + 1))`; computed in f64, rounded to f32.
#[inline]
pub fn normal_at(key: u64, i: u64) -> f32 {
    let (even, odd) = normal_pair(key, i & !1);
    if i & 1 == 0 {
        even
    } else {
        odd
    }
}

/// Values `first` and `first + 1` of the normal fill for an even `first` (one Box–Muller transform).
///
/// # Formula
/// As [`normal_at`]: `(r cos θ, r sin θ)` from counters `first`, `first + 1`.
#[inline]
pub fn normal_pair(key: u64, first: u64) -> (f32, f32) {
    debug_assert!(first.is_multiple_of(2), "Box–Muller pairs start at even counters");
    let u1 = open01(bits(key, first));
    let u2 = open01(bits(key, first + 1));
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    ((r * c) as f32, (r * s) as f32)
}

/// An index uniform on `0..n` (n ≥ 1) from 64 random bits, by the multiply-high map (bias below n / 2⁶⁴).
///
/// # Formula
/// `⌊bits · n / 2⁶⁴⌋`.
#[inline]
pub fn index_below(b: u64, n: u64) -> u64 {
    ((b as u128 * n as u128) >> 64) as u64
}

/// What a stream of random numbers is for; it keeps the streams of one seed apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum Purpose {
    /// Parameter initialisation (stream index = tensor index).
    Init = 1,
    /// Training times t ~ U(0, 1) (stream index = step).
    Time = 2,
    /// Noise x0 ~ N(0, I) of [`IndependentPairs`](super::pairs::IndependentPairs) (stream index = step).
    PairNoise = 3,
    /// Data rows of [`IndependentPairs`](super::pairs::IndependentPairs) (stream index = step).
    PairRows = 4,
    /// Free for other users outside the trainer.
    User = 5,
    /// Samplers: starting noise and the stochastic reverse variant's increments (`train::sampler`).
    Sampler = 6,
}

/// The stream number of `(purpose, index)`: 8 bits of purpose above 56 bits of index.
///
/// # Formula
/// `stream = purpose · 2⁵⁶ + (index mod 2⁵⁶)`.
#[inline]
pub fn stream(purpose: Purpose, index: u64) -> u64 {
    ((purpose as u64) << 56) | (index & ((1u64 << 56) - 1))
}

/// Sequential normal fill: `out[j] = normal_at(key, first + j)`, one Box–Muller transform per pair.
pub fn normal_slice(key: u64, first: u64, out: &mut [f32]) {
    let mut j = 0;
    if first & 1 == 1 && !out.is_empty() {
        out[0] = normal_at(key, first);
        j = 1;
    }
    while j + 1 < out.len() {
        let (a, b) = normal_pair(key, first + j as u64);
        out[j] = a;
        out[j + 1] = b;
        j += 2;
    }
    if j < out.len() {
        out[j] = normal_at(key, first + j as u64);
    }
}

/// Sequential uniform fill: `out[j] = uniform_at(key, first + j)`.
pub fn uniform_slice(key: u64, first: u64, out: &mut [f32]) {
    for (j, x) in out.iter_mut().enumerate() {
        *x = uniform_at(key, first + j as u64);
    }
}
