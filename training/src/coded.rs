//! Frames a real codec degraded, labelled with the level that restores each best
//! (scripts/h264_frames.py makes them, scripts/h264_labels.py labels them; scripts/jpeg_frames.py
//! makes JPEG ones labelled with their quality): what the estimator and the restorer learn codecs
//! from, since their artifacts cannot be synthesised per crop as JPEG's are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use gsthyperres::model::ESTIMATOR_CROP;
use gsthyperres::task::Colour;
use rand::{Rng, RngExt};
use tch::{Kind, Tensor};

use crate::data::decode;

/// The block grid the estimator reads crops on (its `JPEG_BLOCK`; H.264's transforms tile it too).
const BLOCK: i64 = 8;

/// The name of the labels file in a folder of coded frames: `{"frame.png": level, ...}`.
pub const LABELS: &str = "levels.json";

/// The folder, beside the coded frames' own, of the frames before coding (as
/// scripts/h264_frames.py lays them out: OUT/coded and OUT/clean).
const CLEAN: &str = "clean";

/// What a checkpoint's provenance `dataset` appends for the coded frames of `dir`.
pub fn provenance(dir: &Path) -> String {
    format!(";{} (coded frames)", dir.display())
}

#[derive(Default)]
pub struct CodedFrames {
    /// The frames' file names, as `eval --coded` reports them.
    names: Vec<String>,
    frames: Vec<Tensor>,
    levels: Vec<f64>,
    /// Each frame before coding, where a restorer trains on them (empty for the estimator, which
    /// takes them as frames of their own).
    clean: Vec<Tensor>,
    /// How many of the frames a codec degraded: the first; those after are the same frames before
    /// coding, for the estimator (`uncoded`).
    coded: usize,
}

/// The loader's threads each hold a copy: the same tensors, which nothing writes.
impl Clone for CodedFrames {
    fn clone(&self) -> Self {
        let copy = |tensors: &[Tensor]| tensors.iter().map(Tensor::shallow_clone).collect();
        CodedFrames {
            names: self.names.clone(),
            frames: copy(&self.frames),
            levels: self.levels.clone(),
            clean: copy(&self.clean),
            coded: self.coded,
        }
    }
}

impl CodedFrames {
    /// The labelled frames of `dirs` (each at least one estimator crop, each name in one folder
    /// only), checked to lie in `low..=high`, the estimator's range. With `uncoded`, the same
    /// frames before coding (`../clean`) follow them as frames of their own at that level.
    pub fn open(
        dirs: &[PathBuf],
        colour: Colour,
        range: [f64; 2],
        uncoded: Option<f64>,
    ) -> anyhow::Result<Self> {
        let mut all = Self::default();
        for dir in dirs {
            let more = Self::load(dir, colour, range, ESTIMATOR_CROP, uncoded.is_some())?;
            if let Some(name) = more.names.iter().find(|n| all.names.contains(n)) {
                bail!(
                    "{name} is in {} and in another --coded folder",
                    dir.display()
                );
            }
            all.names.extend(more.names);
            all.frames.extend(more.frames);
            all.levels.extend(more.levels);
            all.clean.extend(more.clean);
        }
        all.coded = all.frames.len();
        if let Some(level) = uncoded {
            let clean = std::mem::take(&mut all.clean);
            let names: Vec<String> = all.names.iter().map(|n| format!("{n} (uncoded)")).collect();
            all.names.extend(names);
            all.levels.extend(vec![level; clean.len()]);
            all.frames.extend(clean);
        }
        Ok(all)
    }

    /// The labelled frames of `dir` with the same frames before coding (in `../clean`), each at
    /// least `patch` pixels on a side, their levels in `range`: what a restorer trains on.
    pub fn open_pairs(
        dir: &Path,
        colour: Colour,
        range: [f64; 2],
        patch: i64,
    ) -> anyhow::Result<Self> {
        Self::load(dir, colour, range, patch, true)
    }

