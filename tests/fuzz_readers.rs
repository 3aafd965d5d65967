//! Bounded fuzzing of the file readers: IDX, CIFAR-10 batches and safetensors checkpoints (and the training
//! state read from one). Every case starts from a valid file built here, then flips, overwrites, cuts, extends
//! or splices bytes, or sets a header field (a dimension, the header length) to an extreme value. A reader
//! must answer Ok or an error naming the file, never panic, and never allocate more than a small multiple of
//! the bytes it was given: a header promising 2^40 rows is refused before anything that size is reserved.
//!
//! Where a format is simple enough (IDX, CIFAR-10), an independent decoder written here says whether the
//! mutated bytes are valid, and the reader must agree with it exactly, values included.
//!
//! Cases per target: `FLOWCOLLAPSE_FUZZ_CASES` (default 256, under a second; CI runs 200 000). Each target
//! prints how many cases it ran and how many were accepted and refused. The draw is new on every run; a
//! failure prints its shrunk input (write it out as a fixed case at the end of this file), and
//! `PROPTEST_RNG_SEED=N` repeats a draw.

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use flowcollapse::checkpoint::{Checkpoint, CheckpointError, Tensor};
use flowcollapse::classifier::model::FORMAT;
use flowcollapse::classifier::{Classifier, ClassifierConfig};
use flowcollapse::data::{cifar10_from_batches, idx_from_bytes, read_cifar10, read_idx_files, Shape, Split};
use flowcollapse::train::couplings::PairSet;
use flowcollapse::train::{persist, Mlp, MlpConfig, TrainState};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};

// ---------------------------------------------------------------------------------------------------------
// The largest single allocation a reader makes, per thread (each test runs on its own thread).

struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // try_with: the allocator may be called while the thread's locals are being torn down.
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; only the requested size is recorded.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// `read()`'s result and the largest single allocation it made. A panic inside is caught and turned into
/// a failed case (proptest would catch it too, but this names the reader).
fn measured<T>(what: &str, read: impl FnOnce() -> T) -> Result<(T, usize), TestCaseError> {
    LARGEST.with(|l| l.set(0));
    let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .map_err(|_| TestCaseError::fail(format!("{what} panicked")))?;
    Ok((out, LARGEST.with(Cell::get)))
}

/// The most a reader may reserve at once for `input` bytes it holds in memory: its decoded values (f32,
/// 4 bytes per input byte), doubled for a growing buffer, plus room for messages and small maps.
fn allowance(input: usize) -> usize {
    (1 << 20) + 8 * input
}

/// A deflate stream expands at most 1032-fold, so a gzip'd input may decode to that much.
const DEFLATE_RATIO: usize = 1032;

// ---------------------------------------------------------------------------------------------------------
// Cases, mutations and counting.

fn cases() -> u32 {
    const VAR: &str = "FLOWCOLLAPSE_FUZZ_CASES";
    match std::env::var(VAR) {
        Err(_) => 256,
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("invalid {VAR} = {text:?}: allowed a whole number of cases ≥ 1"),
        },
    }
}

fn runner(cases: u32) -> TestRunner {
    // No regression files: the cases that once failed are written out as tests at the end of this file.
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// Accepted and refused inputs of one target.
#[derive(Default)]
struct Tally {
    ok: Cell<u64>,
    err: Cell<u64>,
    largest: Cell<usize>,
}

impl Tally {
    fn count<T, E>(&self, result: &Result<T, E>, largest: usize) {
        let cell = if result.is_ok() { &self.ok } else { &self.err };
        cell.set(cell.get() + 1);
        self.largest.set(self.largest.get().max(largest));
    }

    fn print(&self, target: &str, cases: u32, started: std::time::Instant) {
        println!(
            "fuzz {target}: {cases} cases, {} Ok, {} Err, no panic, largest allocation {} bytes, {:.2} s",
            self.ok.get(),
            self.err.get(),
            self.largest.get(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// Run `cases` cases of `strategy` through `test`; a failure reports the shrunk input.
fn fuzz<S: Strategy>(target: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    if let Err(e) = runner(cases).run(&strategy, test) {
        panic!("fuzz {target}: {e}");
    }
}

/// A header field the mutations may set: `width` bytes at `offset`, big- or little-endian.
#[derive(Clone, Copy, Debug)]
struct Field {
    offset: usize,
    width: usize,
    big_endian: bool,
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: Index,
        bit: u8,
    },
    Set {
        at: Index,
        value: u8,
    },
    Truncate {
        at: Index,
    },
    Extend {
        bytes: Vec<u8>,
    },
    Delete {
        at: Index,
        len: usize,
    },
    Insert {
        at: Index,
        bytes: Vec<u8>,
    },
    /// One of the format's header fields set to `value` (its low bytes when the field is narrower).
    Field {
        which: Index,
        value: u64,
    },
}

/// Values that break size arithmetic: zero, one, 2^16 (the widest network layer), powers of two around 2^31,
/// 2^32, 2^40, 2^62, the maxima.
fn extreme() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(1 << 16),
        Just(1 << 31),
        Just(u64::from(u32::MAX)),
        Just(1 << 32),
        Just(1 << 40),
        Just(1 << 62),
        Just(u64::MAX),
        0u64..4096,
        any::<u64>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        1 => any::<Index>().prop_map(|at| Mutation::Truncate { at }),
        1 => vec(any::<u8>(), 1..64).prop_map(|bytes| Mutation::Extend { bytes }),
        1 => (any::<Index>(), 1usize..32).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<Index>(), vec(any::<u8>(), 1..32)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        3 => (any::<Index>(), extreme()).prop_map(|(which, value)| Mutation::Field { which, value }),
    ]
}

/// `bytes` after `mutations`, in order. Positions scale to the current length.
fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation], fields: &[Field]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Flip { at, bit } if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Mutation::Set { at, value } if len > 0 => bytes[at.index(len)] = *value,
            Mutation::Truncate { at } => bytes.truncate(at.index(len + 1)),
            Mutation::Extend { bytes: tail } => bytes.extend_from_slice(tail),
            Mutation::Delete { at, len: n } if len > 0 => {
                let start = at.index(len);
                bytes.drain(start..(start + n).min(len));
            }
            Mutation::Insert { at, bytes: piece } => {
                let start = at.index(len + 1);
                bytes.splice(start..start, piece.iter().copied());
            }
            Mutation::Field { which, value } if !fields.is_empty() => {
                let f = fields[which.index(fields.len())];
                if f.offset + f.width <= len {
                    let word = if f.big_endian { value.to_be_bytes() } else { value.to_le_bytes() };
                    let low = if f.big_endian { &word[8 - f.width..] } else { &word[..f.width] };
                    bytes[f.offset..f.offset + f.width].copy_from_slice(low);
                }
            }
            _ => {}
        }
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// How the IDX files reach the reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Plain bytes, mutated.
    Plain,
    /// Mutated, then gzip'd: the gzip path sees a damaged header inside a sound stream.
    MutateThenGzip,
    /// Gzip'd, then the compressed bytes mutated: a damaged stream.
    GzipThenMutate,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![Just(Encoding::Plain), Just(Encoding::MutateThenGzip), Just(Encoding::GzipThenMutate)]
}

