//! The level estimator: a small CNN that reads a 128x128 crop and predicts the degradation level
//! in the task's own units (the authors' `NoiseNet`, with their parameter names).

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use super::conv3x3;

/// Side of the square crops the estimator reads.
pub const ESTIMATOR_CROP: i64 = 128;

/// Size of the estimator: image channels, feature width and number of [ResBlock, MaxPool] stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EstimatorConfig {
    pub channels: i64,
    pub width: i64,
    pub stages: i64,
}

impl Default for EstimatorConfig {
    /// The authors' released noise estimator.
    fn default() -> Self {
        EstimatorConfig {
            channels: 3,
            width: 64,
            stages: 4,
        }
    }
}

impl EstimatorConfig {
    /// Side of the last feature map: the head halves the crop, each stage halves it again.
    fn final_side(&self) -> i64 {
        (ESTIMATOR_CROP / 2) >> self.stages
    }

    /// Whether the architecture is usable on 128x128 crops (at least one pixel at the end).
    pub fn is_valid(&self) -> bool {
        (1..=6).contains(&self.stages) && (1..=4).contains(&self.channels) && self.width > 0
    }
}

#[derive(Debug)]
struct ResBlock {
    conv1: nn::Conv2D,
    conv2: nn::Conv2D,
}

/// The estimator network (parameters live in the `nn::Path` it was built on).
#[derive(Debug)]
pub struct Estimator {
    conv1: nn::Conv2D,
    stages: Vec<ResBlock>,
    fc: [nn::Linear; 3],
}

impl Estimator {
    /// Builds the network under `p`; parameter names follow the authors' (`conv_seq.{0,2,..}`,
    /// `fc_seq.{0,2,4}`: the odd indices were their parameter-free pooling and ReLU layers).
    pub fn new(p: &nn::Path, config: EstimatorConfig) -> Estimator {
        let EstimatorConfig {
            channels,
            width,
            stages,
        } = config;
        let seq = p / "conv_seq";
        let stages = (0..stages)
            .map(|i| {
                let block = &seq / (2 * i);
                ResBlock {
                    conv1: conv3x3(&block / "conv1", width, width, 1),
                    conv2: conv3x3(&block / "conv2", width, width, 1),
                }
            })
            .collect();
        let fc = p / "fc_seq";
        let side = config.final_side();
        let linear = |i: i64, n_in, n_out| nn::linear(&fc / i, n_in, n_out, Default::default());
        Estimator {
            conv1: conv3x3(p / "conv1", channels, width, 2),
            stages,
            fc: [
                linear(0, width * side * side, 32),
                linear(2, 32, 16),
                linear(4, 16, 1),
            ],
        }
    }

    /// Predicted level for each crop of `x` `[N, C, 128, 128]` in [0, 1]: `[N]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = self.conv1.forward(x);
        for stage in &self.stages {
            let inner = stage.conv1.forward(&h).relu();
            h = (stage.conv2.forward(&inner) + h).max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false);
        }
        let [fc0, fc1, fc2] = &self.fc;
        let h = fc0.forward(&h.flatten(1, -1)).relu();
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

/// Up to `grid` x `grid` evenly spread, distinct 128x128 crops of `image` `[C, H, W]`, stacked.
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

/// Pads `image` `[C, H, W]` to at least 128x128 (reflect where possible, else replicate).
fn pad_to_crop(image: &Tensor) -> Tensor {
    let mut out = image.shallow_clone();
    for dim in [2, 1] {
        let len = out.size()[dim];
        if len < ESTIMATOR_CROP {
            let missing = ESTIMATOR_CROP - len;
            let (before, after) = (missing / 2, missing - missing / 2);
            let pad = if dim == 2 {
                [before, after, 0, 0]
            } else {
                [0, 0, before, after]
            };
            // Reflection needs the pad narrower than the side; tiny images are replicated.
            out = if after < len {
                out.pad(pad, "reflect", None)
            } else {
                out.pad(pad, "replicate", None)
            };
        }
    }
    out
}
