//! The built plugin loads with only GST_PLUGIN_PATH set: libtorch is found through the rpath, and
//! libtorch_cuda stays a dependency so that CUDA is usable where a GPU exists.

use std::path::PathBuf;
use std::process::Command;

/// target/<profile>/, where cargo puts the plugin next to the test's deps/ folder.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_owned()
}

/// Builds the plugin (`cargo test` builds only the rlib) and returns its path.
fn plugin() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let release = profile_dir().ends_with("release");
    let status = Command::new(cargo)
        // The same selection as scripts/test, so that an up-to-date tree rebuilds nothing.
        .args(["build", "--workspace", "--all-targets"])
        .args(release.then_some("--release"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "cargo build of the plugin failed");
    let plugin = profile_dir().join("libgsthyperres.so");
    assert!(plugin.exists(), "{} not built", plugin.display());
    plugin
}

#[test]
fn gst_inspect_loads_the_plugin_with_only_gst_plugin_path() {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new("gst-inspect-1.0")
        .arg(plugin())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("GST_PLUGIN_PATH", profile_dir())
        .output()
        .expect("gst-inspect-1.0 (gstreamer1.0-tools) runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("hyperres"), "{stdout}");
}

#[test]
fn plugin_links_libtorch_cuda_and_carries_an_rpath_to_libtorch() {
    let output = Command::new("readelf")
        .arg("-d")
        .arg(plugin())
        .output()
        .unwrap();
    let dynamic = String::from_utf8_lossy(&output.stdout);
    assert!(dynamic.contains("[libtorch_cuda.so]"), "{dynamic}");
    let runpath = dynamic
        .lines()
        .find(|l| l.contains("(RUNPATH)") || l.contains("(RPATH)"))
        .expect("an rpath");
    let dir = runpath.split('[').nth(1).unwrap().trim_end_matches(']');
    assert!(
        PathBuf::from(dir).join("libtorch_cpu.so").exists(),
        "{runpath}"
    );
}

#[test]
fn gst_launch_runs_a_pipeline_with_only_gst_plugin_path() {
    let home = tempfile::tempdir().unwrap();
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fixture-denoise-4b.safetensors");
    plugin();
    let output = Command::new("gst-launch-1.0")
        .args([
            "videotestsrc",
            "num-buffers=3",
            "!",
            "video/x-raw,width=40,height=30",
            "!",
            "videoconvert",
            "!",
        ])
        .args([
            "hyperres",
            &format!("model-location={}", model.display()),
            "level=20",
            "!",
        ])
        .args(["videoconvert", "!", "fakesink"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("GST_PLUGIN_PATH", profile_dir())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success() && log.contains("Got EOS"), "{log}");
}
