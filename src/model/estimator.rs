//! The level estimators: small CNNs that read a 128x128 crop and predict the degradation level in
//! the task's own units. `NoiseNet` is the authors' (with their parameter names); `BlockGrid` is
//! ours for JPEG quality.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::{Start, conv3x3, conv3x3_init, kaiming_normal_scaled};
use crate::task::Architecture;

/// Side of the square crops the estimator reads.
pub const ESTIMATOR_CROP: i64 = 128;

/// Side of a JPEG block: crops start on this grid so that a block-aware estimator sees it.
const JPEG_BLOCK: i64 = 8;

/// Size of the estimator: image channels, feature width and depth (NoiseNet: [ResBlock, MaxPool]
/// stages; BlockGrid: full-resolution convolutions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimatorConfig {
    pub architecture: Architecture,
    pub channels: i64,
    pub width: i64,
    pub stages: i64,
}

impl Default for EstimatorConfig {
    /// The authors' released noise estimator.
    fn default() -> Self {
        EstimatorConfig {
            architecture: Architecture::NoiseNet,
            channels: 3,
            width: 64,
            stages: 4,
        }
    }
}

impl EstimatorConfig {
    /// Our JPEG-quality estimator for `channels`.
    pub fn block_grid(channels: i64) -> Self {
        EstimatorConfig {
            architecture: Architecture::BlockGrid,
            channels,
            width: 32,
            stages: 3,
        }
    }

    /// Inputs of the first fully connected layer.
    fn features(&self) -> i64 {
        match self.architecture {
            // The head halves the crop, each stage halves it again.
            Architecture::NoiseNet => self.width * ((ESTIMATOR_CROP / 2) >> self.stages).pow(2),
            _ => self.width * (JPEG_BLOCK * JPEG_BLOCK + 1),
        }
    }
}

#[derive(Debug)]
struct ResBlock {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
}

/// The convolutional part of each architecture.
#[derive(Debug)]
enum Body {
    NoiseNet {
        conv1: nn::Conv2D,
        stages: Vec<ResBlock>,
    },
    BlockGrid {
        convs: Vec<nn::Conv2D>,
    },
}

/// An estimator network (parameters live in the `nn::Path` it was built on).
#[derive(Debug)]
pub struct Estimator {
    body: Body,
    fc: [nn::Linear; 3],
}

impl Estimator {
    /// Builds the network under `p`, initialised for training. NoiseNet's parameter names are the
    /// authors' (`conv_seq.{0,2,..}`, `fc_seq.{0,2,4}`: the odd indices were their parameter-free
    /// pooling and ReLU layers); BlockGrid shares the head's names.
    pub fn new(p: &nn::Path, config: EstimatorConfig) -> Estimator {
        Estimator::build(p, config, Start::Drawn)
    }

    /// Builds the network under `p` with zeros for a checkpoint to fill, drawing nothing.
    pub fn blank(p: &nn::Path, config: EstimatorConfig) -> Estimator {
        Estimator::build(p, config, Start::Blank)
    }

    fn build(p: &nn::Path, config: EstimatorConfig, start: Start) -> Estimator {
        let EstimatorConfig {
            channels, width, ..
        } = config;
        let seq = p / "conv_seq";
        let body = match config.architecture {
            Architecture::NoiseNet => Body::NoiseNet {
                conv1: conv3x3(p / "conv1", channels, width, 2, start),
                stages: (0..config.stages)
                    .map(|i| {
                        let block = &seq / (2 * i);
                        ResBlock {
                            conv1: conv3x3(&block / "conv1", width, width, 1, start),
                            conv2: conv3x3(&block / "conv2", width, width, 1, start),
                        }
                    })
                    .collect(),
            },
            // Full-scale Kaiming weights: JPEG traces are a few grey levels, and the authors'
            // x0.1 would leave them far below the ReLUs' biases.
            Architecture::BlockGrid => Body::BlockGrid {
                convs: (0..config.stages)
                    .map(|i| {
                        let c_in = if i == 0 { channels } else { width };
                        let init = start.or_zeros(kaiming_normal_scaled(c_in * 9, 1.0));
                        conv3x3_init(&seq / i, c_in, width, 1, init)
                    })
                    .collect(),
            },
            Architecture::HyperRes => panic!("the HyperRes restorer is not an estimator"),
        };
        let fc = p / "fc_seq";
        let linear_config = match start {
            Start::Drawn => nn::LinearConfig::default(),
            // The default bias init (`None`) draws uniformly; blank needs an explicit zero.
            Start::Blank => nn::LinearConfig {
                ws_init: nn::Init::Const(0.0),
                bs_init: Some(nn::Init::Const(0.0)),
                ..Default::default()
            },
        };
        let linear = |i: i64, n_in, n_out| nn::linear(&fc / i, n_in, n_out, linear_config);
        Estimator {
            body,
            fc: [
                linear(0, config.features(), 32),
                linear(2, 32, 16),
                linear(4, 16, 1),
            ],
        }
    }

