//! Image folders (decoded once into memory, or streamed for large sets) and the random training
//! crops drawn from them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, bail};
use gsthyperres::task::Colour;
use rand::{Rng, RngExt};
use tch::{Kind, Tensor};

use crate::degrade::seeded_rng;
use crate::pixels::from_packed;

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
            Err(e) => warn_skipped(&path, &e.to_string()),
        }
    }
    if images.is_empty() {
        bail!("no readable images in {dirs:?}");
    }
    Ok(images)
}

/// Says once per file why it is skipped (a streaming pool meets the same file again and again).
/// The reason is an error's own message: the image crate's errors already hold their cause, which
/// `{:#}` would print twice.
fn warn_skipped(file: &Path, reason: &str) {
    static WARNED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
    if !warned.iter().any(|w| w == file) {
        eprintln!("warning: skipping {}: {reason}", file.display());
        warned.push(file.to_path_buf());
    }
}

/// One image file as 8-bit `[C, H, W]`; gray the authors' way (OpenCV's BGR2GRAY).
pub fn decode(path: &Path, colour: Colour) -> anyhow::Result<Tensor> {
    let rgb = image::open(path)?.to_rgb8();
    let (w, h) = (rgb.width() as i64, rgb.height() as i64);
    Ok(match colour {
        Colour::Rgb => from_packed(rgb.as_raw(), 3, h, w),
        Colour::Gray => {
            let gray: Vec<u8> = rgb.pixels().map(|p| opencv_gray(p.0)).collect();
            from_packed(&gray, 1, h, w)
        }
    })
}

/// OpenCV's fixed-point RGB -> gray: (4899 R + 9617 G + 1868 B + 2^13) >> 14.
pub fn opencv_gray([r, g, b]: [u8; 3]) -> u8 {
    ((4899 * u32::from(r) + 9617 * u32::from(g) + 1868 * u32::from(b) + (1 << 13)) >> 14) as u8
}

/// Where training crops come from: every image decoded once into memory (small sets), or a pool
/// that decoder threads keep refreshing (large sets, see [`ImagePool`]).
pub enum ImageSource {
    Memory(Vec<Tensor>),
    Stream(ImagePool),
}

/// Image folders whose files add up to more than this stream instead of being held decoded.
const STREAM_ABOVE_BYTES: u64 = 512 << 20;

impl ImageSource {
    /// Opens the images of `dirs` usable for `patch` x `patch` crops, for a run starting at
    /// iteration `start` (a stream's pool is a function of the seed and the iteration). Large
    /// sets stream, and so does any set when `stream` is asked for.
    pub fn open(
        dirs: &[PathBuf],
        colour: Colour,
        patch: i64,
        (seed, start): (u64, i64),
        stream: bool,
    ) -> anyhow::Result<ImageSource> {
        let files = list_images(dirs)?;
        let bytes: u64 = files
            .iter()
            .filter_map(|f| f.metadata().ok())
            .map(|m| m.len())
            .sum();
        if stream || bytes > STREAM_ABOVE_BYTES {
            eprintln!(
                "streaming {} images ({} MB) through a pool of {POOL_SLOTS}",
                files.len(),
                bytes >> 20
            );
            return Ok(ImageSource::Stream(ImagePool::start(
                files, colour, patch, seed, start,
            )?));
        }
        let usable: Vec<Tensor> = load_images(dirs, colour)?
            .into_iter()
            .filter_map(|image| {
                let fits = fits(&image.pixels, patch);
                if !fits {
                    warn_skipped(Path::new(&image.name), &too_small(patch));
                }
                fits.then_some(image.pixels)
            })
            .collect();
        if usable.is_empty() {
            bail!("no training image is at least {patch}x{patch}");
        }
        Ok(ImageSource::Memory(usable))
    }

    /// The images to crop from at `iteration` (called in increasing order).
    pub fn images_at(&mut self, iteration: i64) -> anyhow::Result<&[Tensor]> {
        match self {
            ImageSource::Memory(images) => Ok(images),
            ImageSource::Stream(pool) => pool.advance_to(iteration),
        }
    }
}

fn too_small(patch: i64) -> String {
    format!("smaller than the {patch}px crop")
}

fn fits(pixels: &Tensor, patch: i64) -> bool {
    let size = pixels.size();
    size[1] >= patch && size[2] >= patch
}

