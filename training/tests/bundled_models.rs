//! Every checkpoint bundled in `models/` loads, keeps to the model card's size limit, and does its
//! job on the committed test images (CBSD68 crops, real video frames), measured by `hyperres-train
//! eval` (the report's protocol): a restorer undoes its degradation at its trained levels, an
//! estimator reads the level back.

use std::path::{Path, PathBuf};
use std::process::Command;

use gsthyperres::checkpoint;
use gsthyperres::task::{ModelKind, Task};

/// What the element and the demo load by default, and the full-size models beside them.
const EXPECTED: [&str; 8] = [
    "denoise-rgb",
    "denoise-rgb-16b",
    "dejpeg-gray",
    "dejpeg-rgb",
    "sr-rgb",
    "sr-rgb-16b",
    "estimator-noise",
    "estimator-jpeg",
];

/// The model card's limit on a bundled file.
const MAX_BYTES: u64 = 10_000_000;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn bundled() -> Vec<PathBuf> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(repo_path("models"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    models.sort();
    models
}

fn name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// `hyperres-train eval` of `model` at `levels` on the committed test images (`tests/data`: the
/// CBSD68 crops and the carphone clip's frames; it skips the other files and the subfolders): the
/// report's row for each level.
fn eval_on_test_images(model: &Path, levels: &[f64], json: &Path) -> Vec<serde_json::Value> {
    let levels: Vec<String> = levels.iter().map(f64::to_string).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_hyperres-train"))
        .args([
            "eval",
            "--threads",
            "2",
            "--levels",
            &levels.join(","),
            "--model",
        ])
        .arg(model)
        .arg("--data")
        .arg(repo_path("tests/data"))
        .arg("--json")
        .arg(json)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}: {stderr}", model.display());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    report["levels"].as_array().unwrap().clone()
}

/// The smallest mean gain a working model of `task` gives on the crops at its second trained
/// level (sigma 15, quality 10 or 25, scale x2 or x3 on Y); an untrained input-skip network gives 0.
fn least_gain(task: Task) -> f64 {
    match task {
        Task::Denoise => 8.0,
        Task::Dejpeg => 0.8,
        Task::Sr => 0.5,
    }
}

/// A level inside an estimator's range for `task`.
fn estimator_level(task: Task) -> f64 {
    match task {
        Task::Denoise => 25.0,
        Task::Dejpeg => 30.0,
        Task::Sr => 3.0,
    }
}

#[test]
fn every_bundled_model_is_there_and_small() {
    let models = bundled();
    let names: Vec<String> = models.iter().map(|p| name(p)).collect();
    for expected in EXPECTED {
        assert!(
            names.iter().any(|n| n == expected),
            "models/{expected}.safetensors is missing (found {names:?})"
        );
    }
    for model in models {
        let bytes = std::fs::metadata(&model).unwrap().len();
        assert!(bytes < MAX_BYTES, "{} is {bytes} bytes", model.display());
    }
}

#[test]
fn every_bundled_model_does_its_job_on_real_images() {
    let dir = tempfile::tempdir().unwrap();
    for model in bundled() {
        let (meta, _) = checkpoint::read(&model).unwrap();
        let json = dir.path().join(format!("{}.json", name(&model)));
        match meta.kind() {
            ModelKind::Restorer => {
                // What a working model of its task gains at its second trained level, and a gain
                // at both ends of its trained levels (at a light end, a network that learnt
                // mostly heavier levels over-restores).
                let levels = &meta.levels;
                let wanted = [
                    (levels[1], least_gain(meta.task)),
                    (levels[0], 0.0),
                    (levels[levels.len() - 1], 0.0),
                ];
                let rows = eval_on_test_images(&model, &wanted.map(|w| w.0), &json);
                for (level, least) in wanted {
                    let row = rows
                        .iter()
                        .find(|r| r["level"].as_f64() == Some(level))
                        .unwrap();
                    let gain = row["psnr"].as_f64().unwrap() - row["input_psnr"].as_f64().unwrap();
                    println!("{}: {gain:+.2} dB at {level}", name(&model));
                    assert!(
                        gain > least,
                        "{} gains only {gain:.2} dB at level {level}",
                        model.display()
                    );
                }
            }
            ModelKind::Estimator => {
                let level = estimator_level(meta.task);
                let row = &eval_on_test_images(&model, &[level], &json)[0];
                let error = row["rel_error_pct"].as_f64().unwrap();
                println!("{}: {error:.1}% error at {level}", name(&model));
                assert!(
                    error < 10.0,
                    "{} is {error:.1}% off at level {level}",
                    model.display()
                );
            }
        }
    }
}
