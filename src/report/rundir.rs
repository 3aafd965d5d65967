//! Run directories: built under a temporary name and renamed into place when complete, so a failed or
//! interrupted run leaves no half-written directory behind.

use super::atomic::write_atomic;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A run directory being written. Files go into [`RunDir::path`]; [`RunDir::finish`] publishes it.
/// Dropped without `finish`, the partial directory is removed.
#[derive(Debug)]
pub struct RunDir {
    staging: PathBuf,
    target: PathBuf,
    finished: bool,
}

impl RunDir {
    /// Stage a run that will appear at `target`, which must not exist or be an empty directory.
    pub fn create(target: &Path) -> io::Result<RunDir> {
        if target.exists() && !is_empty_dir(target)? {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} already exists and is not an empty directory", target.display()),
            ));
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if let Some(file) = parent.ancestors().find(|a| a.is_file()) {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is a file, not a directory", file.display()),
            ));
        }
        fs::create_dir_all(&parent).map_err(at(&parent))?;
        // Staging directories of killed runs beside this one.
        super::atomic::remove_stale_staging(&parent).map_err(at(&parent))?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(at(&staging))?;
        }
        fs::create_dir(&staging).map_err(at(&staging))?;
        Ok(RunDir { staging, target: target.to_path_buf(), finished: false })
    }

    /// A fresh directory `runs/<prefix>-<UTC time>` (with a counter if that name is taken).
    pub fn create_fresh(root: &Path, prefix: &str) -> io::Result<RunDir> {
        let stamp = utc_stamp(SystemTime::now());
        let mut target = root.join(format!("{prefix}-{stamp}"));
        let mut counter = 2;
        while target.exists() {
            target = root.join(format!("{prefix}-{stamp}-{counter}"));
            counter += 1;
        }
        Self::create(&target)
    }

    /// Where files are written while the run is in progress.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Where the run will be once finished.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Write one file of the run atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let path = self.staging.join(name);
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Publish the run under its final name.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if self.target.exists() {
            fs::remove_dir(&self.target)?; // empty, checked at creation
        }
        fs::rename(&self.staging, &self.target)?;
        self.finished = true;
        Ok(self.target.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// An I/O error that names its path.
fn at(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn is_empty_dir(path: &Path) -> io::Result<bool> {
    Ok(path.is_dir() && fs::read_dir(path)?.next().is_none())
}

/// `YYYYmmddTHHMMSSZ` for a time after the epoch (proleptic Gregorian calendar, UTC).
pub fn utc_stamp(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_known_dates() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        // 2000-02-29 12:34:56 UTC = 951 827 696 s.
        assert_eq!(utc_stamp(UNIX_EPOCH + Duration::from_secs(951_827_696)), "20000229T123456Z");
    }

    #[test]
    fn unfinished_runs_leave_nothing() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("run");
        {
            let run = RunDir::create(&target).unwrap();
            run.write("a.txt", b"x").unwrap();
        }
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
        let run = RunDir::create(&target).unwrap();
        run.write("a.txt", b"x").unwrap();
        let done = run.finish().unwrap();
        assert_eq!(fs::read(done.join("a.txt")).unwrap(), b"x");
        assert!(RunDir::create(&target).is_err(), "a finished run is never overwritten");
    }
}
