//! Plugin version info for GStreamer, libtorch linking (see scripts/libtorch_link.rs) and the
//! C++ parts (the CPU allocator src/cpu_buffers.cpp, the CUDA float32 switch src/cuda_fp32.cpp),
//! compiled against libtorch's headers.

include!("scripts/libtorch_link.rs");

fn main() {
    gst_plugin_version_helper::info();
    rerun_on_new_commit();
    link_libtorch();
    build_cxx();
}

/// The plugin's version names the commit (`gst-inspect-1.0 hyperres`), but the rerun-if-changed
/// lines below make cargo rerun this script only when those files change: watch the files a commit
/// or checkout rewrites too, or the plugin keeps reporting the commit of its first build.
fn rerun_on_new_commit() {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        // A path that does not exist would make cargo rerun this script on every build.
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && std::path::Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
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
