//! `examples/restore` on images: it removes noise and JPEG artifacts, keeps a 16-bit image at 16
//! bits, alpha as it was, a gray image gray, and a colour image's chroma under a gray model.

use std::path::Path;
use std::process::Command;

use gsthyperres::frame::{packed_rgb, psnr_8bit};

mod common;

const DENOISER: &str = "denoise-rgb-fast.safetensors";

use common::{
    add_noise, load_crop, repo_path, rgba16_alpha_and_finer, run_ok, save_jpeg, save_rgb, seeded,
};

/// Runs the example with `model` (in models/) at `level` on `input`, writing `output`, and returns
/// the image it wrote.
fn restore(model: &str, level: &str, input: &Path, output: &Path) -> image::DynamicImage {
    let model = repo_path(&format!("models/{model}"));
    run_ok(Command::new(common::example("restore")).args([
        model.as_path(),
        Path::new(level),
        input,
        output,
    ]));
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

    let noisy = add_noise(&clean, 25.0, 3);
    let input = dir.path().join("noisy.png");
    save_rgb(&noisy, &input);
    let restored = restore(DENOISER, "25", &input, &dir.path().join("restored.png"));
    assert_eq!(restored.color(), image::ColorType::Rgb8);
    let (before, after) = (psnr(&packed_rgb(&noisy)), psnr(restored.to_rgb8().as_raw()));
    println!("8 bits: noisy {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 5.0);

    // The same noise at 16 bits, with alpha: written back at 16 bits, its samples between 8-bit
    // steps, and the alpha as it was.
    let noisy = (&clean + seeded(3, || clean.randn_like()) * (25.0 / 255.0)).clamp(0.0, 1.0);
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
    let restored = restore(DENOISER, "25", &input, &dir.path().join("restored16.png"));
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

/// BT.601 luma and the two colour differences of packed 8-bit RGB, per pixel.
fn luma_and_chroma(rgb: &[u8]) -> Vec<[f64; 3]> {
    rgb.chunks_exact(3)
        .map(|p| {
            let [r, g, b] = [p[0], p[1], p[2]].map(f64::from);
            let y = 0.299 * r + 0.587 * g + 0.114 * b;
            [y, b - y, r - y]
        })
        .collect()
}

#[test]
fn the_restore_example_restores_luma_with_a_gray_model_keeping_chroma_and_gray_images_gray() {
    let dir = tempfile::tempdir().unwrap();
    let clean = image::open(repo_path("tests/data/cbsd68_119082_crop.png"))
        .unwrap()
        .to_rgb8();
    let (w, h) = clean.dimensions();
    let jpeg = dir.path().join("q10.jpg");
    save_jpeg(&clean, 10, &jpeg);
    let compressed = image::open(&jpeg).unwrap().to_rgb8();
    let (clean, compressed) = (luma_and_chroma(&clean), luma_and_chroma(&compressed));
    let channel = |pixels: &[[f64; 3]], c: usize| -> Vec<u8> {
        pixels.iter().map(|p| p[c].round() as u8).collect()
    };

    // The fast gray de-JPEG model at quality 10, into a PNG named `name`.
    let dejpeg = |input: &Path, name: &str| {
        restore(
            "dejpeg-gray-fast.safetensors",
            "10",
            input,
            &dir.path().join(name),
        )
    };

    let restored = dejpeg(&jpeg, "restored.png");
    assert_eq!(restored.color(), image::ColorType::Rgb8);
    let restored = luma_and_chroma(restored.to_rgb8().as_raw());
    let (before, after) = (
        psnr_8bit(&channel(&compressed, 0), &channel(&clean, 0)),
        psnr_8bit(&channel(&restored, 0), &channel(&clean, 0)),
    );
    println!("colour JPEG q10, luma: {before:.2} dB, restored {after:.2} dB");
    assert!(after > before + 0.5);
    // The chroma as it was, up to rounding to 8 bits (and clipping, at saturated pixels).
    let moved = compressed
        .iter()
        .zip(&restored)
        .map(|(a, b)| (a[1] - b[1]).abs().max((a[2] - b[2]).abs()))
        .sum::<f64>()
        / restored.len() as f64;
    println!("chroma moved by {moved:.3} codes on average");
    assert!(moved < 1.0);

    // The luma alone, as a gray PNG, stays gray.
    let gray = dir.path().join("gray.png");
    image::GrayImage::from_raw(w, h, channel(&compressed, 0))
        .unwrap()
        .save(&gray)
        .unwrap();
    let restored = dejpeg(&gray, "restored-gray.png");
    assert_eq!(restored.color(), image::ColorType::L8);
    let after = psnr_8bit(restored.as_luma8().unwrap(), &channel(&clean, 0));
    println!("gray, restored {after:.2} dB");
    assert!(after > before + 0.5);
}
