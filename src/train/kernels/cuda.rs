//! The GPU device: cudarc's driver API on one stream, the kernels compiled once per process by NVRTC.
//!
//! The driver (`libcuda.so`) and NVRTC (`libnvrtc.so.12`) are loaded at run time, so building needs no
//! CUDA toolkit; [`CudaDevice::new`] checks that both are present before touching them (cudarc panics
//! when a library is missing) and otherwise returns [`BackendError::Unavailable`].
//!
//! Compilation: one translation unit ([`super::translation_unit`]) with `--fmad=false` (element-wise ops
//! then round exactly as the CPU reference; the GEMM calls `fmaf` itself) for the device's own compute
//! capability. Event tracking is off: every launch and copy goes to one stream in order, and host copies
//! synchronise that stream.

use super::{Arg, Device, Kernel, Shape};
use crate::train::backend::{BResult, BackendError};
use cudarc::driver::{
    result as driver, sys, CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig,
    PushKernelArg,
};
use cudarc::nvrtc::{compile_ptx_with_opts, CompileOptions, Ptx};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// NVRTC options of every build of the kernels.
pub fn compile_options(arch: &'static str) -> CompileOptions {
    CompileOptions { fmad: Some(false), arch: Some(arch), name: Some("flowcollapse.cu".into()), ..Default::default() }
}

/// Compile every kernel for `arch` (e.g. "compute_90") to PTX. Needs NVRTC only, no GPU.
pub fn compile(arch: &'static str) -> BResult<String> {
    // SAFETY: only loads the library to see whether it is there.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(BackendError::Unavailable(
            "NVRTC (libnvrtc.so.12) was not found: install the CUDA 12 runtime compiler (or the \
             nvidia-cuda-nvrtc-cu12 wheel) and put its lib directory on LD_LIBRARY_PATH"
                .into(),
        ));
    }
    compile_ptx_with_opts(super::translation_unit(), compile_options(arch))
        .map(|ptx| ptx.to_src())
        .map_err(|e| BackendError::Compile { kernel: "kernels/*.cu".into(), log: e.to_string() })
}

/// The PTX of this process, per architecture, compiled on first use.
fn cached_ptx(arch: &'static str) -> BResult<String> {
    static CACHE: OnceLock<Mutex<HashMap<&'static str, BResult<String>>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    cache.entry(arch).or_insert_with(|| compile(arch)).clone()
}

fn driver_error(e: driver::DriverError) -> BackendError {
    BackendError::Driver(e.to_string())
}

/// One GPU, one stream, the loaded kernels.
#[derive(Clone)]
pub struct CudaDevice {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: Arc<HashMap<Kernel, CudaFunction>>,
    name: String,
}

impl CudaDevice {
    /// GPU `ordinal`, with the kernels compiled and loaded.
    pub fn new(ordinal: usize) -> BResult<Self> {
        // SAFETY: only loads the library to see whether it is there.
        if !unsafe { sys::is_culib_present() } {
            return Err(BackendError::Unavailable(
                "no CUDA driver (libcuda.so) on this machine: --device cuda needs an NVIDIA GPU and its driver; \
                 use --device cpu"
                    .into(),
            ));
        }
        let ctx = CudaContext::new(ordinal).map_err(driver_error)?;
        // SAFETY: one stream does all the work, in order; nothing needs cross-stream events.
        unsafe { ctx.disable_event_tracking() };
        let (major, minor) = ctx.compute_capability().map_err(driver_error)?;
        let arch: &'static str = Box::leak(format!("compute_{major}{minor}").into_boxed_str());
        let module = ctx.load_module(Ptx::from_src(cached_ptx(arch)?)).map_err(driver_error)?;
        let mut functions = HashMap::new();
        for k in Kernel::ALL {
            functions.insert(k, module.load_function(k.name()).map_err(driver_error)?);
        }
        let gpu = ctx.name().map_err(driver_error)?;
        Ok(CudaDevice {
            stream: ctx.default_stream(),
            ctx,
            functions: Arc::new(functions),
            name: format!("cuda:{ordinal} ({gpu})"),
        })
    }

    /// Wait for every queued launch.
    pub fn synchronize(&self) -> BResult<()> {
        self.stream.synchronize().map_err(driver_error)
    }

    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
}