    /// Sets the output bias so that training starts by predicting `level` rather than about 0
    /// (which would first drive every layer towards the range's middle, killing ReLUs).
    pub fn start_at(&mut self, level: f64) {
        if let Some(bias) = &mut self.fc[2].bs {
            tch::no_grad(|| {
                let _ = bias.fill_(level);
            });
        }
    }

    /// Predicted level for each crop of `x` `[N, C, 128, 128]` in [0, 1]: `[N]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let h = match &self.body {
            Body::NoiseNet { conv1, stages } => {
                let mut h = conv1.forward(x);
                for stage in stages {
                    let inner = stage.conv1.forward(&h).relu();
                    h = (stage.conv2.forward(&inner) + h).max_pool2d(
                        [2, 2],
                        [2, 2],
                        [0, 0],
                        [1, 1],
                        false,
                    );
                }
                h.flatten(1, -1)
            }
            Body::BlockGrid { convs } => {
                let mut h = x - 0.5;
                for conv in convs {
                    h = conv.forward(&h).relu();
                }
                block_phase_log_mean(&h)
            }
        };
        let [fc0, fc1, fc2] = &self.fc;
        let h = fc0.forward(&h).relu();
        fc2.forward(&fc1.forward(&h).relu()).view([-1])
    }

    /// The level of a whole image `[C, H, W]` in [0, 1]: the median over up to `grid` x `grid`
    /// evenly spread 128x128 crops (images smaller than a crop are padded by reflection).
    pub fn estimate(&self, image: &Tensor, grid: i64, device: Device) -> f64 {
        let crops = grid_crops(image, grid).to_device(device);
        tch::no_grad(|| self.forward(&crops))
            .median()
            .double_value(&[])
    }
}

/// `[N, C, H, W]` features (H, W multiples of 8) averaged over the 8x8 blocks for each position
/// inside a block, in logarithms so that the layers above compare them as ratios (blocking is
/// the edge at a block's border relative to those inside it). Per channel: the 64 positions'
/// contrasts to their mean (what the picture does not change), then the mean: `[N, C * 65]`.
fn block_phase_log_mean(h: &Tensor) -> Tensor {
    let [n, c, height, width] = h.size()[..] else {
        panic!("features must be [N, C, H, W]")
    };
    let b = JPEG_BLOCK;
    let phases = h
        .view([n, c, height / b, b, width / b, b])
        .mean_dim(&[2i64, 4][..], false, Kind::Float)
        .clamp_min(1e-4)
        .log()
        .view([n, c, b * b]);
    let level = phases.mean_dim(-1, true, Kind::Float);
    Tensor::cat(&[&phases - &level, level], -1).flatten(1, -1)
}

/// Up to `grid` x `grid` evenly spread, distinct 128x128 crops of `image` `[C, H, W]` starting on
/// the JPEG block grid, stacked.
fn grid_crops(image: &Tensor, grid: i64) -> Tensor {
    let image = pad_to_crop(image);
    let [_, h, w] = image.size()[..] else {
        panic!("estimate expects a [C, H, W] image")
    };
    let starts = |len: i64| -> Vec<i64> {
        let n = grid.clamp(1, 1 + (len - ESTIMATOR_CROP) / (ESTIMATOR_CROP / 2));
        let span = len - ESTIMATOR_CROP;
        (0..n)
            .map(|i| if n == 1 { span / 2 } else { i * span / (n - 1) })
            .map(|start| start / JPEG_BLOCK * JPEG_BLOCK)
            .collect()
    };
    let crops: Vec<Tensor> = starts(h)
        .iter()
        .flat_map(|&y| starts(w).into_iter().map(move |x| (y, x)))
        .map(|(y, x)| {
            image
                .narrow(1, y, ESTIMATOR_CROP)
                .narrow(2, x, ESTIMATOR_CROP)
        })
        .collect();
    Tensor::stack(&crops, 0)
}

/// Pads `image` `[C, H, W]` at its bottom and right (keeping the JPEG grid) to at least 128x128
/// (reflect where possible, else replicate).
fn pad_to_crop(image: &Tensor) -> Tensor {
    let mut out = image.shallow_clone();
    for dim in [2, 1] {
        let len = out.size()[dim];
        if len < ESTIMATOR_CROP {
            let missing = ESTIMATOR_CROP - len;
            let pad = if dim == 2 {
                [0, missing, 0, 0]
            } else {
                [0, 0, 0, missing]
            };
            // Reflection needs the pad narrower than the side; tiny images are replicated.
            out = if missing < len {
                out.pad(pad, "reflect", None)
            } else {
                out.pad(pad, "replicate", None)
            };
        }
    }
    out
}
