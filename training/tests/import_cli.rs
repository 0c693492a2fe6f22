//! `hyperres-train import` on the authors' released estimator and on files it must refuse.

use std::path::Path;
use std::process::Command;

use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::task::{ModelKind, Task};
use tch::Device;

fn import(from: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hyperres-train"))
        .arg("import")
        .arg("--from")
        .arg(from)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn imports_the_authors_estimator_with_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let released = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/authors_noise_detect.safetensors");
    let out = dir.path().join("estimator.safetensors");
    let output = import(&released, &out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimator = LevelEstimator::load(&out, Device::Cpu).unwrap();
    let meta = estimator.metadata();
    assert_eq!(
        (meta.kind(), meta.task, meta.width, meta.blocks),
        (ModelKind::Estimator, Task::Denoise, 64, 4)
    );
    assert_eq!(meta.levels, [0.0, 100.0]);
    assert!(
        meta.provenance
            .dataset
            .contains("authors_noise_detect.safetensors")
    );
}

#[test]
fn refuses_files_that_are_not_authors_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"definitely not safetensors").unwrap();
    let out = dir.path().join("out.safetensors");
    let output = import(&junk, &out, &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("junk.safetensors"), "{stderr}");
    assert!(!out.exists());
}
