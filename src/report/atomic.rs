//! Nothing half-written: every file goes to a temporary name in the same directory, is fsynced, then renamed
//! (and the directory fsynced), so a crash or a power loss leaves the old file or the new one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A sibling temporary path that keeps the file extension (encoders pick their format from it).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".tmp-{}-{name}", std::process::id()))
}

/// Write `bytes` to `path` atomically and durably: a temporary sibling, written and fsynced, renamed into
/// place, and the directory fsynced, so that after a power loss `path` holds the old bytes or the new ones.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_sibling(path);
    let written = fs::File::create(&tmp).and_then(|mut f| {
        io::Write::write_all(&mut f, bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    renamed.and_then(|()| sync_parent(path))
}

/// fsync the directory holding `path`, which makes a rename in it durable.
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(dir)?.sync_all()
}

/// Run `render` against a temporary sibling of `path`, then rename it into place.
/// On error the temporary file is removed and `path` is untouched.
pub fn with_temp_file<E: From<io::Error>>(path: &Path, render: impl FnOnce(&Path) -> Result<(), E>) -> Result<(), E> {
    let tmp = temp_sibling(path);
    match render(&tmp) {
        Ok(()) => fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| fs::rename(&tmp, path))
            .and_then(|()| sync_parent(path))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                E::from(e)
            }),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}
