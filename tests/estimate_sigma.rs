//! Level estimators read real photographs (committed CBSD68 crops): the authors' released noise
//! estimator, imported and run through our code, and the bundled ones through
//! examples/estimate_level.

mod common;

use std::path::Path;
use std::process::Command;

use common::{
    add_noise, authors_estimator_checkpoint, load_crop, random_estimator_checkpoint, repo_path,
    run_ok, run_refused, save_jpeg, save_rgb,
};
use gsthyperres::level_estimator::LevelEstimator;
use gsthyperres::model::EstimatorConfig;
use tch::Device;

const CROPS: [&str; 3] = [
    "cbsd68_101087_crop.png",
    "cbsd68_102061_crop.png",
    "cbsd68_119082_crop.png",
];

#[test]
fn authors_estimator_reads_sigma_within_15_percent() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = authors_estimator_checkpoint(dir.path());
    let estimator = LevelEstimator::load(&ckpt, Device::Cpu).unwrap();

    for sigma in [15.0, 25.0, 50.0] {
        for (i, crop) in CROPS.iter().enumerate() {
            let noisy = add_noise(&load_crop(crop), sigma, 100 + i as i64);
            let estimate = estimator.estimate(&noisy);
            let error = (estimate - sigma).abs() / sigma;
            println!(
                "sigma {sigma}: {crop} estimated {estimate:.2} ({:.1}% off)",
                100.0 * error
            );
            assert!(
                error <= 0.15,
                "sigma {sigma}, {crop}: estimated {estimate:.2}"
            );
        }
    }
}

/// `examples/estimate_level` with the bundled estimators reads the noise sigma of a noisy PNG and
/// the JPEG quality of a JPEG file (on its luma: the JPEG estimator is a gray one).
#[test]
fn the_estimate_level_example_reads_sigma_and_jpeg_quality_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let noisy = dir.path().join("sigma25.png");
    save_rgb(&add_noise(&load_crop(CROPS[0]), 25.0, 7), &noisy);
    let jpeg = dir.path().join("q30.jpg");
    let crop = image::open(repo_path(&format!("tests/data/{}", CROPS[0]))).unwrap();
    save_jpeg(&crop.to_rgb8(), 30, &jpeg);

    let example = common::example("estimate_level");
    let estimate = |estimator: &str, image: &Path| -> f64 {
        let stdout = run_ok(
            Command::new(&example)
                .arg(repo_path(&format!("models/{estimator}")))
                .arg(image),
        );
        println!("{}", stdout.trim());
        let (_, level) = stdout.trim().rsplit_once("level ").unwrap();
        level.parse().unwrap()
    };
    let sigma = estimate("estimator-noise.safetensors", &noisy);
    assert!((sigma - 25.0).abs() <= 2.5, "sigma 25 read as {sigma}");
    let quality = estimate("estimator-jpeg.safetensors", &jpeg);
    assert!(
        (quality - 30.0).abs() <= 5.0,
        "quality 30 read as {quality}"
    );

    // Without an image it says what it needs instead of printing nothing.
    let stderr =
        run_refused(Command::new(&example).arg(repo_path("models/estimator-noise.safetensors")));
    assert!(stderr.contains("<IMAGES>..."), "{stderr}");
}

/// An estimator reads no level beyond the range it learned, whatever its network outputs.
#[test]
fn estimates_stay_in_the_estimators_range() {
    let dir = tempfile::tempdir().unwrap();
    let crop = load_crop(CROPS[0]);
    let config = EstimatorConfig {
        width: 4,
        stages: 4,
        ..Default::default()
    };
    // The output bias dominates whatever the crop adds.
    for (seed, output) in [(1, 1e4), (2, -1e4)] {
        let path = random_estimator_checkpoint(dir.path(), config, seed, Some(output));
        let estimator = LevelEstimator::load(&path, Device::Cpu).unwrap();
        let [low, high] = estimator.metadata().level_range;
        let expected = if output > 0.0 { high } else { low };
        assert_eq!(estimator.estimate(&crop), expected);
    }
}
