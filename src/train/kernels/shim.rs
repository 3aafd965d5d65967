//! The shim device: the kernels of `kernels/*.cu` compiled by g++ for the CPU (see [`super::shim_ffi`]),
//! with host memory standing in for device memory. Built for tests (feature `kernel-shim`): it runs the very
//! kernel code, launch shapes and arguments a GPU would, on any machine.

use super::shim_ffi::{self as ffi, ShimLaunch};
use super::{Arg, Device, Kernel, Shape};
use crate::train::backend::BResult;

/// Host memory and the shim's launches.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShimDevice;

/// The `i`-th argument as the type the kernel's C signature wants (a mismatch is a bug in `KernelBackend`).
struct Args<'a>(&'a [Arg]);

impl Args<'_> {
    fn ptr(&self, i: usize) -> *mut f32 {
        match self.0[i] {
            Arg::Ptr(p) => p as *mut f32,
            other => panic!("argument {i}: a pointer expected, got {other:?}"),
        }
    }
    fn ptr64(&self, i: usize) -> *mut f64 {
        self.ptr(i) as *mut f64
    }
    fn i64(&self, i: usize) -> i64 {
        match self.0[i] {
            Arg::I64(x) => x,
            other => panic!("argument {i}: long long expected, got {other:?}"),
        }
    }
    fn i32(&self, i: usize) -> i32 {
        match self.0[i] {
            Arg::I32(x) => x,
            other => panic!("argument {i}: int expected, got {other:?}"),
        }
    }
    fn u64(&self, i: usize) -> u64 {
        match self.0[i] {
            Arg::U64(x) => x,
            other => panic!("argument {i}: unsigned long long expected, got {other:?}"),
        }
    }
    fn f32(&self, i: usize) -> f32 {
        match self.0[i] {
            Arg::F32(x) => x,
            other => panic!("argument {i}: float expected, got {other:?}"),
        }
    }
    fn f64(&self, i: usize) -> f64 {
        match self.0[i] {
            Arg::F64(x) => x,
            other => panic!("argument {i}: double expected, got {other:?}"),
        }
    }
}

impl Device for ShimDevice {
    type Buf = Vec<f32>;
    type Buf64 = Vec<f64>;

    fn name(&self) -> String {
        "kernel-shim".into()
    }

    fn alloc(&self, len: usize) -> BResult<Vec<f32>> {
        Ok(vec![0.0; len])
    }

    fn alloc64(&self, len: usize) -> BResult<Vec<f64>> {
        Ok(vec![0.0; len])
    }

    fn len(&self, buf: &Vec<f32>) -> usize {
        buf.len()
    }

    fn len64(&self, buf: &Vec<f64>) -> usize {
        buf.len()
    }

    fn addr(&self, buf: &Vec<f32>) -> u64 {
        buf.as_ptr() as u64
    }

    fn addr_mut(&self, buf: &mut Vec<f32>) -> u64 {
        buf.as_mut_ptr() as u64
    }

    fn addr64(&self, buf: &Vec<f64>) -> u64 {
        buf.as_ptr() as u64
    }

    fn addr64_mut(&self, buf: &mut Vec<f64>) -> u64 {
        buf.as_mut_ptr() as u64
    }

    fn htod(&self, src: &[f32], dst: u64) -> BResult<()> {
        // SAFETY: `dst` came from a writable view of at least `src.len()` entries (checked by the caller).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut f32, src.len()) };
        Ok(())
    }

    fn htod64(&self, src: &[f64], dst: u64) -> BResult<()> {
        // SAFETY: as `htod`.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut f64, src.len()) };
        Ok(())
    }

