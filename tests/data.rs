//! Dataset readers against independent decodings: IDX and CIFAR-10 files written here, byte by byte, into a
//! temporary directory; the embedded Fashion-MNIST subset against its own files parsed by hand.

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use flowcollapse::data::{
    cifar10_from_batches, embedded_fashion_mnist, idx_from_bytes, read_cifar10, read_idx, read_idx_files, DataError,
    Dataset, Shape, Split,
};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;

/// b/127.5 − 1 = (2b − 255)/255 in f64, rounded once to f32. No value (2b − 255)/255 other than ±1 lies
/// within f64 error of an f32 rounding midpoint (a dyadic rational), so this is the correctly rounded f32.
fn expected_value(b: u8) -> f32 {
    ((2.0 * f64::from(b) - 255.0) / 255.0) as f32
}

fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0803u32.to_be_bytes().to_vec();
    for v in [count, rows, cols] {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.extend_from_slice(pixels);
    bytes
}

fn idx_labels(count: u32, labels: &[u8]) -> Vec<u8> {
    let mut bytes = 0x0801u32.to_be_bytes().to_vec();
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..len).map(|_| rng.random::<u8>()).collect()
}

/// Every value of `data` is `bytes[i]` normalised, and the labels are `labels`.
fn assert_decoded(data: &Dataset, bytes: &[u8], labels: &[u8]) {
    assert_eq!(data.values().len(), bytes.len());
    for (i, (&v, &b)) in data.values().iter().zip(bytes).enumerate() {
        assert_eq!(v, expected_value(b), "value {i} from byte {b}");
    }
    assert_eq!(data.labels(), Some(labels));
}

#[test]
fn idx_round_trip_plain_and_gzip() {
    // 7 images of 5 rows × 3 columns: non-square, so a swapped height/width would show.
    let (n, rows, cols) = (7usize, 5usize, 3usize);
    let pixels = random_bytes(1, n * rows * cols);
    let labels: Vec<u8> = (0..n as u8).map(|i| (3 * i) % 10).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train-images-idx3-ubyte"), idx_images(7, 5, 3, &pixels)).unwrap();
    std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), gzip(&idx_labels(7, &labels))).unwrap();
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gzip(&idx_images(7, 5, 3, &pixels))).unwrap();
    std::fs::write(dir.path().join("t10k-labels-idx1-ubyte"), idx_labels(7, &labels)).unwrap();
    for split in [Split::Train, Split::Test] {
        let data = read_idx(dir.path(), split).unwrap();
        assert_eq!(data.len(), n);
        assert_eq!(data.dim(), rows * cols);
        assert_eq!(data.shape(), Shape::Image { channels: 1, height: 5, width: 3 });
        assert_decoded(&data, &pixels, &labels);
        // Row i is image i: its pixel (y, x) is byte i·15 + y·3 + x.
        let (y, x) = (4, 1);
        assert_eq!(data.row(6)[y * cols + x], expected_value(pixels[6 * 15 + y * 3 + x]));
        assert_eq!(data.rows(2..4), &data.values()[2 * 15..4 * 15]);
    }
    // The extremes map exactly to the ends of [-1, 1].
    let ends = idx_from_bytes(("e", &idx_images(1, 1, 2, &[0, 255])), None, "ends").unwrap();
    assert_eq!(ends.values(), &[-1.0, 1.0]);
    assert_eq!(ends.labels(), None);
}

