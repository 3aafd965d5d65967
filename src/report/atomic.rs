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

/// The process id in a leftover's name: `.tmp-PID-NAME` (an atomic write's temporary file) or
/// `.NAME.partial-PID` (a run directory being staged), else `None`.
fn leftover_pid(name: &str) -> Option<u32> {
    if let Some(rest) = name.strip_prefix(".tmp-") {
        return rest.split_once('-').and_then(|(pid, _)| pid.parse().ok());
    }
    let (_, pid) = name.strip_prefix('.')?.rsplit_once(".partial-")?;
    pid.parse().ok()
}

/// Whether process `pid` is alive. Only answerable through /proc; elsewhere every process counts as
/// alive, so nothing is removed that might still be written.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Remove the temporary files and staging directories in `dir` (and, for temporary files, below it) that
/// belong to processes no longer running: what a killed writer left. Returns what was removed.
/// Entries of live processes, the caller's own included, are kept.
pub fn remove_stale(dir: &Path) -> io::Result<Vec<PathBuf>> {
    remove_stale_in(dir, true)
}

/// [`remove_stale`] in `dir` itself only: beside a new run directory, which may be any folder.
pub fn remove_stale_staging(dir: &Path) -> io::Result<Vec<PathBuf>> {
    remove_stale_in(dir, false)
}

fn remove_stale_in(dir: &Path, below: bool) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return Ok(removed) };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type()?.is_dir();
        match leftover_pid(&name) {
            Some(pid) if pid != std::process::id() && !process_alive(pid) => {
                if is_dir {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
                removed.push(path);
            }
            Some(_) => {}
            None if below && is_dir && !entry.file_type()?.is_symlink() => {
                removed.extend(remove_stale_in(&path, true)?)
            }
            None => {}
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_carry_their_writer() {
        assert_eq!(leftover_pid(".tmp-4321-checkpoint.safetensors"), Some(4321));
        assert_eq!(leftover_pid(".run-7.partial-99"), Some(99));
        assert_eq!(leftover_pid("records.csv"), None);
        assert_eq!(leftover_pid(".lock"), None);
        assert_eq!(leftover_pid(".tmp-x-name"), None);
    }

    #[test]
    fn only_a_dead_writer_s_leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has certainly exited: a finished child.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let mine = std::process::id();
        let names = [format!(".tmp-{dead}-records.csv"), format!(".tmp-{mine}-records.csv"), "records.csv".to_string()];
        fs::create_dir(dir.path().join("gen-01")).unwrap();
        for name in &names {
            fs::write(dir.path().join(name), b"x").unwrap();
            fs::write(dir.path().join("gen-01").join(name), b"x").unwrap();
        }
        fs::create_dir(dir.path().join(format!(".run.partial-{dead}"))).unwrap();
        fs::create_dir(dir.path().join(format!(".run.partial-{mine}"))).unwrap();
        let removed = remove_stale(dir.path()).unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        let mut left: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(
            left,
            [format!(".run.partial-{mine}"), format!(".tmp-{mine}-records.csv"), "gen-01".into(), "records.csv".into()]
        );
        assert_eq!(fs::read_dir(dir.path().join("gen-01")).unwrap().count(), 2);
    }
}
