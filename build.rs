//! Plugin version info for GStreamer, libtorch linking (see scripts/libtorch_link.rs) and the
//! C++ parts (the CPU allocator src/cpu_buffers.cpp, the CUDA float32 switch src/cuda_fp32.cpp),
//! compiled against libtorch's headers.

include!("scripts/libtorch_link.rs");

fn main() {
    gst_plugin_version_helper::info();
    link_libtorch();
    build_cxx();
}

fn build_cxx() {
    println!("cargo:rerun-if-changed=src/cpu_buffers.cpp");
    println!("cargo:rerun-if-changed=src/cuda_fp32.cpp");
    let libtorch = std::env::var("LIBTORCH").expect("LIBTORCH (set by .cargo/config.toml)");
    cc::Build::new()
        .cpp(true)
        .file("src/cpu_buffers.cpp")
        .file("src/cuda_fp32.cpp")
        .include(std::path::Path::new(&libtorch).join("include"))
        .flag("-std=c++17")
        // The ABI of the PyPI torch 2.11 wheels.
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .warnings(false)
        .compile("hyperres_cxx");
}