#[test]
fn idx_truncated_payload_names_file_and_sizes() {
    let bytes = idx_images(60_000, 28, 28, &[7u8; 1200]);
    for (name, file) in [("train-images-idx3-ubyte", bytes.clone()), ("train-images-idx3-ubyte.gz", gzip(&bytes))] {
        let err = idx_from_bytes((name, &file), None, "t").unwrap_err();
        assert!(matches!(err, DataError::PayloadLength { expected: 47_040_000, actual: 1200, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains(&format!("{name}: header says 60000×28×28 = 47040000 bytes, file has 1200")), "{text}");
    }
    // One byte too many is as wrong as one too few.
    let long = idx_images(2, 2, 2, &[0u8; 9]);
    for file in [long.clone(), gzip(&long)] {
        let err = idx_from_bytes(("long", &file), None, "t").unwrap_err();
        assert!(matches!(err, DataError::PayloadLength { expected: 8, actual: 9, .. }), "{err:?}");
    }
}

#[test]
fn idx_huge_header_is_rejected_before_allocating() {
    // 2³² − 1 images of 65535×65535 bytes: ~1.8e19 bytes promised, 16 present. An allocation of that size
    // would abort the test process; the reader must compare lengths first.
    let bytes = idx_images(u32::MAX, 65_535, 65_535, &[1u8; 16]);
    let expected = u128::from(u32::MAX) * 65_535 * 65_535;
    for file in [bytes.clone(), gzip(&bytes)] {
        let err = idx_from_bytes(("huge", &file), None, "t").unwrap_err();
        match err {
            DataError::PayloadLength { expected: e, actual, .. } => assert_eq!((e, actual), (expected, 16)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn idx_bad_headers_give_their_own_errors() {
    let labels = idx_labels(2, &[1, 2]);
    let err = idx_from_bytes(("lbl-as-images", &labels), None, "t").unwrap_err();
    assert!(matches!(err, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{err:?}");
    assert!(err.to_string().starts_with("lbl-as-images: magic number is 0x00000801, expected 0x00000803"), "{err}");

    let err = idx_from_bytes(("short", &idx_images(1, 1, 1, &[])[..10]), None, "t").unwrap_err();
    assert!(matches!(err, DataError::ShortHeader { len: 10, needed: 16, .. }), "{err:?}");

    let err = idx_from_bytes(("empty", &idx_images(0, 28, 28, &[])), None, "t").unwrap_err();
    assert!(matches!(err, DataError::Empty { .. }) && err.to_string().contains("empty"), "{err:?}");

    let err = idx_from_bytes(("flat", &idx_images(3, 28, 0, &[])), None, "t").unwrap_err();
    assert!(matches!(err, DataError::ZeroDimension { index: 2, .. }) && err.to_string().starts_with("flat:"));

    let mut not_gzip = vec![0x1f, 0x8b];
    not_gzip.extend_from_slice(&[0xff; 30]);
    let err = idx_from_bytes(("broken.gz", &not_gzip), None, "t").unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }) && err.to_string().starts_with("broken.gz:"), "{err:?}");
}

#[test]
fn idx_image_and_label_counts_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("imgs");
    let labels = dir.path().join("lbls");
    std::fs::write(&images, idx_images(7, 2, 2, &[0u8; 28])).unwrap();
    std::fs::write(&labels, idx_labels(6, &[0u8; 6])).unwrap();
    let err = read_idx_files(&images, &labels).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { image_count: 7, label_count: 6, .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("imgs") && text.contains("lbls"), "{text}");
}

#[test]
fn idx_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), idx_images(1, 1, 1, &[0])).unwrap();
    let err = read_idx(dir.path(), Split::Test).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().starts_with("t10k-labels-idx1-ubyte: not found"), "{err}");
}

#[test]
fn idx_any_prefix_of_a_file_is_an_error_not_a_panic() {
    let plain = idx_images(3, 4, 2, &random_bytes(2, 24));
    let gz = gzip(&plain);
    for file in [&plain, &gz] {
        for len in 0..file.len() {
            assert!(idx_from_bytes(("cut", &file[..len]), None, "t").is_err(), "prefix {len} accepted");
        }
        assert_eq!(idx_from_bytes(("whole", file), None, "t").unwrap().len(), 3);
    }
    // Random bytes behind a valid magic, and pure noise.
    for seed in 0..200u64 {
        let mut bytes = random_bytes(seed, 8 + (seed as usize % 40));
        if seed % 2 == 0 {
            bytes[..4].copy_from_slice(&0x0803u32.to_be_bytes());
        }
        let _ = idx_from_bytes(("noise", &bytes), None, "t");
    }
}

fn cifar_record(label: u8, pixels: &[u8]) -> Vec<u8> {
    let mut record = vec![label];
    record.extend_from_slice(pixels);
    record
}

