//! Build script. Does nothing unless the feature `kernel-shim` is on (the default build needs no C++
//! compiler); with it, compiles the CUDA kernels of kernels/*.cu for the CPU (kernels/host/shim.cpp through
//! kernels/host/cuda_on_cpu.h) into a static library linked into the crate (`train::shim_ffi`).
//!
//! `FLOWCOLLAPSE_SHIM_TSAN=1` builds that library with ThreadSanitizer (`-fsanitize=thread -O1 -g`) and links
//! the TSan runtime (libtsan.so), so that races inside the kernels are reported while the Rust tests run.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "kernel-shim")]
    kernel_shim::build();
}

#[cfg(feature = "kernel-shim")]
mod kernel_shim {
    pub fn build() {
        println!("cargo:rerun-if-changed=kernels");
        println!("cargo:rerun-if-env-changed=FLOWCOLLAPSE_SHIM_TSAN");
        let tsan = std::env::var("FLOWCOLLAPSE_SHIM_TSAN").is_ok_and(|v| v == "1");
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .std("c++20")
            .cpp_link_stdlib("stdc++")
            .file("kernels/host/shim.cpp")
            .include("kernels")
            // a·b + c is never fused (the GPU build uses --fmad=false; kernels call fmaf where they fuse).
            .flag("-fno-fast-math")
            .flag("-ffp-contract=off")
            .flag("-pthread")
            // Optimised even in debug builds: the tests run training steps through the shim.
            .opt_level(if tsan { 1 } else { 2 });
        if tsan {
            build.flag("-fsanitize=thread").debug(true);
        }
        build.compile("flowcollapse_kernel_shim");
        if tsan {
            println!("cargo:rustc-link-lib=dylib=tsan");
        }
    }
}
