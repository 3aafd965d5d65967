//! Every backend present in this build, for tests that run one body on each (as candle and dfdx test
//! every device): the CPU reference always; the `ShimBackend` (the CUDA kernels executed on the CPU) with
//! the `kernel-shim` feature; the `CudaBackend` (feature `cuda`) in tests that are ignored unless asked for
//! with `-- --ignored` on a machine with a GPU.

/// `on_each_backend!(body_fn)` expands to one `#[test]` per backend, named `cpu`, `kernel_shim` and
/// `kernel_cuda` inside a module named after the body, so `cargo test kernel` runs every kernel test
/// (and `cargo test kernel_cuda -- --ignored` the GPU ones).
#[macro_export]
macro_rules! on_each_backend {
    ($($body:ident),* $(,)?) => {$(
        mod $body {
            #[test]
            fn cpu() {
                super::$body(&flowcollapse::train::CpuBackend::new());
            }

            #[cfg(feature = "kernel-shim")]
            #[test]
            fn kernel_shim() {
                super::$body(&flowcollapse::train::ShimBackend::new());
            }

            #[cfg(feature = "cuda")]
            #[test]
            #[ignore = "needs an NVIDIA GPU: cargo test --release kernel_cuda -- --ignored"]
            fn kernel_cuda() {
                super::$body(&$crate::common::backends::cuda());
            }
        }
    )*};
}

/// The GPU backend (the `kernel_cuda` tests are ignored unless asked for, and then a GPU must be there).
#[cfg(feature = "cuda")]
#[allow(dead_code)]
pub fn cuda() -> flowcollapse::train::CudaBackend {
    flowcollapse::train::CudaBackend::new(0).unwrap_or_else(|e| panic!("kernel_cuda tests need a GPU: {e}"))
}