#[test]
fn cifar_round_trip_places_labels_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cifar-10-batches-bin"); // the archive's own folder is found too
    std::fs::create_dir(&folder).unwrap();
    let sizes = [2usize, 1, 3, 1, 2];
    let mut all_pixels = Vec::new();
    let mut all_labels = Vec::new();
    for (b, &size) in sizes.iter().enumerate() {
        let mut file = Vec::new();
        for r in 0..size {
            let label = ((b * 7 + r * 3) % 10) as u8;
            let pixels = random_bytes(100 + (b * 10 + r) as u64, 3072);
            file.extend(cifar_record(label, &pixels));
            all_pixels.extend(pixels);
            all_labels.push(label);
        }
        std::fs::write(folder.join(format!("data_batch_{}.bin", b + 1)), file).unwrap();
    }
    let data = read_cifar10(dir.path(), Split::Train).unwrap();
    assert_eq!(data.shape(), Shape::Image { channels: 3, height: 32, width: 32 });
    assert_eq!(data.len(), 9);
    assert_decoded(&data, &all_pixels, &all_labels);

    // Planes: red all 0, green all 128, blue all 255, except one marked pixel per plane at (y, x) = (5, 17).
    let mut pixels = [[0u8; 1024], [128; 1024], [255; 1024]].concat();
    for (c, mark) in [(0usize, 10u8), (1, 20), (2, 30)] {
        pixels[c * 1024 + 5 * 32 + 17] = mark;
    }
    let data = cifar10_from_batches(&[("test_batch.bin", &cifar_record(9, &pixels))], "t").unwrap();
    let row = data.row(0);
    for (c, plane, mark) in [(0usize, 0u8, 10u8), (1, 128, 20), (2, 255, 30)] {
        assert_eq!(row[c * 1024], expected_value(plane));
        assert_eq!(row[c * 1024 + 5 * 32 + 17], expected_value(mark));
    }
    assert_eq!(data.labels(), Some(&[9u8][..]));
}

#[test]
fn cifar_bad_files_are_named() {
    let good = cifar_record(3, &[0u8; 3072]);
    let mut bad_length = [good.clone(), good.clone()].concat();
    bad_length.extend_from_slice(&[0u8; 5]);
    let err = cifar10_from_batches(&[("data_batch_1.bin", &bad_length)], "t").unwrap_err();
    assert!(matches!(err, DataError::RecordLength { len: 6151, record: 3073, .. }), "{err:?}");
    assert!(err.to_string().starts_with("data_batch_1.bin: length 6151 bytes"), "{err}");

    let err = cifar10_from_batches(&[("empty.bin", &[])], "t").unwrap_err();
    assert!(matches!(err, DataError::RecordLength { len: 0, .. }), "{err:?}");

    let label_ten = [good.clone(), cifar_record(10, &[0u8; 3072])].concat();
    let err = cifar10_from_batches(&[("test_batch.bin", &label_ten)], "t").unwrap_err();
    assert!(matches!(err, DataError::BadLabel { record: 1, label: 10, max: 9, .. }), "{err:?}");

    let dir = tempfile::tempdir().unwrap();
    for i in [1, 2, 4, 5] {
        std::fs::write(dir.path().join(format!("data_batch_{i}.bin")), &good).unwrap();
    }
    let err = read_cifar10(dir.path(), Split::Train).unwrap_err();
    assert!(err.to_string().starts_with("data_batch_3.bin: not found"), "{err}");
    let err = read_cifar10(dir.path(), Split::Test).unwrap_err();
    assert!(err.to_string().starts_with("test_batch.bin: not found"), "{err}");
}

#[test]
fn downsample_is_the_hand_computed_2x2_mean() {
    // Two channels of 2×4: channel 0 holds 0…7, channel 1 holds 10·(0…7).
    let c0: Vec<f32> = (0..8).map(|v| v as f32).collect();
    let values: Vec<f32> = c0.iter().copied().chain(c0.iter().map(|v| 10.0 * v)).collect();
    let shape = Shape::Image { channels: 2, height: 2, width: 4 };
    let data = Dataset::new(values, shape, Some(vec![4]), "hand").unwrap();
    let half = data.downsample2().unwrap();
    assert_eq!(half.shape(), Shape::Image { channels: 2, height: 1, width: 2 });
    // (0+1+4+5)/4, (2+3+6+7)/4, and ten times those.
    assert_eq!(half.values(), &[2.5, 4.5, 25.0, 45.0]);
    assert_eq!(half.labels(), Some(&[4u8][..]));

    let odd = Dataset::new(vec![0.0; 20], Shape::Image { channels: 1, height: 5, width: 4 }, None, "odd").unwrap();
    let err = odd.downsample2().unwrap_err();
    assert!(matches!(err, DataError::OddSize { height: 5, width: 4, .. }) && err.to_string().contains("5×4"));
    let flat = Dataset::new(vec![0.0; 4], Shape::Vector { dim: 4 }, None, "flat").unwrap();
    assert!(matches!(flat.downsample2().unwrap_err(), DataError::NotImage { .. }));
}

