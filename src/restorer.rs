//! A restorer loaded from a checkpoint, driven in the task's own level units.

use std::path::Path;

use tch::{Device, Kind, Tensor, nn};

use crate::checkpoint::{self, CheckpointError, Loaded, Metadata};
use crate::model::{HyperRes, Layout, RestorerConfig, crop_to, pad_to_even};
use crate::task::ModelKind;
use crate::{cpu_buffers, cuda_fp32};

/// A level that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("level {0} is not a finite number")]
pub struct InvalidLevel(pub f64);

/// Process-wide set-up for restoring frames on `device` (the element, `eval`, the benchmark):
/// on the CPU, frame-sized buffers are reused instead of mapped and faulted in for every frame; on
/// CUDA, cuDNN autotunes (a stream keeps its frame size) and fp32 is IEEE fp32, matching the CPU
/// (fp16/bf16 are the fast precisions).
pub fn prepare_device(device: Device) {
    match device {
        Device::Cpu => cpu_buffers::reuse_buffers(),
        _ => {
            tch::Cuda::cudnn_set_benchmark(true);
            cuda_fp32::allow_tf32(false);
        }
    }
}

/// The HyperRes network with its checkpoint metadata, on one device.
#[derive(Debug)]
pub struct Restorer {
    meta: Metadata,
    vs: nn::VarStore,
    net: HyperRes,
    layout: Layout,
}

impl Restorer {
    /// Loads a restorer checkpoint onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Restorer, CheckpointError> {
        let Loaded { meta, vs, net } =
            checkpoint::load(path, ModelKind::Restorer, device, |p, meta| {
                HyperRes::blank(p, config_of(meta))
            })?;
        Ok(Restorer {
            meta,
            vs,
            net,
            layout: Layout::fastest_for(device, Kind::Float),
        })
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
            let x = pad_to_even(&images.to_device(self.device()).to_kind(self.kind()));
            let x = self.layout.arrange(&x);
            crop_to(&self.net.forward(&x), h, w)
                .to_kind(Kind::Float)
                .clamp(0.0, 1.0)
        })
    }

    /// Like [`Restorer::restore`], one tile at a time (see [`Tiling`]); the result is assembled
    /// on the CPU, so device memory is bounded by the tile size.
    pub fn restore_tiled(&self, images: &Tensor, tiling: Tiling) -> Tensor {
        let size = images.size();
        let (h, w) = (size[2], size[3]);
        let Tiling { tile, overlap } = tiling.even();
        if tile == 0 || (h <= tile && w <= tile) {
            return self.restore(images);
        }
        let out = Tensor::zeros(size.as_slice(), (Kind::Float, Device::Cpu));
        for y in (0..h).step_by(tile as usize) {
            for x in (0..w).step_by(tile as usize) {
                let (th, tw) = (tile.min(h - y), tile.min(w - x));
                let (y0, x0) = ((y - overlap).max(0), (x - overlap).max(0));
                let (y1, x1) = ((y + th + overlap).min(h), (x + tw + overlap).min(w));
                let region = images.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0);
                let restored = self.restore(&region).to_device(Device::Cpu);
                let part = restored.narrow(2, y - y0, th).narrow(3, x - x0, tw);
                out.narrow(2, y, th).narrow(3, x, tw).copy_(&part);
            }
        }
        out
    }

    /// Convolves in `layout` until the next [`Restorer::set_kind`] (the same results, at a
    /// different speed).
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
    }

    /// The kind the network computes in.
    pub fn kind(&self) -> Kind {
        self.vs.kind()
    }

    /// Computes in `kind` from now on (f32, or f16/bf16 on a GPU), in the layout fastest for it;
    /// the cached weights are regenerated at the next level.
    pub fn set_kind(&mut self, kind: Kind) {
        self.vs.set_kind(kind);
        self.layout = Layout::fastest_for(self.device(), kind);
        self.net.clear_level();
    }
}

/// Processing a frame in tiles: output tiles of `tile` x `tile` pixels (0: the whole frame), each
/// computed from the tile grown by `overlap` pixels per side. Both are rounded up to even numbers
/// so that every tile keeps the network's stride-2 grid; with an overlap of at least the network's
/// reach (about 4 x blocks + 8 pixels) tiled and whole-frame results are the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tiling {
    pub tile: i64,
    pub overlap: i64,
}

impl Tiling {
    fn even(self) -> Tiling {
        Tiling {
            tile: (self.tile + 1) / 2 * 2,
            overlap: (self.overlap + 1) / 2 * 2,
        }
    }
}

/// The network size a restorer checkpoint's metadata describes.
pub fn config_of(meta: &Metadata) -> RestorerConfig {
    RestorerConfig {
        channels: meta.colour.channels(),
        width: meta.width,
        blocks: meta.blocks,
        input_skip: meta.input_skip,
    }
}
