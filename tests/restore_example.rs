//! `examples/restore` on images: it removes noise, keeps a 16-bit image at 16 bits and alpha as it
//! was.

use std::path::Path;
use std::process::Command;

use gsthyperres::frame::{packed_rgb, psnr_8bit};

mod common;

use common::{add_noise, load_crop, repo_path, rgba16_alpha_and_finer};

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

#[test]
fn the_restore_example_denoises_8_and_16_bit_images_at_their_depth_keeping_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let clean = load_crop("cbsd68_102061_crop.png");
    let (h, w) = (clean.size()[1] as u32, clean.size()[2] as u32);
    let clean_8 = packed_rgb(&clean);
    // PSNR against the clean crop, of an image's 8-bit RGB (a 16-bit one rounded).
    let psnr = |rgb: &[u8]| psnr_8bit(rgb, &clean_8);

    let noisy = packed_rgb(&add_noise(&clean, 25.0, 3));
    let input = dir.path().join("noisy.png");
    image::RgbImage::from_raw(w, h, noisy.clone())
        .unwrap()
        .save(&input)
        .unwrap();
    let restored = restore(&input, &dir.path().join("restored.png"));
    assert_eq!(restored.color(), image::ColorType::Rgb8);
    let (before, after) = (psnr(&noisy), psnr(restored.to_rgb8().as_raw()));
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
    let (alpha, finer) = rgba16_alpha_and_finer(restored.as_rgba16().unwrap());
    assert!(alpha == rgba16_alpha_and_finer(&words).0, "alpha changed");
    assert!(
        finer as u32 > w * h,
        "{finer} samples between the 8-bit steps"
    );
    let (before, after) = (psnr(&packed_rgb(&noisy)), psnr(restored.to_rgb8().as_raw()));
    println!("16 bits: noisy {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 5.0);
}
