//! The memory layout the networks convolve in.

use tch::Tensor;

/// NCHW or NHWC strides for the same `[N, C, H, W]` tensor (the same results, at different speeds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// NHWC strides: what oneDNN and cuDNN's tensor-core kernels are fastest with (on this CPU a
    /// bf16 training step takes half the time it takes in NCHW), and what the element's frame
    /// reader produces.
    #[default]
    ChannelsLast,
    /// PyTorch's default layout (whether cuDNN's IEEE fp32 kernels prefer it is measured by
    /// `hyperres-bench worker --nchw`).
    Nchw,
}

impl Layout {
    /// `x` with this layout's strides; convolutions keep the layout of their input.
    pub fn arrange(self, x: &Tensor) -> Tensor {
        match self {
            Layout::ChannelsLast => x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]),
            Layout::Nchw => x.contiguous(),
        }
    }
}
