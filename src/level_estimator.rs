//! A level estimator loaded from a checkpoint.

use std::path::Path;

use tch::{Device, Tensor, nn};

use crate::checkpoint::{self, CheckpointError, Loaded, Metadata};
use crate::frame;
use crate::model::{Estimator, EstimatorConfig};
use crate::task::{Colour, ModelKind};

/// Crops per side of the grid the estimate is the median over.
const GRID: i64 = 3;

/// The estimator network with its checkpoint metadata, on one device.
#[derive(Debug)]
pub struct LevelEstimator {
    meta: Metadata,
    vs: nn::VarStore,
    net: Estimator,
}

impl LevelEstimator {
    /// Loads an estimator checkpoint onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<LevelEstimator, CheckpointError> {
        let Loaded { meta, vs, net } =
            checkpoint::load(path, ModelKind::Estimator, device, |p, meta| {
                Estimator::blank(p, config_of(meta))
            })?;
        Ok(LevelEstimator { meta, vs, net })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// The network's variables (e.g. to save them again).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn network(&self) -> &Estimator {
        &self.net
    }

    /// The level (task units) of `image` `[C, H, W]` in [0, 1]: the median over a grid of crops,
    /// kept in the range the estimator learned (beyond it a reading is an extrapolation: JPEG at
    /// quality 95 read as 98 loses a tenth of a dB where 95 loses a twentieth).
    /// A gray estimator reads an RGB image's luma (what JPEG compresses as its Y channel).
    pub fn estimate(&self, image: &Tensor) -> f64 {
        let image = match (self.meta.colour, image.size()[0]) {
            (Colour::Gray, 3) => frame::luma(image),
            _ => image.shallow_clone(),
        };
        let [low, high] = self.meta.level_range;
        self.net
            .estimate(&image, GRID, self.vs.device())
            .clamp(low, high)
    }

    /// Whether the estimator can pick the level of the restorer `model` describes: the same task,
    /// and frames it can read (a gray estimator reads any, an RGB one only RGB). Says why not.
    pub fn check_drives(&self, model: &Metadata) -> Result<(), String> {
        let m = &self.meta;
        if m.task != model.task {
            return Err(format!(
                "the estimator measures {}, the model restores {}",
                m.task, model.task
            ));
        }
        if m.colour != model.colour && m.colour != Colour::Gray {
            return Err(format!(
                "the estimator reads {} frames, the model {}",
                m.colour, model.colour
            ));
        }
        Ok(())
    }
}

/// The network size an estimator checkpoint's metadata describes.
pub fn config_of(meta: &Metadata) -> EstimatorConfig {
    EstimatorConfig {
        architecture: meta.architecture,
        channels: meta.colour.channels(),
        width: meta.width,
        stages: meta.blocks,
    }
}
