//! Frames a real codec degraded, labelled with the level that restores each best
//! (scripts/h264_frames.py makes them, scripts/h264_labels.py labels them): what the estimator
//! learns codecs from, since their artifacts cannot be synthesised per crop as JPEG's are.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, ensure};
use gsthyperres::model::ESTIMATOR_CROP;
use gsthyperres::task::Colour;
use rand::{Rng, RngExt};
use tch::{Kind, Tensor};

use crate::data::decode;

/// The block grid the estimator reads crops on (its `JPEG_BLOCK`; H.264's transforms tile it too).
const BLOCK: i64 = 8;

/// The name of the labels file in a folder of coded frames: `{"frame.png": level, ...}`.
pub const LABELS: &str = "levels.json";

pub struct CodedFrames {
    frames: Vec<Tensor>,
    levels: Vec<f64>,
}

impl CodedFrames {
    /// The labelled frames of `dir` (each at least one estimator crop), checked to lie in
    /// `low..=high`, the estimator's range.
    pub fn open(dir: &Path, colour: Colour, [low, high]: [f64; 2]) -> anyhow::Result<Self> {
        let path = dir.join(LABELS);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (scripts/h264_labels.py writes it)",
                path.display()
            )
        })?;
        let labels: BTreeMap<String, f64> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a map of file names to levels", path.display()))?;
        let (mut frames, mut levels) = (Vec::new(), Vec::new());
        for (name, level) in labels {
            ensure!(
                (low..=high).contains(&level),
                "{}: {name}'s level {level} is outside the estimator's range {low}..{high}",
                path.display()
            );
            let frame = decode(&dir.join(&name), colour)
                .with_context(|| format!("{}: reading its frame {name}", path.display()))?;
            let size = frame.size();
            ensure!(
                size[1] >= ESTIMATOR_CROP && size[2] >= ESTIMATOR_CROP,
                "{}: {name} is smaller than the {ESTIMATOR_CROP}px crop",
                dir.display()
            );
            frames.push(frame);
            levels.push(level);
        }
        ensure!(!frames.is_empty(), "{}: no labelled frames", path.display());
        Ok(CodedFrames { frames, levels })
    }

    pub fn count(&self) -> usize {
        self.frames.len()
    }

    /// `n` random estimator crops `[n, C, 128, 128]` in [0, 1] with their frames' levels. Crops
    /// start on the 8x8 block grid and are at most transposed: a flip would move the grid's phase.
    pub fn sample(&self, n: i64, rng: &mut impl Rng) -> (Tensor, Vec<f64>) {
        let mut crops = Vec::new();
        let mut levels = Vec::new();
        for _ in 0..n {
            let i = rng.random_range(0..self.frames.len());
            let size = self.frames[i].size();
            let y = rng.random_range(0..=(size[1] - ESTIMATOR_CROP) / BLOCK) * BLOCK;
            let x = rng.random_range(0..=(size[2] - ESTIMATOR_CROP) / BLOCK) * BLOCK;
            let crop = self.frames[i]
                .narrow(1, y, ESTIMATOR_CROP)
                .narrow(2, x, ESTIMATOR_CROP);
            crops.push(if rng.random_bool(0.5) {
                crop.transpose(1, 2)
            } else {
                crop
            });
            levels.push(self.levels[i]);
        }
        (
            Tensor::stack(&crops, 0).to_kind(Kind::Float) / 255.0,
            levels,
        )
    }
}
