//! The networks: the HyperRes restorer with generated convolutions, and the level estimator.
//! Plain tch code over `nn::Path`, no GStreamer, shared by the element and the trainer.

mod estimator;
mod hyperres;
mod layout;
mod padding;

pub use estimator::{ESTIMATOR_CROP, Estimator, EstimatorConfig};
pub use hyperres::{BakedWeights, HyperRes, LevelBatching, RestorerConfig};
pub use layout::Layout;
pub use padding::{crop_to, pad_to_even};

use tch::nn;

/// The authors scale every Kaiming-normal initial weight by this.
const AUTHORS_INIT_SCALE: f64 = 0.1;

/// Where a network's parameters start.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// Drawn as the authors initialise them, for training.
    Drawn,
    /// Zeros, for a checkpoint to overwrite: building draws nothing from libtorch's one generator,
    /// which belongs to whoever seeds it (an application playing a stream, a test).
    Blank,
}

impl Start {
    /// `init` when drawn, zeros when blank.
    fn or_zeros(self, init: nn::Init) -> nn::Init {
        match self {
            Start::Drawn => init,
            Start::Blank => nn::Init::Const(0.0),
        }
    }
}

/// A 3x3 convolution with the authors' initialisation (Kaiming-normal over the fan-in, times 0.1;
/// zero bias), or zeros when blank.
fn conv3x3(p: nn::Path, c_in: i64, c_out: i64, stride: i64, start: Start) -> nn::Conv2D {
    let init = kaiming_normal_scaled(c_in * 9, AUTHORS_INIT_SCALE);
    conv3x3_init(p, c_in, c_out, stride, start.or_zeros(init))
}

/// A 3x3 convolution with zero bias and weights drawn from `init`.
fn conv3x3_init(p: nn::Path, c_in: i64, c_out: i64, stride: i64, init: nn::Init) -> nn::Conv2D {
    let config = nn::ConvConfig {
        stride,
        padding: 1,
        ws_init: init,
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    };
    nn::conv2d(p, c_in, c_out, 3, config)
}

/// Kaiming-normal for ReLU (gain sqrt 2) over `fan_in`, times `scale`.
fn kaiming_normal_scaled(fan_in: i64, scale: f64) -> nn::Init {
    nn::Init::Randn {
        mean: 0.0,
        stdev: scale * (2.0 / fan_in as f64).sqrt(),
    }
}
