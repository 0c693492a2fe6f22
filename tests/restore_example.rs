//! `examples/restore` on images: it removes noise, keeps a 16-bit image at 16 bits and alpha as it
//! was.

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
fn the_restore_example_denoises_8_and_16_bit_images_at_their_depth_keeping_alpha() {
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

    // The same noise at 16 bits, with alpha: written back at 16 bits, its samples between 8-bit
    // steps, and the alpha as it was.
    tch::manual_seed(3);
    let noisy = (&clean + clean.randn_like() * (25.0 / 255.0)).clamp(0.0, 1.0);
    let rgb = Vec::<f32>::try_from(noisy.permute([1, 2, 0]).contiguous().view([-1])).unwrap();
    let words: Vec<u16> = rgb
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, pixel)| {
            let alpha = (i * 7919 % 65536) as u16;
            let colour = pixel.iter().map(|&v| (v * 65535.0).round() as u16);
            colour.chain([alpha])
        })
        .collect();
    let input = dir.path().join("noisy16.png");
    image::ImageBuffer::<image::Rgba<u16>, _>::from_raw(w, h, words.clone())
        .unwrap()
        .save(&input)
        .unwrap();
    let restored = restore(&input, &dir.path().join("restored16.png"));
    assert_eq!(restored.color(), image::ColorType::Rgba16);
    let out = restored.to_rgba16().into_raw();
    let alpha = |words: &[u16]| words.iter().skip(3).step_by(4).copied().collect::<Vec<_>>();
    assert!(alpha(&out) == alpha(&words), "alpha changed");
    let colour = out.chunks_exact(4).flat_map(|pixel| &pixel[..3]);
    let finer = colour.filter(|&&word| word % 257 != 0).count();
    assert!(
        finer as u32 > w * h,
        "{finer} samples between the 8-bit steps"
    );
    let (before, after) = (psnr(&noisy, &clean), psnr(&samples(&restored), &clean));
    println!("16 bits: noisy {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 5.0);
}
