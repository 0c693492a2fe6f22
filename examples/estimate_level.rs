//! Estimates the degradation level of images with a level-estimator checkpoint.
//!
//!     cargo run --example estimate_level -- ESTIMATOR.safetensors IMAGE...
//!
//! (`hyperres-train import --from noise_detect.safetensors --out est.safetensors` makes one from
//! the authors' released noise estimator.)

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use gsthyperres::frame::luma;
use gsthyperres::level_estimator::LevelEstimator;
use tch::{Device, Kind, Tensor};

/// Prints the level a level-estimator checkpoint reads from each image.
#[derive(Parser)]
struct Args {
    /// The level-estimator checkpoint (.safetensors).
    estimator: PathBuf,
    /// Images to estimate (png, jpg, bmp, tif).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let estimator = LevelEstimator::load(&args.estimator, Device::cuda_if_available())?;
    let meta = estimator.metadata();
    for path in args.images {
        let image = image::open(&path).with_context(|| format!("reading {}", path.display()))?;
        let (w, h) = (image.width() as i64, image.height() as i64);
        let rgb = Tensor::from_slice(image.to_rgb8().as_raw())
            .view([h, w, 3])
            .permute([2, 0, 1])
            .to_kind(Kind::Float)
            / 255.0;
        // A gray estimator reads the BT.601 luma it trained on (JPEG's own Y), as the element
        // hands it; the image crate's to_luma8 weighs the channels by BT.709.
        let pixels = match meta.colour.channels() {
            1 => luma(&rgb),
            _ => rgb,
        };
        let level = estimator.estimate(&pixels);
        println!("{}: {} level {level:.2}", path.display(), meta.task);
    }
    Ok(())
}
