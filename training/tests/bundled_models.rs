//! Every checkpoint bundled in `models/` loads, keeps to the model card's size limit, and does its
//! job on the committed CBSD68 crops: a restorer undoes its degradation at one of its trained
//! levels, an estimator reads the level back.

use std::path::{Path, PathBuf};

use gsthyperres::checkpoint;
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::restorer::Restorer;
use gsthyperres::task::{ModelKind, Task};
use hyperres_training::{data, degrade, metrics};
use tch::{Device, Kind, Tensor};

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

const CROPS: [&str; 3] = [
    "cbsd68_101087_crop.png",
    "cbsd68_102061_crop.png",
    "cbsd68_119082_crop.png",
];

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

/// The committed crops in `colour`'s channels, `[C, H, W]` in [0, 1], each degraded at `level`
/// of `task` with its own fixed noise stream: (clean, degraded) pairs.
fn degraded_crops(meta: &checkpoint::Metadata, level: f64) -> Vec<(Tensor, Tensor)> {
    CROPS
        .iter()
        .zip(0u64..)
        .map(|(crop, stream)| {
            let clean = data::decode(&repo_path(&format!("tests/data/{crop}")), meta.colour)
                .unwrap()
                .to_kind(Kind::Float)
                / 255.0;
            let mut rng = degrade::seeded_rng(0, stream);
            let degraded = degrade::degrade(meta.task, &clean, level, &mut rng).unwrap();
            (clean, degraded)
        })
        .collect()
}

/// Mean PSNR gain (dB, on the 8-bit grid) of `model` over its input at its second trained level.
fn restoration_gain(model: &Path) -> (f64, f64) {
    let mut restorer = Restorer::load(model, Device::Cpu).unwrap();
    let level = restorer.metadata().levels[1];
    restorer.set_level(level).unwrap();
    let crops = degraded_crops(restorer.metadata(), level);
    let gains: f64 = crops
        .iter()
        .map(|(clean, degraded)| {
            let restored = restorer.restore(&degraded.unsqueeze(0)).squeeze_dim(0);
            let clean = metrics::quantise(clean);
            metrics::psnr(&metrics::quantise(&restored), &clean)
                - metrics::psnr(&metrics::quantise(degraded), &clean)
        })
        .sum();
    (level, gains / crops.len() as f64)
}

/// The smallest mean gain a working model of `task` gives on the crops at its second trained
/// level (sigma 35, quality 25, scale x3); an untrained input-skip network gives 0.
fn least_gain(task: Task) -> f64 {
    match task {
        Task::Denoise => 8.0,
        Task::Dejpeg => 0.8,
        Task::Sr => 0.5,
    }
}

/// Mean relative error of `estimator` on the crops degraded at a level inside its range.
fn estimate_error(estimator: &Path) -> (f64, f64) {
    let estimator = LevelEstimator::load(estimator, Device::Cpu).unwrap();
    let level = match estimator.metadata().task {
        Task::Denoise => 25.0,
        Task::Dejpeg => 30.0,
        Task::Sr => 3.0,
    };
    let crops = degraded_crops(estimator.metadata(), level);
    let error: f64 = crops
        .iter()
        .map(|(_, degraded)| (estimator.estimate(degraded) - level).abs() / level)
        .sum();
    (level, error / crops.len() as f64)
}

#[test]
fn every_bundled_model_is_there_and_small() {
    let names: Vec<String> = bundled().iter().map(|p| name(p)).collect();
    for expected in EXPECTED {
        assert!(
            names.iter().any(|n| n == expected),
            "models/{expected}.safetensors is missing (found {names:?})"
        );
    }
    for model in bundled() {
        let bytes = std::fs::metadata(&model).unwrap().len();
        assert!(bytes < MAX_BYTES, "{} is {bytes} bytes", model.display());
    }
}

#[test]
fn every_bundled_model_does_its_job_on_real_crops() {
    tch::set_num_threads(2);
    for model in bundled() {
        let (meta, _) = checkpoint::read(&model).unwrap();
        match meta.kind() {
            ModelKind::Restorer => {
                let (level, gain) = restoration_gain(&model);
                println!("{}: {gain:+.2} dB at {level}", name(&model));
                assert!(
                    gain > least_gain(meta.task),
                    "{} gains only {gain:.2} dB at level {level}",
                    model.display()
                );
            }
            ModelKind::Estimator => {
                let (level, error) = estimate_error(&model);
                println!("{}: {:.1}% error at {level}", name(&model), error * 100.0);
                assert!(
                    error < 0.1,
                    "{} is {:.1}% off at level {level}",
                    model.display(),
                    error * 100.0
                );
            }
        }
    }
}