/// `batch` random `patch` x `patch` crops of random `images`, each flipped horizontally and
/// vertically and transposed with probability 1/2, as f32 `[batch, C, P, P]` in [0, 1].
pub fn sample_crops(images: &[Tensor], patch: i64, batch: i64, rng: &mut impl Rng) -> Tensor {
    let p = patch;
    let crops: Vec<Tensor> = (0..batch)
        .map(|_| {
            let image = &images[rng.random_range(0..images.len())];
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

/// Slots of a streaming pool: each iteration replaces one, so an image serves `POOL_SLOTS` steps.
const POOL_SLOTS: i64 = 64;
/// Decoder threads feeding the pool.
const DECODERS: i64 = 2;

/// A pool of decoded images for large data sets. Iteration t puts the image chosen by (seed, t)
/// into slot t mod `POOL_SLOTS`, so the pool at any iteration is a function of the seed alone
/// (resuming rebuilds it exactly). Decoder threads prepare the images of coming iterations in
/// advance, each thread its own residue class of iterations, through small bounded channels.
pub struct ImagePool {
    slots: Vec<Tensor>,
    decoded: Vec<Receiver<(i64, Tensor)>>,
    /// The first iteration decoded (worker w decodes first + w, first + w + DECODERS, ...).
    first: i64,
    next: i64,
}

impl ImagePool {
    fn start(
        files: Vec<PathBuf>,
        colour: Colour,
        patch: i64,
        seed: u64,
        start: i64,
    ) -> anyhow::Result<ImagePool> {
        let files = std::sync::Arc::new(files);
        let first = start - POOL_SLOTS;
        let decoded = (0..DECODERS)
            .map(|worker| {
                let (tx, rx) = sync_channel(4);
                let files = files.clone();
                std::thread::spawn(move || {
                    let mut t = first + worker;
                    loop {
                        let Some(image) = pool_image(&files, colour, patch, seed, t) else {
                            return;
                        };
                        if tx.send((t, image)).is_err() {
                            return;
                        }
                        t += DECODERS;
                    }
                });
                rx
            })
            .collect();
        let slots = (0..POOL_SLOTS).map(|_| Tensor::new()).collect();
        let mut pool = ImagePool {
            slots,
            decoded,
            first,
            next: first,
        };
        // The POOL_SLOTS iterations before `start` fill every slot.
        pool.advance_to(start - 1)?;
        Ok(pool)
    }

    /// Applies the replacements of every iteration up to `iteration`.
    fn advance_to(&mut self, iteration: i64) -> anyhow::Result<&[Tensor]> {
        while self.next <= iteration {
            let worker = (self.next - self.first).rem_euclid(DECODERS) as usize;
            let (t, image) = self.decoded[worker]
                .recv()
                .context("no usable image in the training folders")?;
            debug_assert_eq!(t, self.next);
            self.slots[t.rem_euclid(POOL_SLOTS) as usize] = image;
            self.next += 1;
        }
        Ok(&self.slots)
    }
}

/// The image of iteration `t`: the file chosen by (seed, t), or the next usable one after it.
/// None when no file is usable.
fn pool_image(files: &[PathBuf], colour: Colour, patch: i64, seed: u64, t: i64) -> Option<Tensor> {
    let mut rng = seeded_rng(seed ^ 0x9e37_79b9_7f4a_7c15, t as u64);
    let pick = rng.random_range(0..files.len());
    (0..files.len())
        .map(|k| &files[(pick + k) % files.len()])
        .find_map(|file| match decode(file, colour) {
            Ok(pixels) if fits(&pixels, patch) => Some(pixels),
            Ok(_) => {
                warn_skipped(file, &too_small(patch));
                None
            }
            Err(e) => {
                warn_skipped(file, &e.to_string());
                None
            }
        })
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
        let batch = sample_crops(&[pixels.shallow_clone()], 4, 64, &mut seeded_rng(0, 0));
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

    fn crops_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
    }

    #[test]
    fn images_smaller_than_the_crop_are_refused() {
        let err = ImageSource::open(&[crops_dir()], Colour::Rgb, 4096, (0, 0), false)
            .err()
            .unwrap();
        assert!(err.to_string().contains("at least 4096x4096"), "{err}");
    }

    /// The streaming pool at an iteration depends only on the seed, so a resumed run sees the
    /// same images as an uninterrupted one.
    #[test]
    fn streaming_pool_is_a_function_of_seed_and_iteration() {
        let files = list_images(&[crops_dir()]).unwrap();
        let pool = |start: i64, seed: u64| {
            ImagePool::start(files.clone(), Colour::Gray, 16, seed, start).unwrap()
        };
        let (mut whole, mut resumed) = (pool(0, 5), pool(70, 5));
        let copy = |images: &[Tensor]| images.iter().map(Tensor::shallow_clone).collect::<Vec<_>>();
        let a = copy(whole.advance_to(80).unwrap());
        let b = copy(resumed.advance_to(80).unwrap());
        assert_eq!(a.len(), POOL_SLOTS as usize);
        assert!(a.iter().zip(&b).all(|(x, y)| x.equal(y)));
        let mut other = pool(70, 6);
        let c = other.advance_to(80).unwrap();
        assert!(
            a.iter().zip(c).any(|(x, y)| !x.equal(y)),
            "another seed picks other images"
        );
    }
}
