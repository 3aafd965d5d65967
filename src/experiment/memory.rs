//! Memory estimates of validated settings, checked against what the machine has before anything large is
//! allocated: a run that cannot fit is an exit-2 error naming the flags, the estimate and the limit, not an
//! abort minutes later.

use super::ConfigError;

/// Bytes this process may count on: `FLOWCOLLAPSE_MEMORY_LIMIT` (bytes) if set, else the kernel's
/// `MemAvailable` (Linux), else unknown.
pub fn available() -> Option<f64> {
    if let Some(limit) = std::env::var("FLOWCOLLAPSE_MEMORY_LIMIT").ok().and_then(|v| v.parse::<f64>().ok()) {
        return Some(limit);
    }
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// `bytes` in GB with one decimal (MB below 1 GB).
pub fn human(bytes: f64) -> String {
    if bytes >= 1e9 {
        format!("{:.1} GB", bytes / 1e9)
    } else {
        format!("{:.0} MB", bytes / 1e6)
    }
}

/// A covariance given by `d` eigenvalues: its eigendecomposition holds a d × d f64 matrix, and its users make
/// a few more (four counted).
pub fn check_spectrum(d: usize) -> Result<(), ConfigError> {
    let d = d as f64;
    check("spectrum", 4.0 * 8.0 * d * d, &format!("{d} values: d × d matrices"))
}

/// An error naming `field` (the flags that set the size) unless `bytes` fit in the available memory.
pub fn check(field: &'static str, bytes: f64, what: &str) -> Result<(), ConfigError> {
    match available() {
        Some(limit) if bytes > limit => Err(ConfigError::invalid(
            field,
            format!("settings needing about {} ({what})", human(bytes)),
            format!("at most the {} of memory available here", human(limit)),
        )),
        _ => Ok(()),
    }
}