fn encode(plain: Vec<u8>, mutations: &[Mutation], fields: &[Field], encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Plain => mutate(plain, mutations, fields),
        Encoding::MutateThenGzip => gzip(&mutate(plain, mutations, fields)),
        Encoding::GzipThenMutate => mutate(gzip(&plain), mutations, &[]),
    }
}

/// b/127.5 − 1 computed in f64 and rounded once: the correctly rounded f32 (no (2b − 255)/255 lies near
/// an f32 rounding midpoint).
fn expected_value(b: u8) -> f32 {
    ((2.0 * f64::from(b) - 255.0) / 255.0) as f32
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn check_names_file(message: String, file: &str) -> Result<(), TestCaseError> {
    prop_assert!(message.contains(file), "error does not name {file}: {message}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// IDX.

const IDX_IMAGE_FIELDS: [Field; 4] = [
    Field { offset: 0, width: 4, big_endian: true },
    Field { offset: 4, width: 4, big_endian: true },
    Field { offset: 8, width: 4, big_endian: true },
    Field { offset: 12, width: 4, big_endian: true },
];
const IDX_LABEL_FIELDS: [Field; 2] =
    [Field { offset: 0, width: 4, big_endian: true }, Field { offset: 4, width: 4, big_endian: true }];

fn idx_file(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    bytes
}

/// An independent IDX decoding of plain bytes: the dimensions and payload when valid.
fn idx_oracle(bytes: &[u8], magic: u32, ndims: usize) -> Option<(Vec<u64>, &[u8])> {
    let word = |i: usize| bytes.get(4 * i..4 * i + 4).map(|w| u32::from_be_bytes(w.try_into().unwrap()));
    if word(0)? != magic {
        return None;
    }
    let dims: Vec<u64> = (1..=ndims).map(|i| word(i).map(u64::from)).collect::<Option<_>>()?;
    let payload = &bytes[4 * (ndims + 1)..];
    let size = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    (dims.iter().all(|&d| d > 0) && size == Some(payload.len() as u64)).then_some((dims, payload))
}

#[derive(Clone, Debug)]
struct IdxCase {
    dims: (u32, u32, u32),
    pixels: Vec<u8>,
    labels: Vec<u8>,
    with_labels: bool,
    image_mutations: Vec<Mutation>,
    label_mutations: Vec<Mutation>,
    encoding: Encoding,
}

fn idx_case() -> impl Strategy<Value = IdxCase> {
    (1u32..5, 1u32..7, 1u32..7).prop_flat_map(|(n, h, w)| {
        (
            vec(any::<u8>(), (n * h * w) as usize),
            vec(0u8..10, n as usize),
            prop::bool::weighted(0.8),
            vec(mutation(), 0..4),
            vec(mutation(), 0..3),
            encoding(),
        )
            .prop_map(move |(pixels, labels, with_labels, image_mutations, label_mutations, encoding)| {
                IdxCase { dims: (n, h, w), pixels, labels, with_labels, image_mutations, label_mutations, encoding }
            })
    })
}

fn check_idx(case: IdxCase, tally: &Tally) -> Result<(), TestCaseError> {
    let (n, h, w) = case.dims;
    let images_plain = idx_file(0x0803, &[n, h, w], &case.pixels);
    let labels_plain = idx_file(0x0801, &[n], &case.labels);
    let images = encode(images_plain.clone(), &case.image_mutations, &IDX_IMAGE_FIELDS, case.encoding);
    let labels = encode(labels_plain.clone(), &case.label_mutations, &IDX_LABEL_FIELDS, case.encoding);
    let (image_file, label_file) = ("fuzz-images-idx3-ubyte", "fuzz-labels-idx1-ubyte");
    let label_arg = case.with_labels.then_some((label_file, &labels[..]));
    let (result, largest) = measured("idx_from_bytes", || idx_from_bytes((image_file, &images), label_arg, "fuzz"))?;
    tally.count(&result, largest);
    let input = images.len() + if case.with_labels { labels.len() } else { 0 };
    let gz = if case.encoding == Encoding::Plain { 1 } else { DEFLATE_RATIO };
    prop_assert!(largest <= allowance(gz * input), "{largest} bytes reserved for {input} input bytes");

    // The independent decoding, wherever the plain bytes are known.
    let plain = |encoded: &[u8], file: &[u8], mutations: &[Mutation], fields: &[Field]| match case.encoding {
        Encoding::Plain | Encoding::MutateThenGzip => Some(mutate(file.to_vec(), mutations, fields)),
        Encoding::GzipThenMutate => {
            let mut out = Vec::new();
            MultiGzDecoder::new(encoded).read_to_end(&mut out).ok().map(|_| out)
        }
    };
    let unmutated = case.image_mutations.is_empty() && (case.label_mutations.is_empty() || !case.with_labels);
    let image_plain = plain(&images, &images_plain, &case.image_mutations, &IDX_IMAGE_FIELDS);
    let label_plain = plain(&labels, &labels_plain, &case.label_mutations, &IDX_LABEL_FIELDS);
    let image_oracle = image_plain.as_deref().and_then(|b| idx_oracle(b, 0x0803, 3));
    let label_oracle = label_plain.as_deref().and_then(|b| idx_oracle(b, 0x0801, 1));
    let oracle_valid = image_oracle.is_some()
        && (!case.with_labels
            || matches!((&image_oracle, &label_oracle), (Some((d, _)), Some((l, _))) if d[0] == l[0]));
    match &result {
        Ok(data) => {
            // Whatever was accepted must be what the bytes say (a damaged gzip stream is not decided by the
            // oracle: the reader stops one byte past the promised payload and may not see damage beyond it).
            if case.encoding != Encoding::GzipThenMutate {
                prop_assert!(oracle_valid, "accepted invalid IDX bytes");
            }
            let decoded = image_plain.as_deref().and_then(|b| idx_oracle(b, 0x0803, 3));
            if let Some((dims, payload)) = decoded {
                let shape = Shape::Image { channels: 1, height: dims[1] as usize, width: dims[2] as usize };
                prop_assert_eq!(data.shape(), shape);
                let expected: Vec<f32> = payload.iter().map(|&b| expected_value(b)).collect();
                prop_assert!(same_bits(data.values(), &expected), "pixel values differ from the bytes");
                if let (true, Some((_, labels))) = (case.with_labels, &label_oracle) {
                    prop_assert_eq!(data.labels(), Some(*labels));
                }
            }
        }
        Err(e) => {
            if case.encoding != Encoding::GzipThenMutate {
                prop_assert!(!oracle_valid, "refused valid IDX bytes: {e}");
            }
            prop_assert!(!unmutated, "refused an unmutated file: {e}");
            let message = e.to_string();
            prop_assert!(
                message.contains(image_file) || message.contains(label_file),
                "error names neither file: {message}"
            );
        }
    }
    if unmutated {
        // A valid file round-trips exactly: shape, every value, every label.
        let data = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(data.shape(), Shape::Image { channels: 1, height: h as usize, width: w as usize });
        let expected: Vec<f32> = case.pixels.iter().map(|&b| expected_value(b)).collect();
        prop_assert!(same_bits(data.values(), &expected));
        prop_assert_eq!(data.labels(), case.with_labels.then_some(&case.labels[..]));
    }
    Ok(())
}

#[test]
fn idx_reader_survives_mutated_files() {
    let (cases, tally, started) = (cases(), Tally::default(), std::time::Instant::now());
    fuzz("idx", cases, idx_case(), |case| check_idx(case, &tally));
    tally.print("idx (idx_from_bytes)", cases, started);
}

// ---------------------------------------------------------------------------------------------------------
// CIFAR-10.

const RECORD: usize = 1 + 3 * 32 * 32;

/// The label byte of each of the first records: the only "fields" of a CIFAR batch.
fn cifar_fields(records: usize) -> Vec<Field> {
    (0..records).map(|r| Field { offset: r * RECORD, width: 1, big_endian: false }).collect()
}

fn cifar_batch(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(|(label, pixels)| std::iter::once(*label).chain(pixels.iter().copied())).collect()
}

/// Labels and pixel bytes of a batch, independently: None unless a positive multiple of the record with
/// every label in 0..=9.
fn cifar_oracle(bytes: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return None;
    }
    let labels: Vec<u8> = bytes.iter().step_by(RECORD).copied().collect();
    let pixels = bytes.chunks(RECORD).flat_map(|r| r[1..].iter().copied()).collect();
    labels.iter().all(|&l| l <= 9).then_some((labels, pixels))
}

/// A record: its label and its 3072 pixel bytes.
type Record = (u8, Vec<u8>);

#[derive(Clone, Debug)]
struct CifarCase {
    /// Each batch's records and the mutations of its bytes.
    batches: Vec<(Vec<Record>, Vec<Mutation>)>,
}

fn cifar_case() -> impl Strategy<Value = CifarCase> {
    let record = (0u8..10, vec(any::<u8>(), RECORD - 1));
    vec((vec(record, 1..3), vec(mutation(), 0..3)), 1..3).prop_map(|batches| CifarCase { batches })
}

fn check_cifar(case: CifarCase, tally: &Tally) -> Result<(), TestCaseError> {
    let names: Vec<String> = (0..case.batches.len()).map(|i| format!("fuzz_batch_{i}.bin")).collect();
    let files: Vec<Vec<u8>> = case
        .batches
        .iter()
        .map(|(records, mutations)| mutate(cifar_batch(records), mutations, &cifar_fields(records.len())))
        .collect();
    let refs: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(files.iter().map(Vec::as_slice)).collect();
    let (result, largest) = measured("cifar10_from_batches", || cifar10_from_batches(&refs, "fuzz"))?;
    tally.count(&result, largest);
    let input: usize = files.iter().map(Vec::len).sum();
    prop_assert!(largest <= allowance(input), "{largest} bytes reserved for {input} input bytes");
    let oracle: Option<Vec<(Vec<u8>, Vec<u8>)>> = files.iter().map(|f| cifar_oracle(f)).collect();
    match (&result, oracle) {
        (Ok(data), Some(batches)) => {
            prop_assert_eq!(data.shape(), Shape::Image { channels: 3, height: 32, width: 32 });
            let labels: Vec<u8> = batches.iter().flat_map(|(l, _)| l.iter().copied()).collect();
            let values: Vec<f32> = batches.iter().flat_map(|(_, p)| p.iter().map(|&b| expected_value(b))).collect();
            prop_assert_eq!(data.labels(), Some(&labels[..]));
            prop_assert!(same_bits(data.values(), &values), "pixel values differ from the bytes");
        }
        (Ok(_), None) => return Err(TestCaseError::fail("accepted an invalid CIFAR batch")),
        (Err(e), Some(_)) => return Err(TestCaseError::fail(format!("refused valid CIFAR batches: {e}"))),
        (Err(e), None) => {
            let message = e.to_string();
            prop_assert!(names.iter().any(|n| message.contains(n.as_str())), "error names no file: {message}");
        }
    }
    Ok(())
}

#[test]
fn cifar_reader_survives_mutated_batches() {
    // A case holds up to 4 records of 3 KiB, so fewer cases cover as many bytes as the other targets.
    let (cases, tally, started) = ((cases() / 4).max(1), Tally::default(), std::time::Instant::now());
    fuzz("cifar", cases, cifar_case(), |case| check_cifar(case, &tally));
    tally.print("cifar (cifar10_from_batches)", cases, started);
}

// ---------------------------------------------------------------------------------------------------------
// Safetensors checkpoints.

const CHECKPOINT_FIELDS: [Field; 1] = [Field { offset: 0, width: 8, big_endian: false }];

fn tensor() -> impl Strategy<Value = Tensor> {
    (vec(0usize..4, 0..3), "[a-z.]{1,12}").prop_flat_map(|(shape, name)| {
        let n: usize = shape.iter().product();
        vec(any::<u32>().prop_map(f32::from_bits), n).prop_map(move |data| Tensor {
            name: name.clone(),
            shape: shape.clone(),
            data,
        })
    })
}

fn checkpoint() -> impl Strategy<Value = Checkpoint> {
    (vec(tensor(), 0..4), vec(("[a-z_.]{1,8}", ".{0,12}"), 0..3)).prop_map(|(tensors, metadata)| {
        // Names are keys of one JSON object: keep the first of each, as the file would.
        let mut seen = std::collections::HashSet::new();
        let tensors = tensors.into_iter().filter(|t| seen.insert(t.name.clone())).collect();
        let mut keys = std::collections::HashSet::new();
        let metadata = metadata.into_iter().filter(|(k, _)| keys.insert(k.clone())).collect();
        Checkpoint { tensors, metadata }
    })
}

/// A JSON value the header might hold where a size belongs: extremes, negatives, floats, strings, nulls.
fn json_size() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => extreme().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| json!(f)),
        1 => Just(Value::Null),
        1 => "[0-9]{1,30}".prop_map(Value::from),
    ]
}

