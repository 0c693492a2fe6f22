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
    /// `x` (`[N, C, H, W]`) with exactly this layout's strides; convolutions keep the layout of
    /// their input.
    pub fn arrange(self, x: &Tensor) -> Tensor {
        match self {
            // Through a flat view: `contiguous` keeps any stride of a size-1 dimension, and with
            // an unusual batch stride (a frame read from packed pixels has one) torch no longer
            // sees channels-last and convolves in NCHW, reordering every activation (measured:
            // bf16 frames in the element took 2.4 s at 720p instead of 0.4 s).
            Layout::ChannelsLast => {
                let size = x.size();
                let nhwc = x.permute([0, 2, 3, 1]).contiguous();
                nhwc.view([-1])
                    .view([size[0], size[2], size[3], size[1]])
                    .permute([0, 3, 1, 2])
            }
            Layout::Nchw => x.contiguous(),
        }
    }
}
