//! The built plugin loads with only GST_PLUGIN_PATH set: libtorch is found through the rpath, and
//! libtorch_cuda stays a dependency so that CUDA is usable where a GPU exists.

use std::path::{Path, PathBuf};
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

/// Runs `videotestsrc ! hyperres HYPERRES_ARGS ! fakesink` through gst-launch-1.0 with only
/// GST_PLUGIN_PATH (and `env`) set; returns whether it succeeded and its output.
fn gst_launch(hyperres_args: &[&str], env: &[(&str, &Path)]) -> (bool, String) {
    let home = tempfile::tempdir().unwrap();
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
            "hyperres",
        ])
        .args(hyperres_args)
        .args(["!", "videoconvert", "!", "fakesink"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("GST_PLUGIN_PATH", profile_dir())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success() && log.contains("Got EOS"), log)
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fixture-denoise-4b.safetensors")
}

#[test]
fn gst_launch_runs_a_pipeline_with_only_gst_plugin_path() {
    let location = format!("model-location={}", fixture().display());
    let (ok, log) = gst_launch(&[&location, "level=20"], &[]);
    assert!(ok, "{log}");
}

/// Without model-location the element opens the bundled model for its task from
/// GST_HYPERRES_MODEL_DIR when set (as it does from meson's install directory), and says where
/// it looked when the file is not there; a bare file name not in the working directory (here the
/// crate's root) names a bundled model.
#[test]
fn bundled_models_are_read_from_gst_hyperres_model_dir() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("GST_HYPERRES_MODEL_DIR", dir.path())];
    let by_task = ["task=denoise", "level=20"];
    let by_name = ["model-location=other.safetensors", "level=20"];
    for (args, name) in [(by_task, "denoise-rgb"), (by_name, "other")] {
        let (ok, log) = gst_launch(&args, &env);
        let expected = dir.path().join(format!("{name}.safetensors"));
        assert!(!ok, "{log}");
        assert!(
            log.contains(&expected.display().to_string()) && log.contains("GST_HYPERRES_MODEL_DIR"),
            "{log}"
        );
        std::fs::copy(fixture(), &expected).unwrap();
        let (ok, log) = gst_launch(&args, &env);
        assert!(ok, "{log}");
    }
}
