//! libtorch linking shared with the plugin crate, and the source commit for checkpoint provenance.

include!("../scripts/libtorch_link.rs");

fn main() {
    link_libtorch();
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HYPERRES_COMMIT={commit}");
}