/// A header entry for a tensor: F32 mostly, with a shape and offsets of extreme or ill-typed values.
fn wild_entry() -> impl Strategy<Value = Value> {
    let dtype = prop_oneof![4 => Just(json!("F32")), 1 => Just(json!("F16")), 1 => Just(json!(32))];
    let shape = prop_oneof![4 => vec(json_size(), 0..4).prop_map(Value::from), 1 => json_size()];
    let offsets = prop_oneof![4 => vec(json_size(), 0..4).prop_map(Value::from), 1 => json_size()];
    (dtype, shape, offsets, prop::bool::weighted(0.1)).prop_map(|(dtype, shape, offsets, not_an_object)| {
        if not_an_object {
            shape
        } else {
            json!({ "dtype": dtype, "shape": shape, "data_offsets": offsets })
        }
    })
}

/// A number of a checkpoint's JSON header (a shape entry, an offset, the step…) replaced by `value`.
#[derive(Clone, Debug)]
struct NumberEdit {
    which: Index,
    value: u64,
}

fn number_edit() -> impl Strategy<Value = NumberEdit> {
    (any::<Index>(), extreme()).prop_map(|(which, value)| NumberEdit { which, value })
}

/// The bytes of `checkpoint` with `edits` applied to the numbers of its header, the header length updated
/// (so that the edits reach the parser), then `mutations` applied to the whole file.
fn edited_bytes(checkpoint: &Checkpoint, edits: &[NumberEdit], mutations: &[Mutation]) -> Vec<u8> {
    let bytes = checkpoint.to_bytes();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header = bytes[8..8 + n].to_vec();
    for edit in edits {
        // Runs of ASCII digits: the header's numbers (and digits inside names, which is fine too).
        let mut runs = Vec::new();
        let mut i = 0;
        while i < header.len() {
            if header[i].is_ascii_digit() {
                let start = i;
                while i < header.len() && header[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push(start..i);
            } else {
                i += 1;
            }
        }
        if !runs.is_empty() {
            let run = runs[edit.which.index(runs.len())].clone();
            header.splice(run, edit.value.to_string().into_bytes());
        }
    }
    let file = [&(header.len() as u64).to_le_bytes()[..], &header, &bytes[8 + n..]].concat();
    mutate(file, mutations, &CHECKPOINT_FIELDS)
}

#[derive(Clone, Debug)]
enum CheckpointInput {
    /// A valid checkpoint's bytes, numbers of its header edited, then mutated.
    Mutated { checkpoint: Checkpoint, edits: Vec<NumberEdit>, mutations: Vec<Mutation> },
    /// A header of wild entries over a small data section; the header length is true or extreme.
    WildHeader { entries: Vec<(String, Value)>, metadata: Option<Value>, data: Vec<u8>, header_len: Option<u64> },
}

fn checkpoint_input() -> impl Strategy<Value = CheckpointInput> {
    let metadata = prop_oneof![
        Just(None),
        Just(Some(json!({"step": "3"}))),
        Just(Some(json!({"step": 3}))),
        Just(Some(json!([1, 2]))),
    ];
    let header_len = prop_oneof![3 => Just(None), 1 => extreme().prop_map(Some)];
    prop_oneof![
        (checkpoint(), vec(number_edit(), 0..3), vec(mutation(), 0..4))
            .prop_map(|(checkpoint, edits, mutations)| { CheckpointInput::Mutated { checkpoint, edits, mutations } }),
        (vec(("[a-z]{1,4}", wild_entry()), 0..4), metadata, vec(any::<u8>(), 0..96), header_len).prop_map(
            |(entries, metadata, data, header_len)| CheckpointInput::WildHeader { entries, metadata, data, header_len }
        ),
    ]
}

impl CheckpointInput {
    fn bytes(&self) -> Vec<u8> {
        match self {
            CheckpointInput::Mutated { checkpoint, edits, mutations } => edited_bytes(checkpoint, edits, mutations),
            CheckpointInput::WildHeader { entries, metadata, data, header_len } => {
                let mut header = Map::new();
                if let Some(m) = metadata {
                    header.insert("__metadata__".into(), m.clone());
                }
                for (name, entry) in entries {
                    header.insert(name.clone(), entry.clone());
                }
                let text = serde_json::to_vec(&Value::Object(header)).expect("a JSON map serialises");
                let len = header_len.unwrap_or(text.len() as u64);
                [&len.to_le_bytes()[..], &text, data].concat()
            }
        }
    }
}

fn same_checkpoint(a: &Checkpoint, b: &Checkpoint) -> bool {
    a.metadata == b.metadata
        && a.tensors.len() == b.tensors.len()
        && a.tensors
            .iter()
            .zip(&b.tensors)
            .all(|(x, y)| x.name == y.name && x.shape == y.shape && same_bits(&x.data, &y.data))
}

fn check_checkpoint(input: CheckpointInput, tally: &Tally) -> Result<(), TestCaseError> {
    const FILE: &str = "fuzz.safetensors";
    let bytes = input.bytes();
    let (result, largest) = measured("Checkpoint::from_bytes", || Checkpoint::from_bytes(&bytes, FILE))?;
    tally.count(&result, largest);
    prop_assert!(largest <= allowance(bytes.len()), "{largest} bytes reserved for {} input bytes", bytes.len());
    match result {
        Ok(read) => {
            for t in &read.tensors {
                prop_assert_eq!(t.shape.iter().product::<usize>(), t.data.len(), "tensor {}", &t.name);
            }
            // What was accepted re-serialises to a file that reads back the same.
            let again =
                Checkpoint::from_bytes(&read.to_bytes(), FILE).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(same_checkpoint(&read, &again), "re-read checkpoint differs");
        }
        Err(e) => {
            if let CheckpointInput::Mutated { edits, mutations, .. } = &input {
                prop_assert!(!(edits.is_empty() && mutations.is_empty()), "refused a valid checkpoint: {e}");
            }
            check_names_file(e.to_string(), FILE)?;
        }
    }
    if let CheckpointInput::Mutated { checkpoint, edits, mutations } = &input {
        if edits.is_empty() && mutations.is_empty() {
            // A valid file round-trips exactly, to the bit and to the byte.
            let read = Checkpoint::from_bytes(&bytes, FILE).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(same_checkpoint(&read, checkpoint), "round trip changed the checkpoint");
            prop_assert!(read.to_bytes() == bytes, "round trip changed the bytes");
        }
    }
    Ok(())
}

#[test]
fn checkpoint_reader_survives_mutated_files() {
    let (cases, tally, started) = (cases(), Tally::default(), std::time::Instant::now());
    fuzz("checkpoint", cases, checkpoint_input(), |input| check_checkpoint(input, &tally));
    tally.print("checkpoint (Checkpoint::from_bytes)", cases, started);
}

// ---------------------------------------------------------------------------------------------------------
// The training state of a small MLP, read back from a mutated checkpoint.

fn small_mlp() -> Mlp {
    Mlp::new(MlpConfig { dim: 3, hidden: vec![4], embed: 2 }).expect("a valid network")
}

fn state_of(mlp: &Mlp, seed: u64, step: u64) -> TrainState {
    let groups = ["params", "adam_m", "adam_v", "ema"];
    let flat = mlp.init(seed);
    let tensors = groups
        .iter()
        .flat_map(|g| mlp.tensors().iter().map(move |t| (g, t)))
        .map(|(g, t)| {
            let n: usize = t.shape.iter().product();
            (format!("{g}.{}", t.name), flat[t.offset..t.offset + n].to_vec())
        })
        .collect();
    TrainState { step, tensors }
}

#[derive(Clone, Debug)]
struct StateCase {
    seed: u64,
    step: u64,
    edits: Vec<NumberEdit>,
    mutations: Vec<Mutation>,
}

fn check_state(case: StateCase, mlp: &Mlp, tally: &Tally) -> Result<(), TestCaseError> {
    const FILE: &str = "fuzz-state.safetensors";
    let state = state_of(mlp, case.seed, case.step);
    let bytes = edited_bytes(&persist::to_checkpoint(&state, mlp, Vec::new()), &case.edits, &case.mutations);
    let unmutated = case.edits.is_empty() && case.mutations.is_empty();
    let (result, largest) = measured("persist::from_checkpoint", || {
        let checkpoint = Checkpoint::from_bytes(&bytes, FILE)?;
        let config = persist::mlp_config(&checkpoint, FILE)?;
        let read = persist::from_checkpoint(&checkpoint, mlp, FILE)?;
        let ema = persist::flat_group(&checkpoint, mlp, "ema", FILE)?;
        Ok::<_, CheckpointError>((config, read, ema))
    })?;
    tally.count(&result, largest);
    prop_assert!(largest <= allowance(bytes.len()), "{largest} bytes reserved for {} input bytes", bytes.len());
    // As `eval` reads a model: the network the checkpoint's metadata describes (whatever it claims, within
    // Mlp's limits), then its weights.
    let described = Checkpoint::from_bytes(&bytes, FILE)
        .ok()
        .and_then(|c| persist::mlp_config(&c, FILE).ok().and_then(|config| Mlp::new(config).ok()).map(|m| (c, m)));
    if let Some((checkpoint, described)) = described {
        let (weights, largest) =
            measured("persist::flat_group", || persist::flat_group(&checkpoint, &described, "ema", FILE))?;
        prop_assert!(
            largest <= allowance(bytes.len()),
            "{largest} bytes reserved for {} input bytes (network {:?})",
            bytes.len(),
            described.config()
        );
        if let Err(e) = weights {
            check_names_file(e.to_string(), FILE)?;
        }
    }
    match result {
        Ok((config, read, ema)) => {
            prop_assert_eq!(read.tensors.len(), state.tensors.len());
            for ((name, values), (want, expected)) in read.tensors.iter().zip(&state.tensors) {
                prop_assert_eq!(name, want);
                prop_assert_eq!(values.len(), expected.len(), "tensor {}", name);
                prop_assert!(values.iter().all(|v| v.is_finite()), "tensor {} holds a non-finite value", name);
            }
            prop_assert_eq!(ema.len(), mlp.num_params());
            if unmutated {
                // The unmutated state comes back exactly.
                prop_assert_eq!(&config, mlp.config());
                prop_assert_eq!(read.step, state.step);
                for ((_, a), (_, b)) in read.tensors.iter().zip(&state.tensors) {
                    prop_assert!(same_bits(a, b));
                }
                let ema_flat: Vec<f32> =
                    state.tensors[3 * mlp.tensors().len()..].iter().flat_map(|(_, v)| v.iter().copied()).collect();
                prop_assert!(same_bits(&ema, &ema_flat));
            }
        }
        Err(e) => {
            prop_assert!(!unmutated, "refused a valid state: {e}");
            check_names_file(e.to_string(), FILE)?;
        }
    }
    Ok(())
}

#[test]
fn training_state_reader_survives_mutated_checkpoints() {
    let (cases, tally, started) = (cases(), Tally::default(), std::time::Instant::now());
    let mlp = small_mlp();
    let strategy = (any::<u64>(), any::<u64>(), vec(number_edit(), 0..3), vec(mutation(), 0..4))
        .prop_map(|(seed, step, edits, mutations)| StateCase { seed, step, edits, mutations });
    fuzz("training state", cases, strategy, |case| check_state(case, &mlp, &tally));
    tally.print("training state (persist::from_checkpoint)", cases, started);
}

// ---------------------------------------------------------------------------------------------------------
// The same readers through files on disk (one case in 40: each writes files).

#[test]
fn readers_from_disk_name_the_path() {
    // Disk I/O costs far more than decoding: a sample of the cases is enough to test the paths in errors.
    let cases = (cases() / 40).max(1);
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (idx, cifar, checkpoint, pairs) = (Tally::default(), Tally::default(), Tally::default(), Tally::default());
    let pair_set = (1usize..4).prop_flat_map(|rows| {
        (vec(-4.0f32..4.0, 2 * rows), vec(-4.0f32..4.0, 2 * rows), vec(number_edit(), 0..2), vec(mutation(), 0..3))
    });
    let strategy = (idx_case(), cifar_case(), checkpoint_input(), pair_set);
    fuzz("disk", cases, strategy, |(idx_in, cifar_in, checkpoint_in, (x0, x1, edits, mutations))| {
        let (n, h, w) = idx_in.dims;
        let images = encode(
            idx_file(0x0803, &[n, h, w], &idx_in.pixels),
            &idx_in.image_mutations,
            &IDX_IMAGE_FIELDS,
            idx_in.encoding,
        );
        let labels =
            encode(idx_file(0x0801, &[n], &idx_in.labels), &idx_in.label_mutations, &IDX_LABEL_FIELDS, idx_in.encoding);
        let (image_path, label_path) = (dir.path().join("t10k-images-idx3-ubyte"), dir.path().join("t10k-labels"));
        std::fs::write(&image_path, &images).expect("writing a temporary file");
        std::fs::write(&label_path, &labels).expect("writing a temporary file");
        let (result, largest) = measured("read_idx_files", || read_idx_files(&image_path, &label_path))?;
        idx.count(&result, largest);
        if let Err(e) = result {
            let message = e.to_string();
            prop_assert!(
                message.contains(&*image_path.to_string_lossy()) || message.contains(&*label_path.to_string_lossy()),
                "{message}"
            );
        }

        let records: Vec<Record> = cifar_in.batches.iter().flat_map(|(r, _)| r.iter().cloned()).collect();
        let batch = mutate(cifar_batch(&records), &cifar_in.batches[0].1, &cifar_fields(records.len()));
        let cifar_dir = dir.path().join("cifar");
        std::fs::create_dir_all(&cifar_dir).expect("a temporary directory");
        std::fs::write(cifar_dir.join("test_batch.bin"), &batch).expect("writing a temporary file");
        let (result, largest) = measured("read_cifar10", || read_cifar10(&cifar_dir, Split::Test))?;
        cifar.count(&result, largest);
        prop_assert_eq!(result.is_ok(), cifar_oracle(&batch).is_some());
        if let Err(e) = result {
            check_names_file(e.to_string(), &cifar_dir.join("test_batch.bin").to_string_lossy())?;
        }

        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, checkpoint_in.bytes()).expect("writing a temporary file");
        let (result, largest) = measured("Checkpoint::load", || Checkpoint::load(&path))?;
        checkpoint.count(&result, largest);
        prop_assert_eq!(result.is_ok(), Checkpoint::from_bytes(&checkpoint_in.bytes(), "same").is_ok());
        if let Err(e) = result {
            check_names_file(e.to_string(), &path.to_string_lossy())?;
        }
        // A reflow run's cached pair sets are checkpoints too, read back on resume: one of 2-D pairs, damaged.
        let rows = x0.len() / 2;
        let set = Checkpoint {
            tensors: vec![Tensor::new("x0", vec![rows, 2], x0.clone()), Tensor::new("x1", vec![rows, 2], x1.clone())],
            metadata: Vec::new(),
        };
        let path = dir.path().join("pairs.safetensors");
        std::fs::write(&path, edited_bytes(&set, &edits, &mutations)).expect("writing a temporary file");
        let (result, largest) = measured("PairSet::load", || PairSet::load(&path, 2))?;
        pairs.count(&result, largest);
        match result {
            Ok(read) => {
                let (n, m) = (read.x0.len(), read.x1.len());
                prop_assert!(read.dim == 2 && n == m && n.is_multiple_of(2), "{n} and {m} values of dim {}", read.dim);
                if edits.is_empty() && mutations.is_empty() {
                    prop_assert!(same_bits(&read.x0, &x0) && same_bits(&read.x1, &x1), "pairs changed");
                }
            }
            Err(e) => {
                prop_assert!(!(edits.is_empty() && mutations.is_empty()), "refused a valid pair set: {e}");
                check_names_file(e.to_string(), &path.to_string_lossy())?;
            }
        }
        // And the random checkpoints, which rarely hold x0 and x1 (a scalar first tensor once panicked).
        let path = dir.path().join("model.safetensors");
        let (result, largest) = measured("PairSet::load", || PairSet::load(&path, 2))?;
        pairs.count(&result, largest);
        if let Err(e) = result {
            check_names_file(e.to_string(), &path.to_string_lossy())?;
        }
        Ok(())
    });
    idx.print("idx (read_idx_files, on disk)", cases, started);
    cifar.print("cifar (read_cifar10, on disk)", cases, started);
    checkpoint.print("checkpoint (Checkpoint::load, on disk)", cases, started);
    pairs.print("pair set (PairSet::load, on disk; two reads a case)", cases, started);
}