    fn dtoh(&self, src: u64, dst: &mut [f32]) -> BResult<()> {
        // SAFETY: `src` came from a view of at least `dst.len()` entries.
        unsafe { std::ptr::copy_nonoverlapping(src as *const f32, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn dtoh64(&self, src: u64, dst: &mut [f64]) -> BResult<()> {
        // SAFETY: as `dtoh`.
        unsafe { std::ptr::copy_nonoverlapping(src as *const f64, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }

    fn dtod(&self, src: u64, dst: u64, len: usize) -> BResult<()> {
        // SAFETY: both ranges hold `len` entries; `copy` handles overlap as cudaMemcpy's contract leaves open.
        unsafe { std::ptr::copy(src as *const f32, dst as *mut f32, len) };
        Ok(())
    }

    fn launch(&self, kernel: Kernel, shape: Shape, args: &[Arg]) -> BResult<()> {
        let cfg = ShimLaunch { grid: shape.grid, block: shape.block };
        let c = &cfg as *const ShimLaunch;
        let a = Args(args);
        // SAFETY: `KernelBackend` built the arguments from views whose lengths it checked against the
        // sizes passed, following each kernel's C signature (kernels/README.md).
        unsafe {
            match kernel {
                Kernel::FillConst => ffi::shim_fc_fill_const(c, a.ptr(0), a.i64(1), a.f32(2)),
                Kernel::FillUniform => ffi::shim_fc_fill_uniform(c, a.ptr(0), a.i64(1), a.u64(2), a.u64(3)),
                Kernel::FillNormal => ffi::shim_fc_fill_normal(c, a.ptr(0), a.i64(1), a.u64(2), a.u64(3)),
                Kernel::GatherRows => {
                    ffi::shim_fc_gather_rows(c, a.ptr(0), a.i64(1), a.i64(2), a.ptr(3), a.i64(4), a.u64(5))
                }
                Kernel::FlowPairs => {
                    ffi::shim_fc_flow_pairs(c, a.i64(0), a.i64(1), a.ptr(2), a.ptr(3), a.ptr(4), a.ptr(5), a.ptr(6))
                }
                Kernel::BiasSilu => ffi::shim_fc_bias_silu(c, a.i64(0), a.i64(1), a.ptr(2), a.ptr(3), a.ptr(4)),
                Kernel::SiluBackward => ffi::shim_fc_silu_backward(c, a.i64(0), a.ptr(1), a.ptr(2), a.ptr(3), a.ptr(4)),
                Kernel::AddBias => ffi::shim_fc_add_bias(c, a.i64(0), a.i64(1), a.ptr(2), a.ptr(3)),
                Kernel::ColumnSum => ffi::shim_fc_column_sum(c, a.i64(0), a.i64(1), a.ptr(2), a.ptr(3)),
                Kernel::TimeEmbed => ffi::shim_fc_time_embed(c, a.i64(0), a.i64(1), a.ptr64(2), a.ptr(3), a.ptr(4)),
                Kernel::SumSquaresPartials => ffi::shim_fc_sum_squares_partials(c, a.i64(0), a.ptr(1), a.ptr64(2)),
                Kernel::MsePartials => {
                    ffi::shim_fc_mse_partials(c, a.i64(0), a.ptr(1), a.ptr(2), a.ptr(3), a.f32(4), a.ptr64(5))
                }
                Kernel::FinishSum => ffi::shim_fc_finish_sum(c, a.ptr64(0), a.i64(1), a.f64(2), a.ptr64(3), a.i32(4)),
                Kernel::AdamEma => ffi::shim_fc_adam_ema(
                    c,
                    a.i64(0),
                    a.ptr(1),
                    a.ptr(2),
                    a.ptr(3),
                    a.ptr(4),
                    a.ptr(5),
                    a.f32(6),
                    a.f32(7),
                    a.f32(8),
                    a.f32(9),
                    a.f32(10),
                    a.f32(11),
                    a.f32(12),
                    a.f32(13),
                ),
                Kernel::Euler => ffi::shim_fc_euler(c, a.i64(0), a.f32(1), a.ptr(2), a.ptr(3)),
                Kernel::EulerTo => ffi::shim_fc_euler_to(c, a.i64(0), a.f32(1), a.ptr(2), a.ptr(3), a.ptr(4)),
                Kernel::Heun => ffi::shim_fc_heun(c, a.i64(0), a.f32(1), a.ptr(2), a.ptr(3), a.ptr(4)),
                Kernel::Sgemm => ffi::shim_fc_sgemm(
                    c,
                    a.i32(0),
                    a.i32(1),
                    a.i32(2),
                    a.ptr(3),
                    a.i64(4),
                    a.i32(5),
                    a.ptr(6),
                    a.i64(7),
                    a.i32(8),
                    a.ptr(9),
                    a.i64(10),
                    a.i32(11),
                ),
            }
        }
        Ok(())
    }
}

impl super::KernelBackend<ShimDevice> {
    /// The kernels, executed on the CPU through the shim.
    pub fn new() -> Self {
        Self::on(ShimDevice)
    }
}

impl Default for super::KernelBackend<ShimDevice> {
    fn default() -> Self {
        Self::new()
    }
}
