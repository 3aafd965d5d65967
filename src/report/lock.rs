//! One writer per run directory: an exclusive advisory lock on `DIR/.lock`, held as long as the process
//! writes the directory.
//!
//! The operating system releases the lock when its process ends, however it ends, so the lock also tells a
//! crashed run from a live one: a manifest that says `running` while nobody holds the lock belongs to a
//! process that died. The lock file itself stays (empty); it is not part of the results.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The lock file's name inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// Why a directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{dir}: another flowcollapse process is writing this run directory (it holds {dir}/.lock)")]
    Held { dir: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A held lock on a run directory; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Create `dir` if needed and lock it, without waiting; then remove the temporary files that killed
    /// writers left in it ([`super::atomic::remove_stale`]).
    pub fn acquire(dir: &Path) -> Result<DirLock, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Io { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => {
                // Holding the lock, we are the directory's only writer: what a killed one left can go.
                super::atomic::remove_stale(dir).map_err(|source| LockError::Io { path: dir.to_path_buf(), source })?;
                Ok(DirLock { _file: file })
            }
            Err(TryLockError::WouldBlock) => Err(LockError::Held { dir: dir.to_path_buf() }),
            Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
        }
    }

    /// Whether some process holds the lock of `dir` now (false when there is no lock file).
    pub fn is_held(dir: &Path) -> bool {
        let Ok(file) = OpenOptions::new().write(true).open(dir.join(LOCK_FILE)) else { return false };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }
}

/// Whether `dir` holds nothing but (possibly) its lock file: a fresh run may start there.
pub fn is_empty_but_lock(dir: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(dir)? {
        if entry?.file_name() != LOCK_FILE {
            return Ok(false);
        }
    }
    Ok(true)
}
