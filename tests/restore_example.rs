//! `examples/restore` on images: it removes noise, and keeps a 16-bit image at 16 bits.

use std::path::Path;
use std::process::Command;

use gsthyperres::frame::packed_rgb;
use tch::{Kind, Tensor};

mod common;

use common::{add_noise, load_crop, repo_path};

/// PSNR in dB of `image` against `clean`, both `[3, H, W]` in [0, 1].
fn psnr(image: &Tensor, clean: &Tensor) -> f64 {
    let mse = (image - clean)
        .square()
        .mean(Kind::Double)
        .double_value(&[]);
    -10.0 * mse.log10()
}

/// Runs the example on `input`, writing `output`, and returns the image it wrote.
fn restore(input: &Path, output: &Path) -> image::DynamicImage {
    let model = repo_path("models/denoise-rgb-fast.safetensors");
    let run = Command::new(common::example("restore"))
        .args([model.as_path(), Path::new("25"), input, output])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    image::open(output).unwrap()
}

/// `image` as `[3, H, W]` in [0, 1], at its own depth.
fn samples(image: &image::DynamicImage) -> Tensor {
    let rgb = image.to_rgb32f();
    let (w, h) = (i64::from(rgb.width()), i64::from(rgb.height()));
    Tensor::from_slice(rgb.as_raw())
        .view([h, w, 3])
        .permute([2, 0, 1])
}

#[test]
fn the_restore_example_denoises_8_and_16_bit_images_at_their_depth() {
    let dir = tempfile::tempdir().unwrap();
    let clean = load_crop("cbsd68_102061_crop.png");
    let (h, w) = (clean.size()[1] as u32, clean.size()[2] as u32);

    let noisy = add_noise(&clean, 25.0, 3);
    let input = dir.path().join("noisy.png");
    image::RgbImage::from_raw(w, h, packed_rgb(&noisy))
        .unwrap()
        .save(&input)
        .unwrap();
    let restored = restore(&input, &dir.path().join("restored.png"));
    assert_eq!(restored.color(), image::ColorType::Rgb8);
    let (before, after) = (psnr(&noisy, &clean), psnr(&samples(&restored), &clean));
    println!("8 bits: noisy {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 5.0);

    // The same noise at 16 bits: written back at 16 bits, its samples between 8-bit steps.
    tch::manual_seed(3);
    let noisy = (&clean + clean.randn_like() * (25.0 / 255.0)).clamp(0.0, 1.0);
    let words: Vec<u16> = Vec::<f32>::try_from(noisy.permute([1, 2, 0]).contiguous().view([-1]))
        .unwrap()
        .iter()
        .map(|&v| (v * 65535.0).round() as u16)
        .collect();
    let input = dir.path().join("noisy16.png");
    image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(w, h, words)
        .unwrap()
        .save(&input)
        .unwrap();
    let restored = restore(&input, &dir.path().join("restored16.png"));
    assert_eq!(restored.color(), image::ColorType::Rgb16);
    let finer = restored
        .to_rgb16()
        .as_raw()
        .iter()
        .filter(|&&word| word % 257 != 0)
        .count();
    assert!(
        finer as u32 > w * h,
        "{finer} samples between the 8-bit steps"
    );
    let (before, after) = (psnr(&noisy, &clean), psnr(&samples(&restored), &clean));
    println!("16 bits: noisy {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 5.0);
}
