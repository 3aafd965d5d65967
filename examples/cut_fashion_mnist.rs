//! Cut the embedded Fashion-MNIST subset in `data/fashion-mnist/` from the full IDX files.
//!
//! The full files come from the Debian package `dataset-fashion-mnist`
//! (`apt-get install -y dataset-fashion-mnist`, installed under /usr/share/datasets/fashion-mnist).
//! The subset is the first 10 000 training and the first 2 000 test records, images and labels alike,
//! rewritten as gzip'd IDX with the count in the header changed and nothing else.
//!
//! Run with `cargo run --release --example cut_fashion_mnist [SOURCE_DIR [OUT_DIR]]`; it prints the
//! sha256 of every file it writes (the table in data/fashion-mnist/README.md).
//!
//! The gzip stream is written at the best compression level with mtime 0 and no file name, so the same
//! flate2 / miniz_oxide versions give byte-identical files.

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};
use flowcollapse::report::atomic::write_atomic;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// (file stem, magic number, records kept).
const CUTS: [(&str, u32, usize); 4] = [
    ("train-images-idx3-ubyte", 0x0803, 10_000),
    ("train-labels-idx1-ubyte", 0x0801, 10_000),
    ("t10k-images-idx3-ubyte", 0x0803, 2_000),
    ("t10k-labels-idx1-ubyte", 0x0801, 2_000),
];

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let source = args.next().map(PathBuf::from).unwrap_or_else(|| "/usr/share/datasets/fashion-mnist".into());
    let out = args.next().map(PathBuf::from).unwrap_or_else(|| "data/fashion-mnist".into());
    match run(&source, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cut_fashion_mnist: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(source: &Path, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (stem, magic, keep) in CUTS {
        let from = source.join(format!("{stem}.gz"));
        let to = out.join(format!("{stem}.gz"));
        let bytes = cut(&from, magic, keep)?;
        let gz = gzip(&bytes).map_err(|e| format!("gzip {stem}: {e}"))?;
        write_atomic(&to, &gz).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
        let digest: String = Sha256::digest(&gz).iter().map(|b| format!("{b:02x}")).collect();
        println!("{digest}  {stem}.gz  ({} bytes)", gz.len());
    }
    Ok(())
}

/// The first `keep` records of an IDX file, header rewritten to say `keep`.
fn cut(path: &Path, magic: u32, keep: usize) -> Result<Vec<u8>, String> {
    let name = path.display();
    let compressed = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let mut raw = Vec::new();
    MultiGzDecoder::new(&compressed[..]).read_to_end(&mut raw).map_err(|e| format!("{name}: bad gzip: {e}"))?;
    let word = |i: usize| -> Option<u32> { Some(u32::from_be_bytes(raw.get(4 * i..4 * i + 4)?.try_into().ok()?)) };
    let found = word(0).ok_or(format!("{name}: shorter than its magic number"))?;
    if found != magic {
        return Err(format!("{name}: magic 0x{found:08x}, expected 0x{magic:08x}"));
    }
    let ndims = (magic & 0xff) as usize;
    let dims: Vec<usize> = (1..=ndims)
        .map(|i| word(i).map(|v| v as usize))
        .collect::<Option<_>>()
        .ok_or(format!("{name}: short header"))?;
    let header = 4 * (1 + ndims);
    let record: usize = dims[1..].iter().product();
    if dims[0] < keep || raw.len() != header + dims[0] * record {
        return Err(format!("{name}: header {dims:?} does not match {} bytes or holds fewer than {keep}", raw.len()));
    }
    let mut outbytes = raw[..header + keep * record].to_vec();
    outbytes[4..8].copy_from_slice(&(keep as u32).to_be_bytes());
    Ok(outbytes)
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}
