//! The memory layout the networks convolve in.

use tch::{Device, Kind, Tensor};

/// NCHW or NHWC strides for the same `[N, C, H, W]` tensor (the same results, at different speeds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// NHWC strides: what oneDNN and cuDNN's tensor-core kernels are fastest with (on this CPU a
    /// bf16 training step takes half the time it takes in NCHW), and what the element's frame
    /// reader produces.
    ChannelsLast,
    /// PyTorch's default layout, the one cuDNN's IEEE fp32 kernels are fastest in.
    Nchw,
}

named_enum!(
    Layout,
    "layout",
    [
        (Layout::Nchw, "nchw"),
        (Layout::ChannelsLast, "channels-last")
    ]
);

impl Layout {
    /// The layout convolutions of `kind` on `device` are fastest in: NCHW for fp32 on CUDA (the
    /// bundled denoiser on a 1080p frame on an H200, 2026-12-04: 26.5 ms, against 29.6 in
    /// channels-last and PyTorch eager's 26.6 in NCHW), channels-last for fp16 and bf16 there
    /// (7.0 against 8.2 ms in NCHW) and on a CPU.
    pub fn fastest_for(device: Device, kind: Kind) -> Layout {
        if device.is_cuda() && kind == Kind::Float {
            Layout::Nchw
        } else {
            Layout::ChannelsLast
        }
    }

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
