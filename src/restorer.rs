//! A restorer loaded from a checkpoint, driven in the task's own level units.

use std::path::Path;

use tch::{Device, Tensor, nn};

use crate::checkpoint::{self, CheckpointError, Loaded, Metadata};
use crate::model::{HyperRes, RestorerConfig, crop_to, pad_to_even};
use crate::task::ModelKind;

/// A level that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("level {0} is not a finite number")]
pub struct InvalidLevel(pub f64);

/// The HyperRes network with its checkpoint metadata, on one device.
#[derive(Debug)]
pub struct Restorer {
    meta: Metadata,
    vs: nn::VarStore,
    net: HyperRes,
}

impl Restorer {
    /// Loads a restorer checkpoint onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Restorer, CheckpointError> {
        let Loaded { meta, vs, net } =
            checkpoint::load(path, ModelKind::Restorer, device, |p, meta| {
                HyperRes::new(p, config_of(meta))
            })?;
        Ok(Restorer { meta, vs, net })
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The network's variables (e.g. to save them again).
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn network(&self) -> &HyperRes {
        &self.net
    }

    /// Uses `level` (task units) from now on; regenerates the weights only when it changed and
    /// returns whether it did.
    pub fn set_level(&mut self, level: f64) -> Result<bool, InvalidLevel> {
        if !level.is_finite() {
            return Err(InvalidLevel(level));
        }
        Ok(self.net.set_level(level / self.meta.level_divisor))
    }

    /// Restores `images` `[N, C, H, W]` in [0, 1] (any size) at the current level: padded to even
    /// sizes, run, cropped back and clamped to [0, 1].
    ///
    /// # Panics
    /// If `set_level` was never called.
    pub fn restore(&self, images: &Tensor) -> Tensor {
        let size = images.size();
        let (h, w) = (size[2], size[3]);
        tch::no_grad(|| {
            let x = pad_to_even(&images.to_device(self.device()));
            crop_to(&self.net.forward(&x), h, w).clamp(0.0, 1.0)
        })
    }
}

/// The network size a restorer checkpoint's metadata describes.
pub fn config_of(meta: &Metadata) -> RestorerConfig {
    RestorerConfig {
        channels: meta.colour.channels(),
        width: meta.width,
        blocks: meta.blocks,
    }
}