impl Device for CudaDevice {
    type Buf = CudaSlice<f32>;
    type Buf64 = CudaSlice<f64>;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn alloc(&self, len: usize) -> BResult<CudaSlice<f32>> {
        self.stream.alloc_zeros(len.max(1)).map_err(driver_error)
    }

    fn alloc64(&self, len: usize) -> BResult<CudaSlice<f64>> {
        self.stream.alloc_zeros(len.max(1)).map_err(driver_error)
    }

    fn len(&self, buf: &CudaSlice<f32>) -> usize {
        buf.len()
    }

    fn len64(&self, buf: &CudaSlice<f64>) -> usize {
        buf.len()
    }

    fn addr(&self, buf: &CudaSlice<f32>) -> u64 {
        buf.device_ptr(&self.stream).0
    }

    fn addr_mut(&self, buf: &mut CudaSlice<f32>) -> u64 {
        buf.device_ptr_mut(&self.stream).0
    }

    fn addr64(&self, buf: &CudaSlice<f64>) -> u64 {
        buf.device_ptr(&self.stream).0
    }

    fn addr64_mut(&self, buf: &mut CudaSlice<f64>) -> u64 {
        buf.device_ptr_mut(&self.stream).0
    }

    fn htod(&self, src: &[f32], dst: u64) -> BResult<()> {
        // SAFETY: `dst` addresses at least `src.len()` entries (checked by the caller); the copy is
        // synchronous with respect to the host slice because the stream is synchronised before returning.
        unsafe { driver::memcpy_htod_async(dst, src, self.stream.cu_stream()) }.map_err(driver_error)?;
        self.synchronize()
    }

    fn htod64(&self, src: &[f64], dst: u64) -> BResult<()> {
        // SAFETY: as `htod`.
        unsafe { driver::memcpy_htod_async(dst, src, self.stream.cu_stream()) }.map_err(driver_error)?;
        self.synchronize()
    }

    fn dtoh(&self, src: u64, dst: &mut [f32]) -> BResult<()> {
        // SAFETY: `src` addresses at least `dst.len()` entries; the stream is synchronised before `dst` is read.
        unsafe { driver::memcpy_dtoh_async(dst, src, self.stream.cu_stream()) }.map_err(driver_error)?;
        self.synchronize()
    }

    fn dtoh64(&self, src: u64, dst: &mut [f64]) -> BResult<()> {
        // SAFETY: as `dtoh`.
        unsafe { driver::memcpy_dtoh_async(dst, src, self.stream.cu_stream()) }.map_err(driver_error)?;
        self.synchronize()
    }

    fn dtod(&self, src: u64, dst: u64, len: usize) -> BResult<()> {
        // SAFETY: both ranges hold `len` entries (checked by the caller); stream order keeps them consistent.
        unsafe { driver::memcpy_dtod_async(dst, src, 4 * len, self.stream.cu_stream()) }.map_err(driver_error)
    }

    fn launch(&self, kernel: Kernel, shape: Shape, args: &[Arg]) -> BResult<()> {
        let f = &self.functions[&kernel];
        let mut launch = self.stream.launch_builder(f);
        for a in args {
            match a {
                Arg::Ptr(x) | Arg::U64(x) => launch.arg(x),
                Arg::I64(x) => launch.arg(x),
                Arg::I32(x) => launch.arg(x),
                Arg::F32(x) => launch.arg(x),
                Arg::F64(x) => launch.arg(x),
            };
        }
        let cfg = LaunchConfig {
            grid_dim: (shape.grid[0], shape.grid[1], shape.grid[2]),
            block_dim: (shape.block[0], shape.block[1], shape.block[2]),
            shared_mem_bytes: 0,
        };
        // SAFETY: the arguments follow the kernel's C signature in kernels/README.md (built by
        // `KernelBackend`, which checked every buffer length against the shapes).
        unsafe { launch.launch(cfg) }.map(|_| ()).map_err(driver_error)
    }
}

impl super::KernelBackend<CudaDevice> {
    /// The kernels on GPU `ordinal`; [`BackendError::Unavailable`] without a driver or NVRTC.
    pub fn new(ordinal: usize) -> BResult<Self> {
        Ok(Self::on(CudaDevice::new(ordinal)?))
    }
}
