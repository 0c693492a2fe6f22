//! The authors' released noise estimator, imported and run through our code, reads the noise level
//! of real photographs (committed CBSD68 crops).

mod common;

use common::{add_noise, authors_estimator_checkpoint, load_crop};
use gsthyperres::level_estimator::LevelEstimator;
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
