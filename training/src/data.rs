//! Image folders, decoded once into memory, and the random training crops drawn from them.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use gsthyperres::task::Colour;
use rand::{Rng, RngExt};
use tch::{Kind, Tensor};

const EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff", "webp"];

/// An image as 8-bit `[C, H, W]` on the CPU, with the file it came from.
pub struct Image {
    pub name: String,
    pub pixels: Tensor,
}

/// The image files of `dirs`, sorted by path (so runs are reproducible).
pub fn list_images(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for dir in dirs {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let ext = path.extension().map(|e| e.to_string_lossy().to_lowercase());
            if ext.is_some_and(|e| EXTENSIONS.contains(&e.as_str())) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Decodes every image of `dirs`; unreadable files are skipped with one warning each.
pub fn load_images(dirs: &[PathBuf], colour: Colour) -> anyhow::Result<Vec<Image>> {
    let mut images = Vec::new();
    for path in list_images(dirs)? {
        match decode(&path, colour) {
            Ok(pixels) => images.push(Image {
                name: path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                pixels,
            }),
            Err(e) => eprintln!("warning: skipping {}: {e:#}", path.display()),
        }
    }
    if images.is_empty() {
        bail!("no readable images in {dirs:?}");
    }
    Ok(images)
}

/// One image file as 8-bit `[C, H, W]`; gray the authors' way (OpenCV's BGR2GRAY).
pub fn decode(path: &Path, colour: Colour) -> anyhow::Result<Tensor> {
    let rgb = image::open(path)?.to_rgb8();
    let (w, h) = (rgb.width() as i64, rgb.height() as i64);
    Ok(match colour {
        Colour::Rgb => Tensor::from_slice(rgb.as_raw())
            .view([h, w, 3])
            .permute([2, 0, 1])
            .contiguous(),
        Colour::Gray => {
            let gray: Vec<u8> = rgb.pixels().map(|p| opencv_gray(p.0)).collect();
            Tensor::from_slice(&gray).view([1, h, w])
        }
    })
}

/// OpenCV's fixed-point RGB -> gray: (4899 R + 9617 G + 1868 B + 2^13) >> 14.
pub fn opencv_gray([r, g, b]: [u8; 3]) -> u8 {
    ((4899 * u32::from(r) + 9617 * u32::from(g) + 1868 * u32::from(b) + (1 << 13)) >> 14) as u8
}

/// Draws training batches: random P x P crops of random images, each flipped horizontally and
/// vertically and transposed with probability 1/2.
pub struct CropSampler {
    images: Vec<Tensor>,
    patch: i64,
}

impl CropSampler {
    /// Keeps the images with both sides at least `patch` (warning about the others).
    pub fn new(images: Vec<Image>, patch: i64) -> anyhow::Result<CropSampler> {
        let usable: Vec<Tensor> = images
            .into_iter()
            .filter_map(|image| {
                let size = image.pixels.size();
                let fits = size[1] >= patch && size[2] >= patch;
                if !fits {
                    eprintln!(
                        "warning: {} is smaller than the {patch}px crop, skipped",
                        image.name
                    );
                }
                fits.then_some(image.pixels)
            })
            .collect();
        if usable.is_empty() {
            bail!("no training image is at least {patch}x{patch}");
        }
        Ok(CropSampler {
            images: usable,
            patch,
        })
    }

    /// `batch` crops as f32 `[batch, C, P, P]` in [0, 1].
    pub fn sample(&self, batch: i64, rng: &mut impl Rng) -> Tensor {
        let p = self.patch;
        let crops: Vec<Tensor> = (0..batch)
            .map(|_| {
                let image = &self.images[rng.random_range(0..self.images.len())];
                let size = image.size();
                let y = rng.random_range(0..=size[1] - p);
                let x = rng.random_range(0..=size[2] - p);
                let mut crop = image.narrow(1, y, p).narrow(2, x, p);
                if rng.random_bool(0.5) {
                    crop = crop.flip([2]);
                }
                if rng.random_bool(0.5) {
                    crop = crop.flip([1]);
                }
                if rng.random_bool(0.5) {
                    crop = crop.transpose(1, 2);
                }
                crop
            })
            .collect();
        Tensor::stack(&crops, 0).to_kind(Kind::Float) / 255.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::degrade::seeded_rng;

    #[test]
    fn gray_conversion_is_opencvs() {
        // cv2.cvtColor on pure red, green, blue and white pixels.
        assert_eq!(opencv_gray([255, 0, 0]), 76);
        assert_eq!(opencv_gray([0, 255, 0]), 150);
        assert_eq!(opencv_gray([0, 0, 255]), 29);
        assert_eq!(opencv_gray([255, 255, 255]), 255);
        assert_eq!(opencv_gray([0, 0, 0]), 0);
    }

    #[test]
    fn crops_come_from_the_image_with_flips_and_transposes() {
        // A 4x4 image of distinct values: every crop of side 4 is the image up to the dihedral
        // symmetries the augmentation applies, so its sorted values equal the image's.
        let pixels = Tensor::arange(16, (Kind::Uint8, tch::Device::Cpu)).view([1, 4, 4]);
        let image = Image {
            name: "ramp".into(),
            pixels: pixels.shallow_clone(),
        };
        let sampler = CropSampler::new(vec![image], 4).unwrap();
        let batch = sampler.sample(64, &mut seeded_rng(0, 0));
        assert_eq!(batch.size(), [64, 1, 4, 4]);
        let mut seen = std::collections::HashSet::new();
        for i in 0..64 {
            let crop = (batch.get(i) * 255.0).round().to_kind(Kind::Uint8);
            let (sorted, _) = crop.flatten(0, -1).sort(0, false);
            assert!(sorted.equal(&pixels.flatten(0, -1)));
            seen.insert(Vec::<u8>::try_from(crop.flatten(0, -1)).unwrap());
        }
        assert_eq!(seen.len(), 8, "all eight flips/transposes appear");
    }

    #[test]
    fn images_smaller_than_the_crop_are_refused() {
        let tiny = Image {
            name: "tiny".into(),
            pixels: Tensor::zeros([3, 8, 8], (Kind::Uint8, tch::Device::Cpu)),
        };
        assert!(CropSampler::new(vec![tiny], 16).is_err());
    }
}