#[test]
fn dataset_rejects_inconsistent_parts() {
    let image = Shape::Image { channels: 1, height: 2, width: 2 };
    assert!(matches!(Dataset::new(vec![], image, None, "none").unwrap_err(), DataError::Empty { .. }));
    assert!(matches!(Dataset::new(vec![0.0; 6], image, None, "six").unwrap_err(), DataError::Invalid(_)));
    let err = Dataset::new(vec![0.0; 8], image, Some(vec![1]), "labels").unwrap_err();
    assert!(err.to_string().contains("labels"), "{err}");
    let data = Dataset::new(vec![0.0; 8], image, Some(vec![1, 2]), "ok").unwrap();
    let wanted = Shape::Image { channels: 1, height: 28, width: 28 };
    let err = data.expect_shape(wanted).unwrap_err();
    assert!(err.to_string().contains("1×2×2 image") && err.to_string().contains("1×28×28"), "{err}");
    assert!(data.expect_shape(image).is_ok());
    assert!("valid".parse::<Split>().is_err());
}

/// data/fashion-mnist/<name>, decompressed and parsed by hand: (header words, payload).
fn embedded_file(name: &str) -> (Vec<u32>, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist").join(name);
    let mut raw = Vec::new();
    GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut raw).unwrap();
    let words = if raw[3] == 3 { 4 } else { 2 };
    let header = (0..words).map(|i| u32::from_be_bytes(raw[4 * i..4 * i + 4].try_into().unwrap())).collect();
    (header, raw[4 * words..].to_vec())
}

#[test]
fn embedded_subset_matches_its_files() {
    for (split, prefix, n) in [(Split::Train, "train", 10_000usize), (Split::Test, "t10k", 2_000)] {
        let data = embedded_fashion_mnist(split).unwrap();
        let (image_header, pixels) = embedded_file(&format!("{prefix}-images-idx3-ubyte.gz"));
        let (label_header, labels) = embedded_file(&format!("{prefix}-labels-idx1-ubyte.gz"));
        assert_eq!(image_header, vec![0x803, n as u32, 28, 28]);
        assert_eq!(label_header, vec![0x801, n as u32]);
        assert_eq!((data.len(), data.dim()), (n, 784));
        assert!(data.values().iter().all(|v| (-1.0..=1.0).contains(v)));
        assert_decoded(&data, &pixels, &labels);
        let mut histogram = [0usize; 10];
        for &l in data.labels().unwrap() {
            histogram[l as usize] += 1;
        }
        let mut raw_histogram = [0usize; 10];
        for &l in &labels {
            raw_histogram[l as usize] += 1;
        }
        assert_eq!(histogram, raw_histogram);
        assert_eq!(histogram.iter().sum::<usize>(), n);
    }
}

#[test]
fn embedded_files_have_the_documented_digests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fashion-mnist");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    let mut checked = 0;
    for line in readme.lines().filter(|l| l.starts_with("| ") && l.contains(".gz |")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (name, size, digest) = (cells[1], cells[2], cells[3]);
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(bytes.len().to_string(), size, "{name}");
        let actual: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(actual, digest, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn embedded_downsample_keeps_the_mean() {
    // Pooling averages disjoint 2×2 blocks, so the mean over all pixels is unchanged.
    let data = embedded_fashion_mnist(Split::Test).unwrap();
    let half = data.downsample2().unwrap();
    assert_eq!(half.shape(), Shape::Image { channels: 1, height: 14, width: 14 });
    let mean = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    assert!((mean(data.values()) - mean(half.values())).abs() < 1e-6);
    // Row by row against a direct f64 computation.
    for i in [0, 999, 1999] {
        let (x, y) = (data.row(i), half.row(i));
        for (k, &v) in y.iter().enumerate() {
            let (r, c) = (2 * (k / 14), 2 * (k % 14));
            let direct = [(r, c), (r, c + 1), (r + 1, c), (r + 1, c + 1)]
                .iter()
                .map(|&(a, b)| f64::from(x[a * 28 + b]))
                .sum::<f64>()
                / 4.0;
            assert!((f64::from(v) - direct).abs() < 2e-7, "row {i} pixel {k}");
        }
    }
}
