//! The binary's command modules (the closed-form commands live in main.rs).

pub mod classifier;
pub mod demo;
pub mod evaluate;
pub mod parse;
pub mod reflow;
pub mod train;

pub(crate) use super::{failure, print_stdout, Failure, Format, RunArgs};

/// `on_device!(device, |b| body)`: run `body` with `b` the backend `device` names, the CPU reference or
/// the CUDA kernels. Without a GPU (or NVRTC), or in a build without the `cuda` feature, `--device cuda`
/// is an exit-2 failure that says why.
macro_rules! on_device {
    ($device:expr, |$b:ident| $body:expr) => {
        match $device {
            flowcollapse::experiment::train::Device::Cpu => {
                let $b = flowcollapse::train::CpuBackend::new();
                $body
            }
            #[cfg(feature = "cuda")]
            flowcollapse::experiment::train::Device::Cuda => {
                let $b = flowcollapse::train::CudaBackend::new(0)
                    .map_err(|e| $crate::failure(2, format!("invalid device = cuda: {e}")))?;
                eprintln!("device: {}", flowcollapse::train::Backend::name(&$b));
                $body
            }
            #[cfg(not(feature = "cuda"))]
            flowcollapse::experiment::train::Device::Cuda => Err($crate::failure(
                2,
                "invalid device = cuda: this binary was built without the `cuda` feature (allowed: cpu)",
            )),
        }
    };
}
pub(crate) use on_device;

/// A progress bar on stderr for `total` units of long work, drawn only on a terminal (indicatif hides it
/// otherwise) and not at all for no work.
pub(crate) fn progress(total: u64, unit: &str) -> indicatif::ProgressBar {
    if total == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let template = format!("{{bar:30}} {{pos}}/{{len}} {unit}  [{{elapsed_precise}} < {{eta_precise}}]");
    bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("a valid template"));
    bar
}

/// A resume goes on only if this version resolves the run's recorded settings to the very run it recorded
/// (`now` against the manifest's `recorded` block); otherwise exit 2 naming the first setting that differs.
pub(crate) fn same_resolution(
    manifest: &std::path::Path,
    recorded: &serde_json::Value,
    now: &serde_json::Value,
) -> Result<(), Failure> {
    match flowcollapse::experiment::train::first_difference(recorded, now) {
        None => Ok(()),
        Some((field, was, is)) => Err(failure(
            2,
            format!(
                "{}: this version of flowcollapse cannot continue the run exactly: it resolves {field} to {is}, \
                 the run was started with {was} (start a new run, or resume with the version that started it)",
                manifest.display()
            ),
        )),
    }
}