// ---------------------------------------------------------------------------------------------------------
// Headers that promise absurd sizes, refused before anything that size is reserved. Fixed cases, so that
// they run whatever the random draw.

fn refused_small<T, E: std::fmt::Display>(what: &str, file: &str, read: impl FnOnce() -> Result<T, E>) {
    let (result, largest) = measured(what, read).unwrap_or_else(|e| panic!("{e}"));
    match result {
        Ok(_) => panic!("{what}: accepted a header promising an absurd size"),
        Err(e) => assert!(e.to_string().contains(file), "{what}: error does not name {file}: {e}"),
    }
    assert!(largest < 1 << 20, "{what}: reserved {largest} bytes before refusing");
}

#[test]
fn absurd_idx_sizes_are_refused_before_allocating() {
    let labels = idx_file(0x0801, &[2], &[0, 1]);
    let huge: [(&str, [u32; 3]); 4] = [
        ("2^32 − 1 images", [u32::MAX, 2, 2]),
        ("2^40 bytes", [1 << 20, 1 << 10, 1 << 10]),
        ("2^96 bytes", [u32::MAX, u32::MAX, u32::MAX]),
        ("rows × cols beyond usize on 32 bits", [1, u32::MAX, u32::MAX]),
    ];
    for (what, dims) in huge {
        let plain = idx_file(0x0803, &dims, &[7; 8]);
        for images in [plain.clone(), gzip(&plain)] {
            refused_small(what, "huge-images", || {
                idx_from_bytes(("huge-images", &images), Some(("labels", &labels)), "fuzz")
            });
        }
    }
    // Labels promising 2^32 − 1 entries.
    let images = idx_file(0x0803, &[2, 1, 1], &[0, 255]);
    let labels = idx_file(0x0801, &[u32::MAX], &[0, 1]);
    for labels in [labels.clone(), gzip(&labels)] {
        refused_small("2^32 − 1 labels", "huge-labels", || {
            idx_from_bytes(("images", &images), Some(("huge-labels", &labels)), "fuzz")
        });
    }
}

