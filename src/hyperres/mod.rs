//! The `hyperres` element: restores every frame with the HyperRes network generated for the
//! current level (set by an application, a control source, or estimated from the picture).

use gst::glib;
use gst::prelude::*;

use crate::cpu_bf16;

mod formats;
mod imp;
mod locations;

glib::wrapper! {
    pub struct HyperRes(ObjectSubclass<imp::HyperRes>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

/// Where the level comes from.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResMode")]
pub enum Mode {
    #[enum_value(name = "Manual: the level property", nick = "manual")]
    Manual = 0,
    #[enum_value(
        name = "Auto: estimated from the frames by the level estimator",
        nick = "auto"
    )]
    Auto = 1,
}

/// The restoration task (informational when a model is set: the checkpoint's task wins).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResTask")]
pub enum Task {
    #[enum_value(
        name = "Denoise (level: noise sigma on the 0..255 scale)",
        nick = "denoise"
    )]
    Denoise = 0,
    #[enum_value(
        name = "JPEG artifact removal (level: JPEG quality 1..100)",
        nick = "dejpeg"
    )]
    Dejpeg = 1,
    #[enum_value(
        name = "Super-resolution of bicubic-upscaled frames (level: scale factor)",
        nick = "sr"
    )]
    Sr = 2,
}

/// The arithmetic the network runs in.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResPrecision")]
pub enum Precision {
    #[enum_value(
        name = "Auto: fp16 on CUDA (the PSNR of fp32 at several times its frame rate); on a CPU bf16 where a probe finds it clearly faster than fp32 (AMX, Zen 4: about twice fp32's frame rate within 0.03 dB of its PSNR), else fp32",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(name = "fp32", nick = "fp32")]
    Fp32 = 1,
    #[enum_value(name = "fp16 (CUDA only)", nick = "fp16")]
    Fp16 = 2,
    #[enum_value(
        name = "bf16 (CUDA, or a CPU where it is faster: AMX, Zen 4)",
        nick = "bf16"
    )]
    Bf16 = 3,
}

impl Precision {
    /// The tensor kind the network computes in on `device`.
    pub(crate) fn kind_on(self, device: tch::Device) -> tch::Kind {
        match self {
            // README, "On a GPU": fp16 runs at 4-5x fp32's frame rate on an H200, within 0.01 dB
            // of its PSNR, activations far from fp16's limit (scripts/fp16_check.py). CPUs have no
            // fast fp16; bf16, with fp32's range, is within 0.025 dB of fp32's PSNR for every
            // bundled model (README, "Speed") and about twice as fast where the probe says so.
            Precision::Auto if device.is_cuda() => tch::Kind::Half,
            Precision::Auto if cpu_bf16::is_fast() => tch::Kind::BFloat16,
            Precision::Auto | Precision::Fp32 => tch::Kind::Float,
            Precision::Fp16 => tch::Kind::Half,
            Precision::Bf16 => tch::Kind::BFloat16,
        }
    }
}

/// How interlaced frames are restored.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstHyperResFieldMode")]
pub enum FieldMode {
    #[enum_value(
        name = "Fields: each field restored as a picture of its own (keeps motion apart)",
        nick = "fields"
    )]
    Fields = 0,
    #[enum_value(
        name = "Frame: the woven frame as one picture (static or progressive-segmented content)",
        nick = "frame"
    )]
    Frame = 1,
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "hyperres",
        gst::Rank::NONE,
        HyperRes::static_type(),
    )
}

#[cfg(test)]
mod tests {
    use super::Precision;
    use crate::cpu_bf16;
    use tch::{Device, Kind};

    #[test]
    fn auto_precision_is_fp16_on_cuda_and_the_faster_on_a_cpu() {
        assert_eq!(Precision::Auto.kind_on(Device::Cuda(1)), Kind::Half);
        let faster = if cpu_bf16::is_fast() {
            Kind::BFloat16
        } else {
            Kind::Float
        };
        assert_eq!(Precision::Auto.kind_on(Device::Cpu), faster);
        // Chosen precisions hold on either device (the element refuses fp16 on a CPU itself).
        for device in [Device::Cpu, Device::Cuda(0)] {
            assert_eq!(Precision::Fp32.kind_on(device), Kind::Float);
            assert_eq!(Precision::Fp16.kind_on(device), Kind::Half);
            assert_eq!(Precision::Bf16.kind_on(device), Kind::BFloat16);
        }
    }
}