    fn load(
        dir: &Path,
        colour: Colour,
        [low, high]: [f64; 2],
        side: i64,
        with_clean: bool,
    ) -> anyhow::Result<Self> {
        let path = dir.join(LABELS);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (scripts/h264_labels.py writes it)",
                path.display()
            )
        })?;
        let labels: BTreeMap<String, f64> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a map of file names to levels", path.display()))?;
        let clean_dir = dir.join("..").join(CLEAN);
        let mut coded = CodedFrames::default();
        for (name, level) in labels {
            ensure!(
                (low..=high).contains(&level),
                "{}: {name}'s level {level} is outside the range {low}..{high}",
                path.display()
            );
            let frame = decode(&dir.join(&name), colour)
                .with_context(|| format!("{}: reading its frame {name}", path.display()))?;
            let size = frame.size();
            ensure!(
                size[1] >= side && size[2] >= side,
                "{}: {name} is smaller than the {side}px crop",
                dir.display()
            );
            if with_clean {
                let clean = decode(&clean_dir.join(&name), colour).with_context(|| {
                    format!("reading {name}'s uncoded frame in {}", clean_dir.display())
                })?;
                ensure!(
                    clean.size() == size,
                    "{name}: the coded frame is {size:?}, the uncoded one {:?}",
                    clean.size()
                );
                coded.clean.push(clean);
            }
            coded.names.push(name);
            coded.frames.push(frame);
            coded.levels.push(level);
        }
        ensure!(
            !coded.frames.is_empty(),
            "{}: no labelled frames",
            path.display()
        );
        eprintln!(
            "{} labelled coded frames from {}",
            coded.frames.len(),
            dir.display()
        );
        coded.coded = coded.frames.len();
        Ok(coded)
    }

    /// A `side` crop of frame `i` at a random origin on the 8x8 block grid, transposed or not
    /// (never flipped: a flip would move the grid's phase), as a function of the frame.
    fn crop(&self, i: usize, side: i64, rng: &mut impl Rng) -> impl Fn(&Tensor) -> Tensor {
        let size = self.frames[i].size();
        let y = rng.random_range(0..=(size[1] - side) / BLOCK) * BLOCK;
        let x = rng.random_range(0..=(size[2] - side) / BLOCK) * BLOCK;
        let transpose = rng.random_bool(0.5);
        move |frame: &Tensor| {
            let crop = frame.narrow(1, y, side).narrow(2, x, side);
            if transpose {
                crop.transpose(1, 2)
            } else {
                crop
            }
        }
    }

    /// The frames' file names, in the order [`CodedFrames::sample`] numbers them.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The names of the frames a codec degraded (those before coding follow them).
    pub fn coded_names(&self) -> &[String] {
        &self.names[..self.coded]
    }

    /// Frame `i`'s label.
    pub fn level(&self, i: usize) -> f64 {
        self.levels[i]
    }

    /// Whether frame `i` is one before coding (opened with `uncoded`).
    pub fn is_uncoded(&self, i: usize) -> bool {
        i >= self.coded
    }

    /// How many frames before coding there are.
    pub fn uncoded(&self) -> usize {
        self.frames.len() - self.coded
    }

    /// `n` random estimator crops `[n, C, 128, 128]` in [0, 1] with the numbers of their frames.
    pub fn sample(&self, n: i64, rng: &mut impl Rng) -> (Tensor, Vec<usize>) {
        let mut crops = Vec::new();
        let mut frames = Vec::new();
        for _ in 0..n {
            let i = rng.random_range(0..self.frames.len());
            crops.push(self.crop(i, ESTIMATOR_CROP, rng)(&self.frames[i]));
            frames.push(i);
        }
        (to_unit(&crops), frames)
    }

    /// `n` crops `[n, C, patch, patch]` in [0, 1] of one random frame, coded and uncoded, and the
    /// frame's level: a group that a restorer runs at one level (frames opened with
    /// [`CodedFrames::open_pairs`]).
    pub fn pairs(&self, n: i64, patch: i64, rng: &mut impl Rng) -> (Tensor, Tensor, f64) {
        let i = rng.random_range(0..self.frames.len());
        let (mut coded, mut clean) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let crop = self.crop(i, patch, rng);
            coded.push(crop(&self.frames[i]));
            clean.push(crop(&self.clean[i]));
        }
        (to_unit(&coded), to_unit(&clean), self.levels[i])
    }
}

