// Shared by build.rs and training/build.rs (through `include!`): links every binary, test and the
// plugin so that they run with no LD_LIBRARY_PATH: an rpath to the libtorch that tch built against,
// and libtorch_cuda kept as a dependency although no symbol of it is referenced (otherwise
// `--as-needed` drops it and CUDA looks absent at run time).

fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(libtorch) = std::env::var("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set: run scripts/test once to create .venv");
        return;
    };
    let root = std::fs::canonicalize(&libtorch).unwrap_or_else(|_| libtorch.into());
    let lib = root.join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{}", lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