#[test]
fn absurd_checkpoint_sizes_are_refused_before_allocating() {
    let header = |entry: Value| {
        let text = serde_json::to_vec(&json!({ "w": entry })).unwrap();
        [&(text.len() as u64).to_le_bytes()[..], &text, &[0u8; 16]].concat()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("header length 2^63", [&(1u64 << 63).to_le_bytes()[..], b"{}"].concat()),
        ("header length u64::MAX", [&u64::MAX.to_le_bytes()[..], b"{}"].concat()),
        ("shape [2^40]", header(json!({"dtype": "F32", "shape": [1u64 << 40], "data_offsets": [0, 1u64 << 42]}))),
        (
            "shape overflowing usize",
            header(json!({"dtype": "F32", "shape": [u64::MAX, u64::MAX], "data_offsets": [0, 16]})),
        ),
        (
            "offsets past the data",
            header(json!({"dtype": "F32", "shape": [4], "data_offsets": [u64::MAX - 15, u64::MAX]})),
        ),
        ("begin after end", header(json!({"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}))),
    ];
    // Nesting deep enough to overflow a recursive parser's stack.
    let deep = [&b"["[..]; 100_000].concat();
    let cases =
        [cases, vec![("100 000 nested arrays", [&(deep.len() as u64).to_le_bytes()[..], &deep].concat())]].concat();
    for (what, bytes) in cases {
        refused_small(what, "huge.safetensors", || Checkpoint::from_bytes(&bytes, "huge.safetensors"));
    }
}

/// Found by this fuzzer: `eval` builds the network the checkpoint's metadata describes and read its weights
/// into a vector of that network's size before looking for them, so a 2 KB file claiming 64 layers of
/// 65 536 units made it reserve 1 TiB (and abort). The tensors are now checked first.
#[test]
fn a_network_claimed_by_metadata_alone_is_refused_before_allocating() {
    let mlp = small_mlp();
    let mut checkpoint = persist::to_checkpoint(&state_of(&mlp, 1, 7), &mlp, Vec::new());
    let widest = MlpConfig::MAX_WIDTH.to_string();
    for (key, value) in &mut checkpoint.metadata {
        match key.as_str() {
            "mlp.dim" => *value = widest.clone(),
            "mlp.hidden" => *value = vec![widest.as_str(); MlpConfig::MAX_HIDDEN_LAYERS].join(","),
            _ => {}
        }
    }
    let bytes = checkpoint.to_bytes();
    let read = Checkpoint::from_bytes(&bytes, "claims.safetensors").unwrap();
    let claimed = Mlp::new(persist::mlp_config(&read, "claims.safetensors").unwrap()).unwrap();
    assert!(claimed.num_params() > 1 << 37, "the metadata claims {} parameters", claimed.num_params());
    refused_small("flat_group", "claims.safetensors", || {
        persist::flat_group(&read, &claimed, "ema", "claims.safetensors")
    });
}

/// The same for the FD-classifier's reader: metadata claiming 16 layers of 65 536 units (256 GiB of weights)
/// over a file with no tensor.
#[test]
fn a_classifier_claimed_by_metadata_alone_is_refused_before_allocating() {
    let widest = ClassifierConfig::MAX_WIDTH.to_string();
    let metadata = [
        ("format", FORMAT.to_string()),
        ("input_shape", "1,256,256".to_string()),
        ("hidden", vec![widest.as_str(); ClassifierConfig::MAX_HIDDEN_LAYERS].join(",")),
        ("classes", "10".to_string()),
    ];
    let checkpoint =
        Checkpoint { tensors: Vec::new(), metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect() };
    let bytes = checkpoint.to_bytes();
    let read = Checkpoint::from_bytes(&bytes, "classifier.safetensors").unwrap();
    refused_small("Classifier::from_checkpoint", "classifier.safetensors", || {
        Classifier::from_checkpoint(&read, "classifier.safetensors")
    });
}

/// Found by this fuzzer: a pair-set file whose first tensor is a scalar made `PairSet::load` index an empty
/// shape and panic (a reflow resume reads these files from the run directory).
#[test]
fn a_pair_set_with_a_scalar_tensor_is_an_error() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("pairs.safetensors");
    let scalars = [("x0", vec![], vec![1.0]), ("x1", vec![], vec![2.0])];
    for first in [0, 1] {
        let tensors = [&scalars[first], &scalars[1 - first]];
        let checkpoint = Checkpoint {
            tensors: tensors.iter().map(|(n, s, d)| Tensor::new(*n, s.clone(), d.clone())).collect(),
            metadata: Vec::new(),
        };
        checkpoint.save(&path).expect("writing a temporary file");
        let (result, _) = measured("PairSet::load", || PairSet::load(&path, 2)).unwrap_or_else(|e| panic!("{e}"));
        let message = result.expect_err("a scalar x0 is not a pair set").to_string();
        assert!(message.contains(&*path.to_string_lossy()) && message.contains("x0"), "{message}");
    }
}

/// Sanity of the harness itself: the allocation tracker sees a large reservation, so a reader that made
/// one would be caught.
#[test]
fn the_tracker_sees_large_allocations() {
    let (v, largest) = measured("a 4 MiB vector", || vec![0u8; 4 << 20]).unwrap();
    assert_eq!(v.len(), 4 << 20);
    assert!(largest >= 4 << 20, "tracked {largest}");
    assert!(largest > allowance(1000));
}