/// 8-bit `[C, H, W]` crops as one float batch in [0, 1].
fn to_unit(crops: &[Tensor]) -> Tensor {
    Tensor::stack(crops, 0).to_kind(Kind::Float) / 255.0
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::degrade::seeded_rng;

    #[test]
    fn pairs_are_the_same_crop_of_the_coded_and_the_uncoded_frame() {
        let dir = tempfile::tempdir().unwrap();
        let (coded, clean) = (dir.path().join("coded"), dir.path().join("clean"));
        for folder in [&coded, &clean] {
            std::fs::create_dir(folder).unwrap();
        }
        // The "coded" frame is the uncoded one plus 3 everywhere: a misplaced crop would differ
        // by more.
        let frame =
            image::GrayImage::from_fn(72, 40, |x, y| image::Luma([((x * 7 + y * 13) % 240) as u8]));
        frame.save(clean.join("f.png")).unwrap();
        let brighter =
            image::GrayImage::from_fn(72, 40, |x, y| image::Luma([frame.get_pixel(x, y).0[0] + 3]));
        brighter.save(coded.join("f.png")).unwrap();
        std::fs::write(coded.join(LABELS), r#"{"f.png": 30}"#).unwrap();
        let frames = CodedFrames::open_pairs(&coded, Colour::Gray, [1.0, 100.0], 24).unwrap();
        let mut rng = seeded_rng(1, 0);
        for _ in 0..20 {
            let (input, target, level) = frames.pairs(3, 24, &mut rng);
            assert_eq!(level, 30.0);
            assert_eq!(input.size(), [3, 1, 24, 24]);
            let difference = ((input - target) * 255.0).round();
            assert!(difference.eq(3.0).all().int64_value(&[]) == 1);
        }
        assert!(CodedFrames::open_pairs(&coded, Colour::Gray, [1.0, 100.0], 48).is_err());
        assert!(CodedFrames::open_pairs(&coded, Colour::Gray, [40.0, 100.0], 24).is_err());
    }

    /// A folder `coded` in `dir` holding one gray frame of 50 labelled 30, and beside it `clean`
    /// with the same frame before coding, 200: what the `coded` folder's path opens.
    pub fn one_frame(dir: &Path) -> PathBuf {
        let (coded, clean) = (dir.join("coded"), dir.join("clean"));
        for (folder, value) in [(&coded, 50), (&clean, 200)] {
            std::fs::create_dir(folder).unwrap();
            let frame = image::GrayImage::from_pixel(136, 128, image::Luma([value]));
            frame.save(folder.join("f.png")).unwrap();
        }
        std::fs::write(coded.join(LABELS), r#"{"f.png": 30}"#).unwrap();
        coded
    }

    #[test]
    fn uncoded_frames_follow_the_coded_ones_at_the_level_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [one_frame(dir.path())];
        let clean = dir.path().join("clean");
        let frames = CodedFrames::open(&dirs, Colour::Gray, [0.0, 100.0], Some(0.0)).unwrap();
        assert_eq!(frames.names(), ["f.png", "f.png (uncoded)"]);
        assert_eq!((frames.level(0), frames.level(1)), (30.0, 0.0));
        assert_eq!((frames.is_uncoded(0), frames.is_uncoded(1)), (false, true));
        assert_eq!(frames.uncoded(), 1);
        assert_eq!(frames.coded_names(), ["f.png"]);
        let (crops, numbers) = frames.sample(16, &mut seeded_rng(1, 0));
        assert!(numbers.contains(&0) && numbers.contains(&1), "{numbers:?}");
        for (crop, i) in crops.split(1, 0).iter().zip(numbers) {
            let expected = [50.0, 200.0][i] / 255.0;
            assert!((crop - expected).abs().max().double_value(&[]) < 1e-6);
        }
        // Without it the frames before coding are not read (nor needed).
        std::fs::remove_dir_all(&clean).unwrap();
        let coded_only = CodedFrames::open(&dirs, Colour::Gray, [0.0, 100.0], None).unwrap();
        assert_eq!(
            (coded_only.names(), coded_only.uncoded()),
            (&["f.png".to_string()][..], 0)
        );
        assert!(CodedFrames::open(&dirs, Colour::Gray, [0.0, 100.0], Some(0.0)).is_err());
    }
}
